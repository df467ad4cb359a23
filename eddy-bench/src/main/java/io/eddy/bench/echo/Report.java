package io.eddy.bench.echo;

import io.eddy.bench.echo.EchoRunner.IdleRun;
import io.eddy.bench.echo.EchoRunner.Run;
import io.eddy.bench.echo.EchoRunner.Scenario;
import io.eddy.bench.echo.EchoRunner.Server;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** The medians of an {@link EchoRunner} run, as markdown and JSON. Immutable. */
final class Report {

    final List<Server> servers;
    final List<Scenario> scenarios;
    final List<Run> runs;
    final List<IdleRun> idleRuns;
    /** Server key to why it did not run. */
    final Map<String, String> unavailable;
    final String machine;
    final String command;
    final int rounds;
    final boolean pinned;

    Report(List<Server> servers, List<Scenario> scenarios, List<Run> runs, List<IdleRun> idleRuns,
           Map<String, String> unavailable, String machine, String command, int rounds, boolean pinned) {
        this.rounds = rounds;
        this.servers = servers;
        this.scenarios = scenarios;
        this.runs = List.copyOf(runs);
        this.idleRuns = List.copyOf(idleRuns);
        this.unavailable = new LinkedHashMap<>(unavailable);
        this.machine = machine;
        this.command = command;
        this.pinned = pinned;
    }

    /** The server that ratios and the chart are relative to: the C floor if it ran, else Netty epoll, else Netty NIO. */
    String baseline() {
        for (String key : List.of("c-epoll", "netty-epoll", "netty-nio")) {
            if (ran(key)) {
                return key;
            }
        }
        return servers.isEmpty() ? "" : servers.getFirst().key();
    }

    /** The median of {@code metric} over the runs of {@code server} in {@code scenario}; NaN if none. */
    double median(String server, int scenario, ToDoubleFunction<Run> metric) {
        return median(runs.stream().filter(r -> r.server().equals(server) && r.scenario() == scenario)
                .mapToDouble(metric).toArray());
    }

    double idleMedian(String server, ToDoubleFunction<IdleRun> metric) {
        return median(idleRuns.stream().filter(r -> r.server().equals(server)).mapToDouble(metric).toArray());
    }

    private static double median(double[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        Arrays.sort(values);
        int mid = values.length / 2;
        return values.length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    /** Whether {@code server} has load or idle results. */
    boolean ran(String server) {
        return runs.stream().anyMatch(r -> r.server().equals(server)) || idleRuns.stream().anyMatch(r -> r.server().equals(server));
    }

    private String name(String key) {
        return servers.stream().filter(s -> s.key().equals(key)).map(Server::name).findFirst().orElse(key);
    }

    /** One column of the Eddy ÷ peer table. */
    private record Versus(String title, String peer, ToDoubleFunction<Run> metric) {
    }

    /**
     * The ratio of {@code eddy}'s median to {@code peer}'s, then in brackets the lowest and highest ratio of
     * the two in one round (the n-th run of a server in a scenario is from round n): how far one round can mislead.
     */
    private String ratio(String eddy, String peer, int scenario, ToDoubleFunction<Run> metric) {
        if (!ran(peer)) {
            return "–";
        }
        String medians = ratio(median(eddy, scenario, metric), median(peer, scenario, metric));
        double[] a = runs.stream().filter(r -> r.server().equals(eddy) && r.scenario() == scenario).mapToDouble(metric).toArray();
        double[] b = runs.stream().filter(r -> r.server().equals(peer) && r.scenario() == scenario).mapToDouble(metric).toArray();
        double low = Double.POSITIVE_INFINITY;
        double high = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            if (b[i] == 0) {
                continue;
            }
            low = Math.min(low, a[i] / b[i]);
            high = Math.max(high, a[i] / b[i]);
        }
        return low > high || Double.isNaN(low) || Double.isNaN(high) || a.length < 2 ? medians
                : medians + String.format(Locale.ROOT, " (%.2f–%.2f)", low, high);
    }

    private static String ratio(double a, double b) {
        return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? "–" : String.format(Locale.ROOT, "%.2f×", a / b);
    }

    private static String num(double v, String format) {
        return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, format, v);
    }

