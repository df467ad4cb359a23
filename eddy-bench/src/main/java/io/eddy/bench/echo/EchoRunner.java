package io.eddy.bench.echo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The side-by-side echo benchmark: starts each echo server in turn (a minimal C epoll server, the floor;
 * Eddy raw and streams, also on the native epoll backend once it exists; Netty 4.2 NIO, epoll and io_uring;
 * a plain java.nio server), runs the same {@code eddy bench} scenarios against each, five times in
 * interleaved rounds (each round starting with the next server, so no server always follows the same one),
 * and writes the medians as a markdown table, a JSON file and a PNG chart.
 * The server is pinned to CPU 0 and the client to CPU 1 where {@code taskset} exists. For every run it
 * also takes the server's CPU time (user and system, {@code /proc/PID/stat}) over the measured interval,
 * and for the idle scenario the server's resident memory ({@code /proc/PID/status} VmRSS) after a first
 * hold of the connections (released) and while the client holds them again.
 *
 * <p>The C server ({@code src/main/c/echo_epoll.c}) is compiled with {@code cc -O2} into the jar's
 * directory ({@code eddy-bench/target}) at the start of every run that includes it. A server that exits
 * before it listens, with an {@link IllegalStateException} on its stderr (Eddy's {@code -Deddy.backend=epoll}
 * before that backend exists, Netty io_uring where the kernel refuses it), is reported as unavailable with
 * that message and skipped for the rest of the run; any other early exit stops the run.
 *
 * <pre>{@code
 * java -cp eddy-bench/target/benchmarks.jar io.eddy.bench.echo.EchoRunner \
 *      --eddy-jar eddy-cli/target/eddy.jar --out eddy-bench/results/echo
 * }</pre>
 *
 * Options: {@code --rounds N} (5), {@code --duration S} and {@code --warmup S} in seconds (3, 1),
 * {@code --idle N} connections (10000), {@code --servers a,b} (all), {@code --scenarios 1,2} (all),
 * {@code --eddy-jvm "FLAGS"} and {@code --netty-jvm "FLAGS"}: more JVM flags for every Eddy or Netty server
 * (split at spaces; e.g. {@code --netty-jvm -Dio.netty.transport.noNative=true} shows io_uring's "unavailable" path);
 * {@code --render FILE} writes the tables and chart again from an earlier run's JSON, running nothing.
 */
public final class EchoRunner {

    private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");
    private static final long TICKS_PER_SECOND = 100; // USER_HZ: /proc counts CPU time in 1/100 s on Linux

    /**
     * @param key     the name in {@code --servers} and in the JSON
     * @param name    the name in the tables
     * @param missing what an {@link IllegalStateException} before listening means, e.g. "backend not available yet"
     */
    record Server(String key, String name, List<String> command, String missing) {
    }

    /** The servers, in the order of the tables; the default of {@code --servers}. */
    static final List<String> ALL_SERVERS = List.of("c-epoll", "eddy-raw", "eddy-stream", "eddy-raw-epoll",
            "eddy-stream-epoll", "netty-nio", "netty-epoll", "netty-io_uring", "plain-nio");

    /** @param label a short title, for the chart */
    record Scenario(int number, String title, String label, List<String> args, String unit) {
    }

    /**
     * One client run's figures. cpuMicrosPerOp is the server's CPU time (user + system) over the measured
     * interval per operation, userMicrosPerOp the user-space part of it (NaN in results written before it was
     * recorded): the kernel's loopback TCP work is most of the total and the same for every server, so the
     * user part is where the servers' own code shows.
     */
    record Run(String server, int scenario, double opsPerSecond, double p50, double p99, double cpuMicrosPerOp,
               double userMicrosPerOp, long errors) {
    }

    record IdleRun(String server, int held, int kept, long baseKb, long heldKb) {
        double bytesPerConnection() {
            return held == 0 ? 0 : (heldKb - baseKb) * 1024.0 / held;
        }
    }

    private final Map<String, String> options;
    private final Path eddyJar;
    private final Path benchJar;
    private final Path out;
    private final boolean pin;
    private final List<Run> runs = new ArrayList<>();
    private final List<IdleRun> idleRuns = new ArrayList<>();
    /** Server key to why it could not run (in the order found). */
    private final Map<String, String> unavailable = new LinkedHashMap<>();

    private EchoRunner(Map<String, String> options) throws IOException {
        this.options = options;
        eddyJar = Path.of(option("eddy-jar", "eddy-cli/target/eddy.jar")).toAbsolutePath();
        benchJar = Path.of(EchoRunner.class.getProtectionDomain().getCodeSource().getLocation().getPath()).toAbsolutePath();
        out = Path.of(option("out", "eddy-bench/results/echo"));
        pin = Runtime.getRuntime().availableProcessors() >= 2 && onPath("taskset");
        if (!Files.isRegularFile(eddyJar)) {
            throw new IOException("no eddy.jar at " + eddyJar + " (build it: mvn -q package -DskipTests)");
        }
        Files.createDirectories(out);
    }

    private String option(String name, String fallback) {
        return options.getOrDefault(name, fallback);
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value pairs, got " + args[i]);
            }
            options.put(args[i].substring(2), args[i + 1]);
        }
        EchoRunner runner = new EchoRunner(options);
        if (options.containsKey("render")) {
            runner.render(Path.of(options.get("render")));
        } else {
            runner.runAll();
        }
    }

    /** Writes the tables and the chart again from an earlier run's echo-bench.json (e.g. after a report change). */
    private void render(Path json) throws IOException {
        String text = Files.readString(json);
        Matcher run = Pattern.compile("\\{\"server\":\"([^\"]+)\",\"scenario\":(\\d+),\"opsPerSecond\":([0-9.]+),"
                + "\"p50\":([0-9.]+),\"p99\":([0-9.]+),\"cpuMicrosPerOp\":([0-9.]+),"
                + "(?:\"userMicrosPerOp\":([0-9.]+|NaN),)?\"errors\":(\\d+)}").matcher(text);
        while (run.find()) {
            runs.add(new Run(renamed(run.group(1)), Integer.parseInt(run.group(2)), Double.parseDouble(run.group(3)),
                    Double.parseDouble(run.group(4)), Double.parseDouble(run.group(5)), Double.parseDouble(run.group(6)),
                    run.group(7) == null ? Double.NaN : Double.parseDouble(run.group(7)), Long.parseLong(run.group(8))));
        }
        Matcher idle = Pattern.compile("\\{\"server\":\"([^\"]+)\",\"held\":(\\d+),\"kept\":(\\d+),"
                + "\"rssBeforeKb\":(\\d+),\"rssHeldKb\":(\\d+)").matcher(text);
        while (idle.find()) {
            idleRuns.add(new IdleRun(renamed(idle.group(1)), Integer.parseInt(idle.group(2)), Integer.parseInt(idle.group(3)),
                    Long.parseLong(idle.group(4)), Long.parseLong(idle.group(5))));
        }
        Matcher missing = Pattern.compile("\\{\"unavailable\":\"([^\"]+)\",\"why\":\"([^\"]*)\"}").matcher(text);
        while (missing.find()) {
            unavailable.put(missing.group(1), missing.group(2));
        }
        Matcher machine = Pattern.compile("\"machine\":\"([^\"]*)\",\"command\":\"([^\"]*)\"").matcher(text);
        if (!machine.find() || runs.isEmpty()) {
            throw new IOException(json + " holds no EchoRunner results");
        }
        List<Server> servers = servers().stream().filter(s -> runs.stream().anyMatch(r -> r.server().equals(s.key()))
                || idleRuns.stream().anyMatch(r -> r.server().equals(s.key())) || unavailable.containsKey(s.key())).toList();
        int rounds = (int) Math.round((double) runs.size()
                / runs.stream().map(r -> r.server() + "/" + r.scenario()).distinct().count());
        boolean pinned = !text.contains("\"pinned\":false");
        Report report = new Report(servers, scenarios(), runs, idleRuns, unavailable, machine.group(1), machine.group(2),
                rounds, pinned);
        Files.writeString(out.resolve("echo-bench.md"), report.markdown());
        Chart.write(report, out.resolve("echo-bench.png"));
        System.out.println(report.markdown());
    }

    /** Server keys of results written before the Eddy epoll variants: "eddy" is now "eddy-stream". */
    private static String renamed(String key) {
        return key.equals("eddy") ? "eddy-stream" : key;
    }

    // ================================================================== what runs

    private List<Server> servers() {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> jvm = List.of(java, "-Xms512m", "-Xmx512m");
        List<String> eddyBase = concat(jvm, flags("eddy-jvm"));
        // eddy.jar's manifest grants epoll's flags, so java -jar picks epoll: the nio rows ask for nio.
        List<String> eddy = concat(eddyBase, "-Deddy.backend=nio");
        List<String> eddyEpoll = concat(eddyBase, "-Deddy.backend=epoll");
        List<String> netty = concat(jvm, "--sun-misc-unsafe-memory-access=allow", "--enable-native-access=ALL-UNNAMED",
                "-Dio.netty.leakDetection.level=disabled");
        netty = concat(netty, flags("netty-jvm"));
        netty = concat(netty, "-cp", benchJar.toString());
        String eddyJar = this.eddyJar.toString();
        String notYet = "epoll backend not available";
        List<Server> all = List.of(
                new Server("c-epoll", "C epoll (floor)", List.of(cServer().toString(), "0"), "unavailable"),
                new Server("eddy-raw", "Eddy raw (--raw)", concat(eddy, "-jar", eddyJar, "echo", "--raw", "--quiet", "--port", "0"), "unavailable"),
                new Server("eddy-stream", "Eddy streams", concat(eddy, "-jar", eddyJar, "echo", "--quiet", "--port", "0"), "unavailable"),
                new Server("eddy-raw-epoll", "Eddy raw, epoll backend", concat(eddyEpoll, "-jar", eddyJar, "echo", "--raw", "--quiet", "--port", "0"), notYet),
                new Server("eddy-stream-epoll", "Eddy streams, epoll backend", concat(eddyEpoll, "-jar", eddyJar, "echo", "--quiet", "--port", "0"), notYet),
                new Server("netty-nio", "Netty 4.2 NIO", concat(netty, NettyEchoServer.class.getName(), "nio", "0"), "unavailable"),
                new Server("netty-epoll", "Netty 4.2 epoll", concat(netty, NettyEchoServer.class.getName(), "epoll", "0"), "unavailable"),
                new Server("netty-io_uring", "Netty 4.2 io_uring", concat(netty, NettyEchoServer.class.getName(), "io_uring", "0"), "io_uring unavailable here"),
                new Server("plain-nio", "plain java.nio", concat(jvm, "-cp", benchJar.toString(), PlainNioEchoServer.class.getName(), "0"), "unavailable"));
        List<String> wanted = new ArrayList<>();
        for (String key : option("servers", String.join(",", ALL_SERVERS)).split(",")) {
            String k = renamed(key.strip());
            if (!ALL_SERVERS.contains(k)) {
                throw new IllegalArgumentException("unknown server '" + key + "' in --servers (known: "
                        + String.join(",", ALL_SERVERS) + ")");
            }
            wanted.add(k);
        }
        return all.stream().filter(s -> wanted.contains(s.key())).toList();
    }

    /** The option's JVM flags, split at spaces (none if it is not given). */
    private String[] flags(String option) {
        String value = option(option, "").strip();
        return value.isEmpty() ? new String[0] : value.split("\\s+");
    }

    /** The C server's binary: next to benchmarks.jar, in eddy-bench/target. */
    private Path cServer() {
        return benchJar.resolveSibling("echo_epoll");
    }

    /**
     * Compiles src/main/c/echo_epoll.c with {@code cc -O2} (every run, so the binary always matches the source).
     *
     * @throws IOException if there is no cc, no source, or it does not compile
     */
    private void buildCServer() throws IOException, InterruptedException {
        Path source = benchJar.getParent().resolveSibling("src").resolve("main/c/echo_epoll.c");
        if (!onPath("cc")) {
            throw new IOException("no 'cc' on PATH: the C epoll echo server (c-epoll, the floor) is compiled with"
                    + " 'cc -O2' at run time; install a C compiler (e.g. apt-get install gcc) or leave c-epoll out of --servers");
        }
        if (!Files.isRegularFile(source)) {
            throw new IOException("no C server source at " + source + " (expected beside eddy-bench/target)");
        }
        Process cc = new ProcessBuilder("cc", "-O2", "-Wall", "-o", cServer().toString(), source.toString())
                .redirectErrorStream(true).start();
        String output = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (cc.waitFor() != 0) {
            throw new IOException("cc -O2 " + source + " failed:\n" + output);
        }
        log("built " + cServer() + " with cc -O2" + (output.isBlank() ? "" : ": " + output.strip()));
    }

    private List<Scenario> scenarios() {
        List<Scenario> all = List.of(
                new Scenario(1, "1 connection, 64 B, depth 1 (latency)", "1 conn, 64 B", List.of("--connections", "1", "--size", "64"), "msg"),
                new Scenario(2, "50 connections, 64 B, depth 1", "50 conns, 64 B", List.of("--connections", "50", "--size", "64"), "msg"),
                new Scenario(3, "50 connections, 64 B, depth 16 (throughput)", "50 conns x 16, 64 B", List.of("--connections", "50", "--size", "64", "--depth", "16"), "msg"),
                new Scenario(4, "10 connections, 16 KiB, depth 4 (bandwidth)", "10 conns x 4, 16 KiB", List.of("--connections", "10", "--size", "16384", "--depth", "4"), "msg"),
                new Scenario(5, "connect storm, 16 at a time", "connect storm", List.of("--connect-storm", "--connections", "16"), "conn"),
                new Scenario(6, option("idle", "10000") + " idle connections: server memory", "idle", List.of(), "conn"));
        List<String> wanted = List.of(option("scenarios", "1,2,3,4,5,6").split(","));
        return all.stream().filter(s -> wanted.contains(String.valueOf(s.number()))).toList();
    }

    private void runAll() throws Exception {
        int rounds = Integer.parseInt(option("rounds", "5"));
        List<Server> servers = servers();
        List<Scenario> scenarios = scenarios();
        if (servers.stream().anyMatch(s -> s.key().equals("c-epoll"))) {
            buildCServer();
        }
        long started = System.nanoTime();
        log(pin ? "each server pinned to CPU 0 and each client to CPU 1 (taskset)"
                : "NOT pinned (no taskset, or fewer than 2 CPUs): server and client share the CPUs");
        for (int round = 1; round <= rounds; round++) {
            List<Server> order = new ArrayList<>(servers);
            Collections.rotate(order, -(round - 1));
            for (Server server : order) {
                if (unavailable.containsKey(server.key())) {
                    continue;
                }
                try {
                    List<Scenario> load = scenarios.stream().filter(s -> s.number() <= 5).toList();
                    if (!load.isEmpty()) {
                        runLoad(server, load, round);
                    }
                    if (scenarios.stream().anyMatch(s -> s.number() == 6)) {
                        runIdle(server, round);
                    }
                } catch (Unavailable e) {
                    unavailable.put(server.key(), server.missing() + ": " + e.getMessage());
                    log("skipped " + server.name() + " from now on: " + unavailable.get(server.key()));
                }
            }
        }
        log(String.format(Locale.ROOT, "all runs took %.1f min", (System.nanoTime() - started) / 60e9));
        Report report = new Report(servers, scenarios, runs, idleRuns, unavailable, machine(), commandLine(), rounds, pin);
        Files.writeString(out.resolve("echo-bench.md"), report.markdown());
        Files.writeString(out.resolve("echo-bench.json"), report.json());
        Chart.write(report, out.resolve("echo-bench.png"));
        System.out.println(report.markdown());
        log("wrote " + out.resolve("echo-bench.md") + ", echo-bench.json, echo-bench.png");
    }

    /** One server process for the load scenarios of one round: a warm-up run, then each scenario once. */
    private void runLoad(Server server, List<Scenario> load, int round) throws Exception {
        try (ServerProcess p = ServerProcess.start(pinned("0", server.command()))) {
            log("round " + round + ": " + server.name() + " (pid " + p.pid() + ", port " + p.port() + ")");
            client(p, List.of("--connections", "50", "--depth", "16"), "1", "2"); // JIT warm-up, not recorded
            for (Scenario s : load) {
                ClientResult r = client(p, s.args(), option("warmup", "1"), option("duration", "3"));
                double perOp = 1e6 / TICKS_PER_SECOND / Math.max(1, r.operations);
                Run run = new Run(server.key(), s.number(), r.number("operationsPerSecond"), r.number("p50"),
                        r.number("p99"), r.cpu.total() * perOp, r.cpu.user() * perOp, (long) r.number("errors"));
                runs.add(run);
                log(String.format(Locale.ROOT, "  %d. %-45s %,12.0f %s/s  p99 %8.1f us  server CPU %6.2f us/%s (user %.2f)%s",
                        s.number(), s.title(), run.opsPerSecond(), s.unit(), run.p99(), run.cpuMicrosPerOp(), s.unit(),
                        run.userMicrosPerOp(), run.errors() > 0 ? "  errors " + run.errors() : ""));
            }
        }
    }

    /**
     * A fresh server process: its resident memory before, and while the client holds N idle connections.
     * "Before" is after a first hold of N connections, released: that first hold pays the one-time costs
     * (compiling the accept and first-read paths, the compiler's native memory, pools a server fills once),
     * so the difference is what each further idle connection costs in steady state.
     */
    private void runIdle(Server server, int round) throws Exception {
        int n = Integer.parseInt(option("idle", "10000"));
        try (ServerProcess p = ServerProcess.start(pinned("0", server.command()))) {
            client(p, List.of("--idle", String.valueOf(n)), null, "1"); // the warm-up hold, not recorded
            Thread.sleep(2000); // the server closes those connections and its compilations settle; not a synchronisation
            long base = p.rssKb();
            long[] held = {0};
            ClientResult r = client(p, List.of("--idle", String.valueOf(n)), null, "3", line -> {
                if (line.startsWith("holding ")) {
                    try {
                        Thread.sleep(2000); // let the server finish its work on the last connections
                        held[0] = p.rssKb();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            });
            IdleRun run = new IdleRun(server.key(), n, (int) r.number("kept"), base, held[0]);
            idleRuns.add(run);
            log(String.format(Locale.ROOT, "round %d: %s idle: kept %d of %d, RSS %,d -> %,d kB: %.0f B/connection",
                    round, server.name(), run.kept(), n, base, held[0], run.bytesPerConnection()));
        }
    }

    // ================================================================== client runs

    /** Clock ticks of CPU time spent by the server in user space and in the kernel. */
    record CpuTicks(long user, long system) {
        long total() {
            return user + system;
        }

        CpuTicks minus(CpuTicks earlier) {
            return new CpuTicks(user - earlier.user, system - earlier.system);
        }
    }

    private record ClientResult(String json, long operations, CpuTicks cpu) {
        double number(String field) {
            Matcher m = Pattern.compile("\"" + field + "\":(-?[0-9.]+)").matcher(json);
            if (!m.find()) {
                throw new IllegalStateException(field + " missing from " + json);
            }
            return Double.parseDouble(m.group(1));
        }
    }

    private ClientResult client(ServerProcess server, List<String> args, String warmup, String duration) throws Exception {
        return client(server, args, warmup, duration, line -> { });
    }

    /**
     * Runs {@code eddy bench} against the server; samples the server's CPU time when the client says
     * "measuring" and when it prints its report. {@code onLine} sees the client's other stderr lines.
     */
    private ClientResult client(ServerProcess server, List<String> args, String warmup, String duration,
                                java.util.function.Consumer<String> onLine) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // The load client stays on nio, as in the published runs: only the server changes between rows.
        List<String> command = new ArrayList<>(List.of(java, "-Deddy.backend=nio", "-jar", eddyJar.toString(), "bench",
                "--host", "127.0.0.1", "--port", String.valueOf(server.port()), "--json", "--duration", duration + "s"));
        if (warmup != null) {
            command.addAll(List.of("--warmup", warmup + "s"));
        }
        command.addAll(args);
        Process client = new ProcessBuilder(pinned("1", command)).start();
        CpuTicks[] cpuAtStart = {server.cpuTicks()};
        StringBuilder errors = new StringBuilder();
        CompletableFuture<Void> stderr = CompletableFuture.runAsync(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(client.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (line.equals("measuring")) {
                        cpuAtStart[0] = server.cpuTicks();
                    } else if (line.startsWith("eddy:")) {
                        errors.append(line).append('\n');
                    } else {
                        onLine.accept(line);
                    }
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        String json;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(client.getInputStream(), StandardCharsets.UTF_8))) {
            json = in.readLine();
        }
        CpuTicks cpuAtEnd = server.cpuTicks();
        long limit = Long.parseLong(duration) + 120;
        if (!client.waitFor(limit, TimeUnit.SECONDS)) {
            client.destroyForcibly();
            throw new IllegalStateException("eddy bench did not finish within " + limit + " s");
        }
        stderr.get(10, TimeUnit.SECONDS);
        if (client.exitValue() != 0 || json == null) {
            throw new IllegalStateException("eddy bench " + String.join(" ", args) + " failed (exit "
                    + client.exitValue() + "): " + errors.toString().strip());
        }
        ClientResult r = new ClientResult(json, 0, cpuAtEnd.minus(cpuAtStart[0]));
        return new ClientResult(json, (long) r.number("operations"), r.cpu());
    }

    // ================================================================== plumbing

    private List<String> pinned(String cpu, List<String> command) {
        return pin ? concat(List.of("taskset", "-c", cpu), command.toArray(String[]::new)) : command;
    }

    private static List<String> concat(List<String> head, String... tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(List.of(tail));
        return all;
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    private static String machine() {
        String cpu = "unknown CPU";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> l.substring(l.indexOf(':') + 1).strip()).orElse(cpu);
        } catch (IOException ignored) {
            // not Linux
        }
        return String.format(Locale.ROOT, "%d vCPU %s, %s %s, Java %s, %s", Runtime.getRuntime().availableProcessors(),
                cpu, System.getProperty("os.name"), System.getProperty("os.version"), Runtime.version(),
                LocalDateTime.now().withNano(0));
    }

    private String commandLine() {
        StringBuilder b = new StringBuilder("eddy-bench/run-echo-bench.sh");
        options.forEach((k, v) -> {
            if (!k.equals("eddy-jar") && !k.equals("out")) {
                b.append(" --").append(k).append(' ').append(v);
            }
        });
        return b.toString();
    }

    private static void log(String line) {
        System.err.println("[echo-bench] " + line);
    }

    /** A server that exited before listening because something it needs is missing here (not a crash). */
    static final class Unavailable extends Exception {
        Unavailable(String why) {
            super(why, null, false, false);
        }
    }

    /** A started echo server: its pid, its port (from its first line) and its /proc figures. */
    static final class ServerProcess implements AutoCloseable {
        private final Process process;
        private final int port;

        private ServerProcess(Process process, int port) {
            this.process = process;
            this.port = port;
        }

        /**
         * Starts the server and waits (30 s at most) for its "listening on" line. Its stderr is held back until
         * then and passed on after it, so a server that fails at start shows its error once, in the exception.
         *
         * @throws Unavailable if it exits before listening with an IllegalStateException (the message's line)
         */
        static ServerProcess start(List<String> command) throws Exception {
            Process p = new ProcessBuilder(command).start();
            StringBuilder early = new StringBuilder(); // stderr before "listening on"; guarded by itself
            boolean[] listening = {false};
            Thread.ofVirtual().start(() -> {
                try (BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                    for (String line = err.readLine(); line != null; line = err.readLine()) {
                        synchronized (early) {
                            if (listening[0]) {
                                System.err.println(line);
                            } else {
                                early.append(line).append('\n');
                            }
                        }
                    }
                } catch (IOException ignored) {
                    // the server ended
                }
            });
            BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
                try {
                    return in.readLine();
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            String line;
            try {
                line = first.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                p.destroyForcibly();
                throw new IllegalStateException("server did not say 'listening on' within 30 s: " + command, e);
            }
            Matcher m = line == null ? null : LISTENING.matcher(line);
            if (m == null || !m.matches()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
                Thread.sleep(100); // the stderr reader's last lines; not a synchronisation
                String stderr;
                synchronized (early) {
                    stderr = early.toString();
                }
                Matcher refused = Pattern.compile("IllegalStateException: (.*)").matcher(stderr);
                if (line == null && refused.find()) {
                    throw new Unavailable(refused.group(1).strip());
                }
                throw new IllegalStateException("server's first line was " + line + ": " + command
                        + (stderr.isBlank() ? "" : "\n" + stderr.strip()));
            }
            synchronized (early) {
                listening[0] = true;
                System.err.print(early);
            }
            Thread.ofVirtual().start(() -> {
                try {
                    in.transferTo(java.io.Writer.nullWriter());
                } catch (IOException ignored) {
                    // the server ended
                }
            });
            return new ServerProcess(p, Integer.parseInt(m.group(1)));
        }

        long pid() {
            return process.pid();
        }

        int port() {
            return port;
        }

        /** User and system CPU time in clock ticks (fields 14 and 15 of /proc/PID/stat). */
        CpuTicks cpuTicks() throws IOException {
            String stat = Files.readString(Path.of("/proc", String.valueOf(pid()), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return new CpuTicks(Long.parseLong(f[11]), Long.parseLong(f[12])); // fields 14 and 15, counted from field 3
        }

        /** Resident memory in kB (VmRSS of /proc/PID/status). */
        long rssKb() throws IOException {
            for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
            throw new IOException("no VmRSS in /proc/" + pid() + "/status");
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
