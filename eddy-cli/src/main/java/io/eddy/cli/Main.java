package io.eddy.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Properties;

/**
 * The {@code eddy} command: {@code eddy echo ...}. Usage errors print one line on stderr and exit 2.
 *
 * <p>Runs on the thread that calls {@link #run}; a server subcommand makes that thread its loop thread.
 */
@Command(name = "eddy", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Eddy, Tornado's IOLoop for Java: an echo server and an echo load client.")
public final class Main implements Runnable {

    @Spec
    private CommandSpec spec;

    private Main() {
    }

    /** Runs {@code eddy} with {@code args} and exits with its exit code. */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs {@code eddy} with {@code args} on the calling thread, printing to {@code out} and {@code err}.
     *
     * @return the exit code: 0 done, 1 failed (e.g. the port is in use), 2 usage error
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        CommandLine cmd = new CommandLine(new Main())
                .addSubcommand(new EchoCommand(out, err))
                .addSubcommand(new BenchCommand(out, err))
                .setParameterExceptionHandler(Main::usageError)
                .setExecutionExceptionHandler(Main::backendUnavailable);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        return cmd.execute(args);
    }

    /** {@code eddy} without a command. */
    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command");
    }

    /** One line on stderr, for scripts and humans alike: the error and where to find the usage. */
    private static int usageError(ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        String message = e.getMessage().replaceAll("\\s*\\R\\s*", " ").strip();
        cmd.getErr().println("eddy: " + message + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /**
     * An IOLoop backend named by {@code -Deddy.backend} that cannot run here (epoll without the flags it needs):
     * one line saying what is missing, exit code 1. Anything else is a bug and keeps its stack trace.
     */
    private static int backendUnavailable(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) throws Exception {
        if ((e instanceof IllegalStateException || e instanceof IllegalArgumentException)
                && e.getMessage() != null && e.getMessage().contains("IOLoop backend")) {
            cmd.getErr().println("eddy: " + e.getMessage());
            return 1;
        }
        throw e;
    }

    /** The version Maven wrote into {@code version.properties}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in == null) {
                    throw new IOException("version.properties is missing from the class path");
                }
                p.load(in);
            }
            return new String[] {"eddy " + p.getProperty("version"), "Java " + Runtime.version()};
        }
    }
}
