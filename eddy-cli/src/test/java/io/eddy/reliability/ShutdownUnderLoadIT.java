package io.eddy.reliability;

import io.eddy.cli.EddyProcess;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shutdown under load: {@code eddy echo} with 100 connections in the middle of echoing gets SIGTERM. It exits
 * 0 within 5 s, and every client sees its connection end (EOF or a reset): none is left hanging. Until the
 * signal, every byte each client sent came back, in order.
 */
class ShutdownUnderLoadIT {

    private static final int CONNECTIONS = 100;
    private static final int MESSAGE = 1024;
    private static final long EXIT_WITHIN_SECONDS = 5;
    /** A client that has not seen its connection end this long after the exit is hanging. */
    private static final int READ_TIMEOUT_MILLIS = 10_000;

    /** How a client's connection ended. */
    private enum End { EOF, RESET, HUNG }

    @ParameterizedTest(name = "eddy echo {0}")
    @ValueSource(strings = {"--loops=2", "--raw"})
    void sigtermMidEchoExitsZeroWithinFiveSecondsAndEndsEveryConnection(String mode) throws Exception {
        try (EddyProcess eddy = new EddyProcess("echo", "--port", "0", "--quiet", mode)) {
            InetSocketAddress address = eddy.awaitListening();
            CountDownLatch echoing = new CountDownLatch(CONNECTIONS);
            List<CompletableFuture<End>> ends = new ArrayList<>();
            List<Socket> sockets = new ArrayList<>();
            try {
                for (int i = 0; i < CONNECTIONS; i++) {
                    Socket socket = new Socket();
                    sockets.add(socket);
                    socket.connect(address, 10_000);
                    socket.setSoTimeout(READ_TIMEOUT_MILLIS);
                    CompletableFuture<End> end = new CompletableFuture<>();
                    ends.add(end);
                    int id = i;
                    Thread.ofVirtual().start(() -> end.complete(echoUntilTheEnd(socket, id, echoing)));
                }
                assertTrue(echoing.await(20, TimeUnit.SECONDS), "every client echoed at least once");

                long start = System.nanoTime();
                eddy.process.destroy(); // SIGTERM
                boolean exited = eddy.process.waitFor(EXIT_WITHIN_SECONDS, TimeUnit.SECONDS);
                double seconds = (System.nanoTime() - start) / 1e9;
                assertTrue(exited, "still running " + EXIT_WITHIN_SECONDS + " s after SIGTERM");
                assertEquals(0, eddy.process.exitValue(), "exit code; stderr: " + eddy.stderr);

                int[] counts = new int[End.values().length];
                for (CompletableFuture<End> end : ends) {
                    counts[end.get(30, TimeUnit.SECONDS).ordinal()]++;
                }
                System.out.printf("[reliability] SIGTERM under load, eddy echo %s: exit 0 after %.2f s; "
                        + "%d connections: %d EOF, %d reset, %d hung%n", mode, seconds, CONNECTIONS,
                        counts[End.EOF.ordinal()], counts[End.RESET.ordinal()], counts[End.HUNG.ordinal()]);
                assertEquals(0, counts[End.HUNG.ordinal()], "connections left hanging: " + Arrays.toString(counts));
            } finally {
                for (Socket s : sockets) {
                    s.close();
                }
            }
        }
    }

    /**
     * Sends numbered messages and checks each echo until the connection ends; counts down {@code echoing}
     * after the first echo. Fails (by throwing) if an echo comes back wrong.
     */
    private static End echoUntilTheEnd(Socket socket, int id, CountDownLatch echoing) {
        byte[] out = new byte[MESSAGE];
        byte[] in = new byte[MESSAGE];
        try {
            OutputStream o = socket.getOutputStream();
            InputStream i = socket.getInputStream();
            for (int n = 0; ; n++) {
                Arrays.fill(out, (byte) (id + n));
                o.write(out);
                int got = 0;
                while (got < MESSAGE) {
                    int r = i.read(in, got, MESSAGE - got);
                    if (r < 0) {
                        return End.EOF;
                    }
                    got += r;
                }
                if (!Arrays.equals(out, in)) {
                    throw new AssertionError("connection " + id + ": message " + n + " came back changed");
                }
                if (n == 0) {
                    echoing.countDown();
                }
            }
        } catch (SocketTimeoutException e) {
            return End.HUNG;
        } catch (SocketException e) {
            return End.RESET; // "Connection reset", or a write after the peer closed ("Broken pipe")
        } catch (IOException e) {
            throw new AssertionError("connection " + id + ": " + e, e);
        }
    }
}
