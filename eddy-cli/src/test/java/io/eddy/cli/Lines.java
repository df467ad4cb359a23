package io.eddy.cli;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Lines printed by a server, for a test to wait on instead of sleeping. Any thread adds lines (through
 * {@link #add} or {@link #printStream()}); one test thread takes them.
 */
public final class Lines {

    private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();

    public void add(String line) {
        queue.add(line);
    }

    /** A stream whose every line (without its line separator) is added; for one writing thread. */
    public PrintStream printStream() {
        OutputStream sink = new OutputStream() {
            private final ByteArrayOutputStream line = new ByteArrayOutputStream();

            @Override
            public void write(int b) {
                if (b == '\n') {
                    add(line.toString(StandardCharsets.UTF_8).replace("\r", ""));
                    line.reset();
                } else {
                    line.write(b);
                }
            }
        };
        return new PrintStream(sink, true, StandardCharsets.UTF_8);
    }

    /** The next line; fails if none comes within {@code timeout}. */
    public String next(Duration timeout) throws InterruptedException {
        String line = queue.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (line == null) {
            fail("no line printed within " + timeout);
        }
        return line;
    }

    /** Takes lines until one equals {@code expected}; fails if it does not come within {@code timeout}. */
    public void await(String expected, Duration timeout) throws InterruptedException {
        awaitMatching(expected::equals, "'" + expected + "'", timeout);
    }

    /** Takes lines until one starts with {@code prefix} and returns it; fails if none comes within {@code timeout}. */
    public String awaitStartingWith(String prefix, Duration timeout) throws InterruptedException {
        return awaitMatching(line -> line.startsWith(prefix), "starting with '" + prefix + "'", timeout);
    }

    private String awaitMatching(Predicate<String> wanted, String description, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> skipped = new ArrayList<>();
        while (true) {
            String line = queue.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            if (line == null) {
                return fail("no line " + description + " printed within " + timeout + "; printed instead: " + skipped);
            }
            if (wanted.test(line)) {
                return line;
            }
            skipped.add(line);
        }
    }

    /** The lines added and not taken yet. */
    public List<String> drain() {
        List<String> rest = new ArrayList<>();
        queue.drainTo(rest);
        return rest;
    }
}