    String markdown() {
        StringBuilder b = new StringBuilder();
        b.append("Machine: ").append(machine).append(". Medians of ").append(rounds).append(rounds == 1 ? " round; " : " rounds; ")
                .append(pinned ? "each server pinned to CPU 0 and the `eddy bench` client to CPU 1 (taskset)"
                        : "server and client NOT pinned (no taskset or fewer than 2 CPUs)")
                .append(". Server CPU = user + system time of the server process (all its threads, from /proc/PID/stat)")
                .append(" over the measured interval, per message (connect storm: per connection), and the user-space")
                .append(" part of it (the rest is the kernel's loopback TCP work, alike for every server). The client")
                .append(" saturates its core, so messages/s moves 10–25 % between rounds: CPU per message is the judge.")
                .append(" Ratios are of medians; ÷ C is against the C epoll server, the floor.")
                .append(" Idle memory: VmRSS while the client holds the connections minus VmRSS after a first hold of")
                .append(" as many, released (so one-time compilation and pools are not counted per connection).\n")
                .append("Command: `").append(command).append("`\n\n");
        unavailable.forEach((key, why) -> b.append("- Not run: ").append(name(key)).append(" — ").append(why).append("\n"));
        if (!unavailable.isEmpty()) {
            b.append('\n');
        }
        List<Scenario> load = scenarios.stream().filter(s -> s.number() <= 5).toList();
        List<String> eddies = List.of("eddy-raw", "eddy-stream", "eddy-raw-epoll", "eddy-stream-epoll").stream()
                .filter(k -> runs.stream().anyMatch(r -> r.server().equals(k))).toList();
        List<Versus> columns = new ArrayList<>();
        for (String peer : List.of("c-epoll", "netty-epoll", "netty-io_uring", "netty-nio", "plain-nio")) {
            if (ran(peer)) {
                columns.add(new Versus("CPU/msg ÷ " + name(peer), peer, Run::cpuMicrosPerOp));
            }
        }
        if (ran("plain-nio")) { // the C server's user time is a few clock ticks: too coarse for a ratio
            columns.add(new Versus("user CPU/msg ÷ " + name("plain-nio"), "plain-nio", Run::userMicrosPerOp));
        }
        for (String peer : List.of("netty-epoll", "netty-nio")) {
            if (ran(peer)) {
                columns.add(new Versus("msg/s ÷ " + name(peer), peer, Run::opsPerSecond));
                columns.add(new Versus("p99 ÷ " + name(peer), peer, Run::p99));
            }
        }
        if (!load.isEmpty() && !eddies.isEmpty() && !columns.isEmpty()) {
            b.append("Eddy beside each peer: ratio of medians, and in brackets the lowest and highest ratio within one round")
                    .append(" (CPU and p99: lower is better; messages/s: higher is better)\n\n");
            b.append("| scenario | Eddy |");
            columns.forEach(c -> b.append(' ').append(c.title()).append(" |"));
            b.append("\n|---|---|").append("---:|".repeat(columns.size())).append('\n');
            for (Scenario s : load) {
                for (String eddy : eddies) {
                    b.append("| ").append(s.number()).append(". ").append(s.title()).append(" | ").append(name(eddy)).append(" |");
                    columns.forEach(c -> b.append(' ').append(ratio(eddy, c.peer(), s.number(), c.metric())).append(" |"));
                    b.append('\n');
                }
            }
            b.append('\n');
        }
        for (Scenario s : load) {
            String unit = s.unit().equals("msg") ? "message" : "connection";
            b.append("**").append(s.number()).append(". ").append(s.title()).append("**\n\n");
            b.append("| server | ").append(unit).append("s/s | p50 µs | p99 µs | server CPU µs/").append(unit)
                    .append(" | of it user µs | CPU ÷ C | CPU ÷ Netty epoll | ").append(unit).append("s/s ÷ C | ")
                    .append(unit).append("s/s ÷ Netty epoll |\n");
            b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (Server server : servers) {
                String key = server.key();
                int n = s.number();
                if (unavailable.containsKey(key)) {
                    b.append("| ").append(server.name()).append(" | not run").append(" | –".repeat(8)).append(" |\n");
                    continue;
                }
                b.append("| ").append(server.name())
                        .append(" | ").append(num(median(key, n, Run::opsPerSecond), "%,.0f"))
                        .append(" | ").append(num(median(key, n, Run::p50), "%,.1f"))
                        .append(" | ").append(num(median(key, n, Run::p99), "%,.1f"))
                        .append(" | ").append(num(median(key, n, Run::cpuMicrosPerOp), "%.2f"))
                        .append(" | ").append(num(median(key, n, Run::userMicrosPerOp), "%.2f"))
                        .append(" | ").append(ratio(median(key, n, Run::cpuMicrosPerOp), median("c-epoll", n, Run::cpuMicrosPerOp)))
                        .append(" | ").append(ratio(median(key, n, Run::cpuMicrosPerOp), median("netty-epoll", n, Run::cpuMicrosPerOp)))
                        .append(" | ").append(ratio(median(key, n, Run::opsPerSecond), median("c-epoll", n, Run::opsPerSecond)))
                        .append(" | ").append(ratio(median(key, n, Run::opsPerSecond), median("netty-epoll", n, Run::opsPerSecond)))
                        .append(" |\n");
            }
            b.append('\n');
        }
        if (!idleRuns.isEmpty()) {
            b.append("**6. ").append(idleRuns.getFirst().held())
                    .append(" idle connections: the server's resident memory per connection** (VmRSS while held − after a first hold)\n\n");
            b.append("| server | bytes per idle connection | connections kept |\n|---|---:|---:|\n");
            for (Server server : servers) {
                if (unavailable.containsKey(server.key())) {
                    b.append("| ").append(server.name()).append(" | not run | – |\n");
                    continue;
                }
                b.append("| ").append(server.name())
                        .append(" | ").append(num(idleMedian(server.key(), IdleRun::bytesPerConnection), "%,.0f"))
                        .append(" | ").append(num(idleMedian(server.key(), r -> r.kept()), "%,.0f"))
                        .append(" |\n");
            }
            b.append('\n');
        }
        return b.toString();
    }

