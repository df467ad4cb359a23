package io.eddy.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code java -jar eddy.jar ...} as its own process, for tests (the jar is failsafe's {@code eddy.jar} system
 * property). Closing it kills it if it is still alive. One test thread uses it; its output is read by two
 * virtual threads.
 */
public final class EddyProcess implements AutoCloseable {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");

    public final Process process;
    public final Lines stdout = new Lines();
    public final StringBuffer stderr = new StringBuffer();
    private final List<Thread> readers = new ArrayList<>();

    /** Starts {@code java -jar eddy.jar ARGS}. */
    public EddyProcess(String... args) throws IOException {
        this(List.of(), args);
    }

    /** Runs eddy behind {@code launcher} (a command that execs its arguments). */
    public EddyProcess(List<String> launcher, String... args) throws IOException {
        this(command(launcher, List.of("-jar", jar()), args));
    }

    /**
     * Starts {@code java -cp eddy.jar io.eddy.cli.Main ARGS}: the jar on the class path, so without the flags its
     * manifest gives {@code java -jar}.
     */
    public static EddyProcess onClassPath(String... args) throws IOException {
        return new EddyProcess(command(List.of(), List.of("-cp", jar(), "io.eddy.cli.Main"), args));
    }

    private static String jar() {
        String jar = System.getProperty("eddy.jar");
        assertNotNull(jar, "system property eddy.jar (set by failsafe)");
        return jar;
    }

    private static List<String> command(List<String> launcher, List<String> javaArgs, String... args) {
        List<String> command = new ArrayList<>(launcher);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(javaArgs);
        command.addAll(List.of(args));
        return command;
    }

    private EddyProcess(List<String> command) throws IOException {
        process = new ProcessBuilder(command).start();
        readers.add(pump(process.getInputStream(), stdout::add));
        readers.add(pump(process.getErrorStream(), line -> stderr.append(line).append('\n')));
    }

    /** Feeds every line of {@code stream} to {@code sink} on a new virtual thread, until the stream ends. */
    public static Thread pump(InputStream stream, Consumer<String> sink) {
        return Thread.ofVirtual().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    sink.accept(line);
                }
            } catch (IOException closed) {
                // the process is gone
            }
        });
    }

    /** Reads the first line, which must be "listening on 127.0.0.1:PORT", and returns the address. */
    public InetSocketAddress awaitListening() throws InterruptedException {
        String line = stdout.next(TIMEOUT);
        Matcher m = LISTENING.matcher(line);
        assertTrue(m.matches(), "first line: " + line + "; stderr: " + stderr);
        return new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1)));
    }

    /** Sends {@code signal}, waits for the exit and for all the output, and returns the exit code. */
    public int stopWith(String signal) throws Exception {
        if (signal.equals("TERM")) {
            process.destroy(); // SIGTERM on Linux
        } else {
            Process kill = new ProcessBuilder("kill", "-" + signal, String.valueOf(process.pid())).start();
            assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + signal);
        }
        assertTrue(process.waitFor(10, TimeUnit.SECONDS), "still running 10 s after SIG" + signal);
        for (Thread reader : readers) {
            reader.join(TIMEOUT);
        }
        return process.exitValue();
    }

    @Override
    public void close() {
        if (process.isAlive()) {
            try {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // killed; not waiting for it is all that is lost
            }
        }
    }
}
