package io.eddy.reliability;

import io.eddy.reliability.Fixture.EchoServer;
import io.eddy.reliability.Fixture.Kind;
import io.eddy.reliability.Fixture.LogCapture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Half-close: clients that send, then shut down their output (FIN), and read. Each gets every byte it
 * sent echoed back, then end of stream: the server finishes echoing before it closes.
 */
class HalfCloseTest {

    /** From an empty message to 4 MiB, more than the socket buffers of both sides hold. */
    private static final int[] SIZES = {0, 1, 100, 4096, 65_536, 65_537, 1 << 20, 4 << 20};
    /** Each size this many times, all connections at once. */
    private static final int COPIES = 3;

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aClientThatSendsThenShutsDownItsOutputGetsEveryByteEchoedThenEndOfStream(Kind kind) throws Exception {
        try (LogCapture log = new LogCapture(); EchoServer server = Fixture.start(kind)) {
            int fds = server.warmUpAndCountFds();

            List<Socket> sockets = new ArrayList<>();
            List<CompletableFuture<Void>> clients = new ArrayList<>();
            try {
                int seed = 0;
                for (int copy = 0; copy < COPIES; copy++) {
                    for (int size : SIZES) {
                        Socket s = new Socket();
                        sockets.add(s);
                        s.connect(server.address, (int) Fixture.TIMEOUT.toMillis());
                        s.setSoTimeout((int) Fixture.TIMEOUT.toMillis());
                        byte[] data = Fixture.pattern(size, seed++);
                        // Written from a thread of its own: the echo comes back while it is sent.
                        CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                            try {
                                OutputStream out = s.getOutputStream();
                                out.write(data);
                                s.shutdownOutput();
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                        }, Fixture.THREADS);
                        clients.add(CompletableFuture.runAsync(() -> {
                            try {
                                InputStream in = s.getInputStream();
                                byte[] echoed = in.readNBytes(size);
                                assertArrayEquals(data, echoed, "echo of " + size + " bytes");
                                assertEquals(-1, in.read(), "end of stream after the " + size + " bytes echoed");
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                        }, Fixture.THREADS).thenCombine(sent, (a, b) -> null));
                    }
                }
                CompletableFuture.allOf(clients.toArray(CompletableFuture[]::new))
                        .get(Fixture.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } finally {
                for (Socket s : sockets) {
                    s.close();
                }
            }

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("HalfCloseTest %s: %d clients (%d sizes, 0 B to 4 MiB), fds %d -> %d%n",
                    kind, clients.size(), SIZES.length, fds, fdsAfter);
        }
    }
}
