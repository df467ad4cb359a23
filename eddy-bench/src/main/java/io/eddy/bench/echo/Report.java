package io.eddy.bench.echo;

import io.eddy.bench.echo.EchoRunner.IdleRun;
import io.eddy.bench.echo.EchoRunner.Run;
import io.eddy.bench.echo.EchoRunner.Scenario;
import io.eddy.bench.echo.EchoRunner.Server;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/** The medians of an {@link EchoRunner} run, as markdown and JSON. Immutable. */
final class Report {

    final List<Server> servers;
    final List<Scenario> scenarios;
    final List<Run> runs;
    final List<IdleRun> idleRuns;
    final String machine;
    final String command;
    final int rounds;

    Report(List<Server> servers, List<Scenario> scenarios, List<Run> runs, List<IdleRun> idleRuns,
           String machine, String command, int rounds) {
        this.rounds = rounds;
        this.servers = servers;
        this.scenarios = scenarios;
        this.runs = List.copyOf(runs);
        this.idleRuns = List.copyOf(idleRuns);
        this.machine = machine;
        this.command = command;
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

    private boolean has(String server) {
        return servers.stream().anyMatch(s -> s.key().equals(server));
    }

    /**
     * The ratio of {@code eddy}'s median to {@code peer}'s, then in brackets the lowest and highest ratio of
     * the two in one round (the n-th run of a server in a scenario is from round n): how far one round can mislead.
     */
    private String ratio(String eddy, String peer, int scenario, ToDoubleFunction<Run> metric) {
        String medians = ratio(median(eddy, scenario, metric), median(peer, scenario, metric));
        double[] a = runs.stream().filter(r -> r.server().equals(eddy) && r.scenario() == scenario).mapToDouble(metric).toArray();
        double[] b = runs.stream().filter(r -> r.server().equals(peer) && r.scenario() == scenario).mapToDouble(metric).toArray();
        double low = Double.POSITIVE_INFINITY;
        double high = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
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
        b.append("Machine: ").append(machine).append(". Medians of ").append(rounds)
                .append(" rounds; each server on CPU 0, the `eddy bench` client on CPU 1; server CPU = user + system time")
                .append(" of the server process over the measured interval, per message (or per connection), and the")
                .append(" user-space part of it (the rest is the kernel's loopback TCP work, alike for every server).")
                .append(" Idle memory: VmRSS while the client holds the connections minus VmRSS after a first hold of")
                .append(" as many, released (so one-time compilation and pools are not counted per connection).\n")
                .append("Command: `").append(command).append("`\n\n");
        List<Scenario> load = scenarios.stream().filter(s -> s.number() <= 5).toList();
        if (!load.isEmpty() && (has("eddy") || has("eddy-raw"))) {
            b.append("Eddy beside each peer: ratio of medians, and in brackets the lowest and highest ratio within one round")
                    .append(" (messages/s: higher is better, p99 and CPU: lower is better)\n\n");
            b.append("| scenario | Eddy | msg/s vs Netty NIO | vs Netty epoll | vs plain java.nio | p99 vs Netty NIO"
                    + " | CPU/msg vs Netty NIO | vs Netty epoll | vs plain java.nio | user CPU/msg vs plain java.nio |\n");
            b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (Scenario s : load) {
                for (String eddy : List.of("eddy", "eddy-raw")) {
                    if (!has(eddy)) {
                        continue;
                    }
                    int n = s.number();
                    b.append("| ").append(n).append(". ").append(s.title())
                            .append(" | ").append(eddy.equals("eddy") ? "streams" : "raw")
                            .append(" | ").append(ratio(eddy, "netty-nio", n, Run::opsPerSecond))
                            .append(" | ").append(ratio(eddy, "netty-epoll", n, Run::opsPerSecond))
                            .append(" | ").append(ratio(eddy, "plain-nio", n, Run::opsPerSecond))
                            .append(" | ").append(ratio(eddy, "netty-nio", n, Run::p99))
                            .append(" | ").append(ratio(eddy, "netty-nio", n, Run::cpuMicrosPerOp))
                            .append(" | ").append(ratio(eddy, "netty-epoll", n, Run::cpuMicrosPerOp))
                            .append(" | ").append(ratio(eddy, "plain-nio", n, Run::cpuMicrosPerOp))
                            .append(" | ").append(ratio(eddy, "plain-nio", n, Run::userMicrosPerOp))
                            .append(" |\n");
                }
            }
            b.append('\n');
        }
        for (Scenario s : load) {
            String unit = s.unit().equals("msg") ? "message" : "connection";
            b.append("**").append(s.number()).append(". ").append(s.title()).append("**\n\n");
            b.append("| server | ").append(unit).append("s/s | p50 µs | p99 µs | server CPU µs/").append(unit)
                    .append(" | of it user µs |\n");
            b.append("|---|---:|---:|---:|---:|---:|\n");
            for (Server server : servers) {
                b.append("| ").append(server.name())
                        .append(" | ").append(num(median(server.key(), s.number(), Run::opsPerSecond), "%,.0f"))
                        .append(" | ").append(num(median(server.key(), s.number(), Run::p50), "%,.1f"))
                        .append(" | ").append(num(median(server.key(), s.number(), Run::p99), "%,.1f"))
                        .append(" | ").append(num(median(server.key(), s.number(), Run::cpuMicrosPerOp), "%.2f"))
                        .append(" | ").append(num(median(server.key(), s.number(), Run::userMicrosPerOp), "%.2f"))
                        .append(" |\n");
            }
            b.append('\n');
        }
        if (!idleRuns.isEmpty()) {
            b.append("**6. ").append(idleRuns.getFirst().held())
                    .append(" idle connections: the server's resident memory per connection** (VmRSS while held − after a first hold)\n\n");
            b.append("| server | bytes per idle connection | connections kept |\n|---|---:|---:|\n");
            for (Server server : servers) {
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
                .append("\",\"command\":\"").append(command).append("\",\"runs\":[");
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
