package io.eddy.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.aggregator.ArgumentsAccessor;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every flag of {@code eddy echo} and {@code eddy bench} given a bad value: a one-line error on stderr
 * naming the flag and the value, nothing on stdout, exit code 2, and nothing started (each value is
 * refused before a socket is opened). MainTest and BenchCommandTest cover the first few values of each
 * flag; these are the rest: empty, huge, overflowing, malformed and repeated values.
 */
@org.junit.jupiter.api.Timeout(30)
final class FlagsBadInputTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int eddy(String... args) {
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    /** Runs {@code eddy args} and asserts a one-line usage error containing every one of {@code named}. */
    private void assertUsageError(String[] args, String... named) {
        assertEquals(2, eddy(args), "exit code of eddy " + String.join(" ", args) + "; stderr: " + err);
        String e = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, e.lines().count(), "one line: " + e);
        assertTrue(e.startsWith("eddy: "), e);
        for (String n : named) {
            assertTrue(e.contains(n), "the error should name '" + n + "': " + e);
        }
        assertEquals("", out.toString(StandardCharsets.UTF_8), "nothing on stdout, nothing started");
    }

    @ParameterizedTest(name = "echo {0} {1}")
    @CsvSource({
            "--port, 99999999999",
            "--port, -2147483648",
            "--port, 0x10",
            "--port, ''",
            "--loops, 1025",
            "--loops, 2147483647",
            "--loops, -2147483648",
            "--loops, many",
            "--loops, 1.5",
            "--backlog, 0",
            "--backlog, -1",
            "--backlog, 2147483648",
            "--backlog, lots",
            "--raw, maybe",
            "--quiet, 2",
            "--tls, yes-please",
    })
    void echoRefusesABadValueNamingFlagAndValue(String flag, String value) {
        // --port=0 as a safety net: should a value pass, the server would not take the default port.
        String[] args = flag.equals("--port") ? new String[]{"echo", flag + "=" + value}
                : new String[]{"echo", flag + "=" + value, "--port=0"};
        assertUsageError(args, flag, value);
    }

    @ParameterizedTest(name = "bench {0} {1}")
    @CsvSource({
            "--host, ''",
            "--host, '   '",
            "--port, 65536",
            "--port, -1",
            "--port, 99999999999",
            "--connections, 100001",
            "--connections, -5",
            "--connections, lots",
            "--size, 16777217",
            "--size, -1",
            "--size, 2147483648",
            "--depth, 10001",
            "--depth, -1",
            "--duration, 2h, PT2H",
            "--duration, -5s, PT-5S",
            "--duration, ''",
            "--duration, PTxyz",
            "--duration, 153722867280912931m",
            "--duration, 9999999999999999999h",
            "--warmup, 61m, PT1H1M",
            "--warmup, soonish",
            "--idle, 100001",
            "--idle, -1",
            "--idle, all",
            "--json, maybe",
            "--connect-storm, sure",
            "--quiet, 0.5",
    })
    void benchRefusesABadValueNamingFlagAndValue(ArgumentsAccessor row) {
        String flag = row.getString(0);
        String value = row.getString(1);
        // A duration is named as typed when it cannot be read, in ISO-8601 form (a third column) when out of range.
        String shownAs = row.size() > 2 ? row.getString(2) : value;
        assertUsageError(new String[]{"bench", flag + "=" + value}, flag, shownAs);
    }

    @Test
    void aFlagGivenTwiceOrWithoutItsValueIsAUsageError() {
        assertUsageError(new String[]{"echo", "--port", "1", "--port", "2"}, "--port");
        err.reset();
        assertUsageError(new String[]{"echo", "--loops"}, "--loops");
        err.reset();
        assertUsageError(new String[]{"bench", "--duration"}, "--duration");
        err.reset();
        assertUsageError(new String[]{"bench", "--size", "64", "--size", "128"}, "--size");
    }

    @Test
    void anOverflowingDurationIsRefusedNamingWhatWasTyped() {
        // 153722867280912931 minutes is more seconds than a long holds: not a wrapped, negative duration.
        assertUsageError(new String[]{"bench", "--warmup", "153722867280912931m"}, "--warmup", "153722867280912931m");
    }

    @Test
    void aPortInUseForTheStreamServerLeavesNoLoopOpen() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            String port = String.valueOf(taken.getLocalPort());
            assertEquals(1, eddy("echo", "--port", port)); // once first: classes and jars opened once
            long before = openFileDescriptors();
            for (int i = 0; i < 3; i++) {
                assertEquals(1, eddy("echo", "--port", port, "--loops", "2"));
            }
            assertEquals(before, openFileDescriptors(), "each failed start left a loop's selector open");
        }
    }

    private static long openFileDescriptors() throws java.io.IOException {
        try (java.util.stream.Stream<java.nio.file.Path> fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }
}
