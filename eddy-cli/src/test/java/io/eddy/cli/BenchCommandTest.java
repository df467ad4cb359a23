package io.eddy.cli;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code eddy bench} in process against the stream echo server (also in process), and its usage errors. */
final class BenchCommandTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private StreamEchoServer server;

    @AfterEach
    void stopServer() throws InterruptedException {
        if (server != null) {
            server.shutdown();
        }
    }

    private int eddy(String... args) {
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String port() throws IOException {
        server = StreamEchoServer.start("127.0.0.1", 0, 1, null, null);
        return String.valueOf(server.address().getPort());
    }

    private static long number(String json, String field) {
        Matcher m = Pattern.compile("\"" + field + "\":(\\d+)").matcher(json);
        assertTrue(m.find(), field + " in " + json);
        return Long.parseLong(m.group(1));
    }

    @Test
    void echoLoadChecksEveryByteAndReportsMessagesAndLatencyAsJson() throws Exception {
        assertEquals(0, eddy("bench", "--port", port(), "--connections", "4", "--depth", "3", "--size", "1000",
                "--warmup", "200ms", "--duration", "500ms", "--json", "--quiet"), err.toString());
        String json = out.toString(StandardCharsets.UTF_8).strip();
        assertTrue(json.startsWith("{\"mode\":\"echo\",\"target\":\"127.0.0.1:"), json);
        long messages = number(json, "operations");
        assertTrue(messages > 0, json);
        assertEquals(messages * 1000, number(json, "bytes"));
        assertEquals(0, number(json, "errors"));
        assertTrue(json.contains("\"latencyMicros\":{\"p50\":"), json);
        assertEquals("", err.toString());
    }

    @Test
    void withoutJsonItPrintsALineASecondThenTheReport() throws Exception {
        assertEquals(0, eddy("bench", "--port", port(), "--connections", "2", "--warmup", "0s", "--duration", "1100ms"),
                err.toString());
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.lines().anyMatch(l -> l.startsWith("measure ") && l.contains("msg/s")), text);
        assertTrue(text.contains("echo to 127.0.0.1:"), text);
        assertTrue(text.contains("messages/s") && text.contains("latency us: p50"), text);
    }

    @Test
    void aConnectStormCountsConnectionsOpenedEchoedAndClosed() throws Exception {
        assertEquals(0, eddy("bench", "--port", port(), "--connect-storm", "--connections", "4",
                "--warmup", "0s", "--duration", "500ms", "--json", "--quiet"), err.toString());
        String json = out.toString(StandardCharsets.UTF_8);
        assertTrue(json.contains("\"mode\":\"connect-storm\""), json);
        assertTrue(number(json, "operations") > 0, json);
        assertEquals(0, number(json, "errors"));
    }

    @Test
    void idleHoldsTheConnectionsAndReportsHowManyTheServerKept() throws Exception {
        assertEquals(0, eddy("bench", "--port", port(), "--idle", "200", "--duration", "300ms"), err.toString());
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("holding 200 idle connections"), text);
        assertTrue(text.contains("idle: 200 connections held to 127.0.0.1:" + server.address().getPort()
                + "; the server kept 200"), text);
    }

    @Test
    void anEchoThatAltersAByteFailsTheRunNamingTheMessageAndByte() throws Exception {
        try (ServerSocket corrupting = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                try (Socket s = corrupting.accept(); InputStream in = s.getInputStream(); OutputStream o = s.getOutputStream()) {
                    byte[] b = in.readNBytes(64);
                    b[17] ^= 1;
                    o.write(b);
                    in.transferTo(OutputStream.nullOutputStream());
                } catch (IOException ignored) {
                    // the client closed
                }
            });
            assertEquals(1, eddy("bench", "--port", String.valueOf(corrupting.getLocalPort()), "--connections", "1",
                    "--warmup", "0s", "--duration", "10s", "--quiet"));
        }
        String e = err.toString();
        assertTrue(e.contains("failed: connection 0: the echo of message 0 differs from what was sent at byte 17"), e);
        assertEquals(1, e.lines().count(), e);
    }

    @Test
    void aRefusedConnectionFailsWithExitCode1() throws Exception {
        int free;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            free = s.getLocalPort();
        }
        assertEquals(1, eddy("bench", "--port", String.valueOf(free), "--duration", "1s"));
        assertTrue(err.toString().startsWith("eddy: bench against 127.0.0.1:" + free + " failed: "), err.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"--port=0", "--connections=0", "--size=0", "--depth=0", "--duration=0s", "--duration=soon",
            "--warmup=-1s", "--idle=0"})
    void badValuesAreOneLineUsageErrors(String flag) {
        assertEquals(2, eddy("bench", flag));
        assertEquals(1, err.toString().lines().count(), err.toString());
        assertTrue(err.toString().contains(flag.split("=")[0]), err.toString());
    }

    @Test
    void connectStormAndIdleAreExclusive() {
        assertEquals(2, eddy("bench", "--connect-storm", "--idle", "5"));
        assertTrue(err.toString().contains("choose one"), err.toString());
    }
}