    String json() {
        StringBuilder b = new StringBuilder("{\"machine\":\"").append(machine.replace("\"", "'"))
                .append("\",\"command\":\"").append(command).append("\",\"pinned\":").append(pinned).append(",\"unavailable\":[");
        int u = 0;
        for (Map.Entry<String, String> e : unavailable.entrySet()) {
            b.append(u++ == 0 ? "" : ",").append("{\"unavailable\":\"").append(e.getKey()).append("\",\"why\":\"")
                    .append(e.getValue().replace("\\", "/").replace("\"", "'")).append("\"}");
        }
        b.append("],\"runs\":[");
        for (int i = 0; i < runs.size(); i++) {
            Run r = runs.get(i);
            b.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT,
                    "{\"server\":\"%s\",\"scenario\":%d,\"opsPerSecond\":%.1f,\"p50\":%.1f,\"p99\":%.1f,"
                            + "\"cpuMicrosPerOp\":%.3f,\"userMicrosPerOp\":%.3f,\"errors\":%d}",
                    r.server(), r.scenario(), r.opsPerSecond(), r.p50(), r.p99(), r.cpuMicrosPerOp(),
                    r.userMicrosPerOp(), r.errors()));
        }
        b.append("],\"idle\":[");
        for (int i = 0; i < idleRuns.size(); i++) {
            IdleRun r = idleRuns.get(i);
            b.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT,
                    "{\"server\":\"%s\",\"held\":%d,\"kept\":%d,\"rssBeforeKb\":%d,\"rssHeldKb\":%d,\"bytesPerConnection\":%.0f}",
                    r.server(), r.held(), r.kept(), r.baseKb(), r.heldKb(), r.bytesPerConnection()));
        }
        return b.append("]}\n").toString();
    }
}
