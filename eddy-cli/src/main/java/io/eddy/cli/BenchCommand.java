package io.eddy.cli;

import io.eddy.iostream.StreamClosedException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * {@code eddy bench}: an echo load client on Eddy itself. Three modes: sustained echo (the default),
 * {@code --connect-storm} and {@code --idle N}. It connects only to {@code --host:--port} and always
 * stops by itself (warm-up + duration, plus at most a minute to connect and close).
 *
 * <p>{@link #call} runs the client's loop on the calling thread.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Echo load client: sends messages to an echo server, checks every byte that comes back,",
                "prints a line per second, then messages/s, MB/s and latency percentiles."})
final class BenchCommand implements Callable<Integer> {

    private static final int EXIT_OK = 0;
    private static final int EXIT_FAILED = 1;
    private static final Duration MAX_TIME = Duration.ofHours(1);

    private final PrintStream out;
    private final PrintStream err;

    @Spec
    private CommandSpec spec;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "The echo server's address (default: ${DEFAULT-VALUE}).")
    private String host;

    @Option(names = "--port", defaultValue = "10000", paramLabel = "PORT",
            description = "The echo server's port (default: ${DEFAULT-VALUE}).")
    private int port;

    @Option(names = "--connections", defaultValue = "50", paramLabel = "C",
            description = "Connections; with --connect-storm, connects in flight at once (default: ${DEFAULT-VALUE}).")
    private int connections;

    @Option(names = "--size", defaultValue = "64", paramLabel = "S", description = "Bytes per message (default: ${DEFAULT-VALUE}).")
    private int size;

    @Option(names = "--depth", defaultValue = "1", paramLabel = "D",
            description = "Messages in flight per connection (default: ${DEFAULT-VALUE}).")
    private int depth;

    @Option(names = "--duration", defaultValue = "10s", paramLabel = "T", converter = DurationConverter.class,
            description = "Measured time, e.g. 10s, 500ms, 1m (default: ${DEFAULT-VALUE}).")
    private Duration duration;

    @Option(names = "--warmup", defaultValue = "2s", paramLabel = "T", converter = DurationConverter.class,
            description = "Time before measuring starts (default: ${DEFAULT-VALUE}).")
    private Duration warmup;

    @Option(names = "--connect-storm", description = "Open, echo one message on, and close connections, again and again.")
    private boolean connectStorm;

    @Option(names = "--idle", paramLabel = "N", description = "Hold N idle connections for the duration; report how many the server kept.")
    private Integer idle;

    @Option(names = "--json", description = "Print the final report as one JSON object (the per-second lines go to stderr).")
    private boolean json;

    @Option(names = "--quiet", description = "No per-second lines.")
    private boolean quiet;

    BenchCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() {
        LoadOptions options = check();
        PrintStream live = quiet ? null : json ? err : out;
        LoadReport report;
        try {
            if (idle != null) {
                report = new IdleHold(options, live).run();
            } else if (connectStorm) {
                report = new ConnectStorm(options, live).run();
            } else {
                report = new EchoLoad(options, live).run();
            }
        } catch (Exception e) {
            err.println("eddy: bench against " + options.target() + " failed: " + describe(e));
            return EXIT_FAILED;
        }
        if (report.operations() == 0 && report.errors() > 0 && report.mode().equals("connect-storm")) {
            err.println("eddy: bench against " + options.target() + " failed: no connection succeeded ("
                    + report.errors() + " errors)");
            return EXIT_FAILED;
        }
        out.print(json ? report.toJson() + System.lineSeparator() : report.toText());
        out.flush();
        return EXIT_OK;
    }

    private LoadOptions check() {
        require(!host.isBlank(), "Invalid value for option '--host': '" + host + "' is empty");
        require(port >= 1 && port <= 0xFFFF, "Invalid value for option '--port': " + port + " is not in 1..65535");
        require(connections >= 1 && connections <= 100_000,
                "Invalid value for option '--connections': " + connections + " is not in 1..100000");
        require(size >= 1 && size <= 16 << 20, "Invalid value for option '--size': " + size + " is not in 1..16777216");
        require(depth >= 1 && depth <= 10_000, "Invalid value for option '--depth': " + depth + " is not in 1..10000");
        require(!duration.isNegative() && !duration.isZero() && duration.compareTo(MAX_TIME) <= 0,
                "Invalid value for option '--duration': " + duration + " is not more than 0 and at most 1 hour");
        require(!warmup.isNegative() && warmup.compareTo(MAX_TIME) <= 0,
                "Invalid value for option '--warmup': " + warmup + " is not 0 to 1 hour");
        require(!(connectStorm && idle != null), "--connect-storm and --idle are different modes: choose one");
        require((long) connections * depth * size <= 1L << 30, "--connections x --depth x --size is "
                + (long) connections * depth * size + " bytes in flight: at most 1 GiB");
        if (idle != null) {
            require(idle >= 1 && idle <= 100_000, "Invalid value for option '--idle': " + idle + " is not in 1..100000");
            require(depth == 1, "--idle holds connections without load: drop --depth");
            return new LoadOptions(host, port, idle, size, 1, Duration.ZERO, duration);
        }
        require(!connectStorm || depth == 1, "--connect-storm sends one message per connection: drop --depth");
        return new LoadOptions(host, port, connections, size, depth, warmup, duration);
    }

    private void require(boolean ok, String message) {
        if (!ok) {
            throw new ParameterException(spec.commandLine(), message);
        }
    }

    private static String describe(Throwable e) {
        while ((e instanceof ExecutionException || e instanceof CompletionException || e instanceof StreamClosedException)
                && e.getCause() != null) {
            e = e.getCause();
        }
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message;
    }

    /** "10s", "500ms", "2m", "1h", or plain seconds ("10"); ISO-8601 ("PT10S") too. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            String v = value.strip().toLowerCase(Locale.ROOT);
            try {
                if (v.startsWith("pt")) {
                    return Duration.parse(value.strip());
                }
                if (v.endsWith("ms")) {
                    return Duration.ofMillis(Long.parseLong(v.substring(0, v.length() - 2)));
                }
                if (v.endsWith("s")) {
                    return Duration.ofMillis(Math.round(Double.parseDouble(v.substring(0, v.length() - 1)) * 1000));
                }
                if (v.endsWith("m")) {
                    return Duration.ofSeconds(Math.multiplyExact(Long.parseLong(v.substring(0, v.length() - 1)), 60));
                }
                if (v.endsWith("h")) {
                    return Duration.ofHours(Long.parseLong(v.substring(0, v.length() - 1)));
                }
                return Duration.ofMillis(Math.round(Double.parseDouble(v) * 1000));
            } catch (RuntimeException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a duration (try 10s, 500ms, 2m)");
            }
        }
    }
}
