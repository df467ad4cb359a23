package io.eddy.bench;

import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs JMH with its usual command line, then prints the results as one row per operation with Eddy
 * and Netty side by side: {@code foo_eddy} and {@code foo_netty} make the row {@code foo}.
 *
 * <pre>{@code
 * java -cp eddy-bench/target/benchmarks.jar io.eddy.bench.SideBySide LoopBenchmark -f 1 -rf json -rff results/loop-bench.json
 * }</pre>
 *
 * With no benchmark pattern it runs {@link LoopBenchmark}. The options are JMH's own ({@code -h}
 * lists them); each may be given once, and the annotations on the benchmarks supply the defaults.
 */
public final class SideBySide {

    private static final String EDDY = "_eddy";
    private static final String NETTY = "_netty";

    private SideBySide() {
    }

    public static void main(String[] args) throws Exception {
        CommandLineOptions cmd = new CommandLineOptions(args);
        if (cmd.shouldHelp() || cmd.shouldList() || cmd.shouldListWithParams() || cmd.shouldListProfilers()
                || cmd.shouldListResultFormats()) {
            org.openjdk.jmh.Main.main(args); // nothing to run: JMH answers
            return;
        }
        OptionsBuilder builder = new OptionsBuilder();
        builder.parent(cmd);
        if (cmd.getIncludes().isEmpty()) {
            builder.include(LoopBenchmark.class.getSimpleName());
        }
        Options options = builder.build();
        Collection<RunResult> results = new Runner(options).run();
        System.out.println();
        System.out.print(table(results));
    }

    /** The side-by-side table of {@code results}; benchmarks without a suffix get a row of their own. */
    static String table(Collection<RunResult> results) {
        Map<String, Result<?>[]> rows = new TreeMap<>();
        Map<String, String> units = new LinkedHashMap<>();
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            String params = r.getParams().getParamsKeys().isEmpty() ? "" : " " + paramsOf(r);
            int column;
            String op;
            if (name.endsWith(EDDY)) {
                op = name.substring(0, name.length() - EDDY.length());
                column = 0;
            } else if (name.endsWith(NETTY)) {
                op = name.substring(0, name.length() - NETTY.length());
                column = 1;
            } else {
                op = name;
                column = 0;
            }
            String key = op + params;
            rows.computeIfAbsent(key, k -> new Result<?>[2])[column] = r.getPrimaryResult();
            units.putIfAbsent(key, r.getPrimaryResult().getScoreUnit());
        }
        // A parameter of Eddy's side only (its backend): each of its rows faces Netty's one row of the operation.
        for (String key : List.copyOf(rows.keySet())) {
            Result<?>[] netty = rows.get(key);
            if (key.contains(" ") || netty[0] != null || netty[1] == null) {
                continue;
            }
            boolean paired = false;
            for (Map.Entry<String, Result<?>[]> row : rows.entrySet()) {
                if (row.getKey().startsWith(key + " (") && row.getValue()[1] == null) {
                    row.getValue()[1] = netty[1];
                    paired = true;
                }
            }
            if (paired) {
                rows.remove(key);
            }
        }
        int width = Math.max("Operation".length(), rows.keySet().stream().mapToInt(String::length).max().orElse(0));
        StringBuilder out = new StringBuilder();
        String format = "%-" + width + "s  %24s  %24s  %11s  %s%n";
        out.append(String.format(format, "Operation", "Eddy", "Netty", "Eddy/Netty", "Units"));
        for (Map.Entry<String, Result<?>[]> row : rows.entrySet()) {
            Result<?> eddy = row.getValue()[0];
            Result<?> netty = row.getValue()[1];
            String ratio = eddy != null && netty != null && netty.getScore() != 0
                    ? String.format("%.2fx", eddy.getScore() / netty.getScore()) : "";
            out.append(String.format(format, row.getKey(), score(eddy), score(netty), ratio, units.get(row.getKey())));
        }
        return out.toString();
    }

    private static String paramsOf(RunResult r) {
        StringBuilder sb = new StringBuilder("(");
        for (String k : r.getParams().getParamsKeys()) {
            if (sb.length() > 1) {
                sb.append(", ");
            }
            sb.append(k).append('=').append(r.getParams().getParam(k));
        }
        return sb.append(')').toString();
    }

    private static String score(Result<?> r) {
        if (r == null) {
            return "-";
        }
        double error = r.getScoreError();
        return Double.isNaN(error)
                ? String.format("%,.0f", r.getScore())
                : String.format("%,.0f ± %,.0f", r.getScore(), error);
    }
}
