package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.tcp.ServerOptions;
import io.eddy.tcp.TCPServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.IOException;
import java.io.PrintStream;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code eddy echo}: an echo server until SIGINT or SIGTERM, which stop it cleanly (exit code 0).
 *
 * <p>{@link #call} runs the loop on the calling thread; the signal handlers run on the JVM's signal
 * threads and only call {@link IOLoop#stop()}.
 */
@Command(name = "echo", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = {"Runs an echo server: every byte a client sends comes back to it.",
                "The first line is 'listening on HOST:PORT'. SIGINT or SIGTERM stop it (exit code 0)."})
final class EchoCommand implements Callable<Integer> {

    private static final int EXIT_OK = 0;
    private static final int EXIT_FAILED = 1;

    private final PrintStream out;
    private final PrintStream err;

    @Spec
    private CommandSpec spec;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    private String host;

    @Option(names = "--port", defaultValue = "10000", paramLabel = "PORT",
            description = "Port to listen on, 0 for any free port (default: ${DEFAULT-VALUE}).")
    private int port;

    @Option(names = "--raw",
            description = "The reference demo's server instead: raw addHandler, a message queue per connection,"
                    + " one loop.")
    private boolean raw;

    @Option(names = "--loops", defaultValue = "1", paramLabel = "N",
            description = "Event loops, each on its own thread sharing the port; 0 for one per core (default: ${DEFAULT-VALUE}).")
    private int loops;

    @Option(names = "--backlog", paramLabel = "N",
            description = "Connections the kernel queues until they are accepted (default: the system's maximum,"
                    + " net.core.somaxconn on Linux; the kernel caps larger values).")
    private Integer backlog;

    @Option(names = "--quiet", description = "Print only the 'listening on' line.")
    private boolean quiet;

    @Option(names = "--tls", description = "Serve TLS: with --cert and --key, or a self-signed certificate made"
            + " at start-up (its SHA-256 fingerprint is printed).")
    private boolean tls;

    @Option(names = "--cert", paramLabel = "FILE", description = "PEM certificate (chain) for --tls.")
    private java.nio.file.Path cert;

    @Option(names = "--key", paramLabel = "FILE", description = "PEM PKCS#8 private key for --tls.")
    private java.nio.file.Path key;

    EchoCommand(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() throws IOException {
        if (port < 0 || port > 0xFFFF) {
            throw new ParameterException(spec.commandLine(),
                    "Invalid value for option '--port': " + port + " is not in 0..65535");
        }
        if (loops < 0 || loops > TCPServer.MAX_LOOPS) {
            throw new ParameterException(spec.commandLine(), "Invalid value for option '--loops': " + loops
                    + " is not in 0.." + TCPServer.MAX_LOOPS + " (0 means one per core)");
        }
        if (backlog != null && backlog < 1) {
            throw new ParameterException(spec.commandLine(),
                    "Invalid value for option '--backlog': " + backlog + " is not positive");
        }
        if (raw && loops != 1) {
            throw new ParameterException(spec.commandLine(), "--raw runs on one loop: drop --loops " + loops);
        }
        if ((cert == null) != (key == null)) {
            throw new ParameterException(spec.commandLine(), "--cert and --key go together: give both or neither");
        }
        if (cert != null && !tls) {
            throw new ParameterException(spec.commandLine(), "--cert and --key are for --tls: add --tls");
        }
        if (raw && tls) {
            throw new ParameterException(spec.commandLine(), "--raw is the plain reference server: drop --tls");
        }
        loadTimeZoneData();
        return raw ? runRaw() : runStreams(loops == 0 ? Runtime.getRuntime().availableProcessors() : loops);
    }

    private int backlog() {
        return backlog == null ? ServerOptions.DEFAULT_BACKLOG : backlog;
    }

    /**
     * Loads the JDK's time-zone data now, while a file can be opened. The log formatter needs it for the first
     * record; if that record comes when the server is out of file descriptors (the accept back-off's warning),
     * loading fails and the JDK never retries it: logging stays broken for the life of the process.
     */
    private static void loadTimeZoneData() {
        java.util.TimeZone.getDefault().getRawOffset();
        java.time.ZoneId.systemDefault().getRules();
    }

    /** The IOStream server: loops on their own threads; this thread waits for a signal. */
    private int runStreams(int loopCount) throws IOException {
        ServerCertificate certificate = null;
        if (tls) {
            try {
                certificate = cert != null ? ServerCertificate.fromPem(cert, key) : ServerCertificate.selfSigned();
            } catch (java.nio.file.NoSuchFileException e) {
                err.println("eddy: cannot set up TLS: no such file: " + e.getFile());
                return EXIT_FAILED;
            } catch (java.nio.file.AccessDeniedException e) {
                err.println("eddy: cannot set up TLS: permission denied: " + e.getFile());
                return EXIT_FAILED;
            } catch (IOException | java.security.GeneralSecurityException e) {
                err.println("eddy: cannot set up TLS: " + e.getMessage());
                return EXIT_FAILED;
            }
        }
        StreamEchoServer server;
        try {
            server = StreamEchoServer.start(host, port, loopCount, backlog(), quiet ? null : out,
                    certificate == null ? null : certificate.context());
        } catch (IOException e) {
            err.println("eddy: cannot listen on " + host + ":" + port + ": " + describe(e));
            return EXIT_FAILED;
        }
        // The handlers go in before the first line: whoever reads it may signal at once.
        java.util.concurrent.CountDownLatch signalled = new java.util.concurrent.CountDownLatch(1);
        SignalHandler stop = signal -> signalled.countDown();
        SignalHandler previousInt = Signal.handle(new Signal("INT"), stop);
        SignalHandler previousTerm = Signal.handle(new Signal("TERM"), stop);
        out.println("listening on " + RawEchoServer.format(server.address()));
        if (!quiet) {
            out.println("io loop: " + server.backend());
        }
        if (certificate != null && !quiet) {
            out.println("tls certificate " + certificate.describe() + ", SHA-256 " + certificate.fingerprint());
        }
        out.flush();
        try {
            signalled.await();
            server.shutdown();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            Signal.handle(new Signal("INT"), previousInt);
            Signal.handle(new Signal("TERM"), previousTerm);
        }
        return EXIT_OK;
    }

    /** The reference demo's server, on a loop on this thread. */
    private int runRaw() throws IOException {
        IOLoop loop = IOLoop.create();
        RawEchoServer server;
        try {
            server = RawEchoServer.bind(loop, host, port, backlog(), quiet ? null : out);
        } catch (IOException e) {
            loop.close();
            err.println("eddy: cannot listen on " + host + ":" + port + ": " + describe(e));
            return EXIT_FAILED;
        }
        // A shutdown hook would run only as the JVM dies, with exit code 143 for SIGTERM; a signal
        // handler lets this thread leave start() and return 0. A signal that arrives before start()
        // makes start() return at once. The handlers go in before the first line: whoever reads it may
        // signal at once.
        SignalHandler stop = signal -> loop.stop();
        SignalHandler previousInt = Signal.handle(new Signal("INT"), stop);
        SignalHandler previousTerm = Signal.handle(new Signal("TERM"), stop);
        out.println("listening on " + RawEchoServer.format(server.address()));
        if (!quiet) {
            out.println("io loop: " + loop.backend());
        }
        out.flush();
        try {
            loop.start();
        } finally {
            Signal.handle(new Signal("INT"), previousInt);
            Signal.handle(new Signal("TERM"), previousTerm);
        }
        server.close();
        loop.close(true);
        return EXIT_OK;
    }

    /** "address already in use", "unknown host", ...: the reason, in the style of the rest of the line. */
    private static String describe(IOException e) {
        if (e instanceof UnknownHostException) {
            return "unknown host";
        }
        String message = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return message.substring(0, 1).toLowerCase(Locale.ROOT) + message.substring(1);
    }
}
