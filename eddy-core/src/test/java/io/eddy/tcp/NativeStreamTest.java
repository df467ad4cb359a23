package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;

import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Streams on the epoll backend own their sockets natively (whatever {@code -Deddy.backend} the rest of the
 * suite runs on), and act on what only epoll reports: a reset seen as ERROR on a stream that waits for nothing.
 */
class NativeStreamTest {

    private static IOLoop epoll() {
        return IOLoop.builder().backend("epoll").build();
    }

    @Test
    void serverAndClientStreamsOnEpollHaveNoChannelAndKnowTheirAddresses() throws Exception {
        CompletableFuture<IOStream> accepted = new CompletableFuture<>();
        TCPServer server = new TCPServer((stream, address) -> {
            accepted.complete(stream);
            return stream.readUntil("\n".getBytes(StandardCharsets.US_ASCII)).thenCompose(stream::write);
        });
        try (ServingLoop serving = new ServingLoop(epoll(), server, "native-server");
             IOLoop client = epoll()) {
            IOStream stream = client.runSync(() -> new TCPClient().connect("127.0.0.1", serving.address().getPort()));
            assertNull(stream.channel(), "a native stream has no SocketChannel");
            assertEquals(serving.address(), stream.remoteAddress());
            byte[] echoed = client.runSync(() -> stream.write("native\n".getBytes(StandardCharsets.US_ASCII))
                    .thenCompose(v -> stream.readBytes(7)));
            assertArrayEquals("native\n".getBytes(StandardCharsets.US_ASCII), echoed);

            IOStream serverSide = accepted.get(10, TimeUnit.SECONDS);
            assertNull(serverSide.channel());
            assertEquals(stream.localAddress(), serverSide.remoteAddress());
            client.runSync(() -> {
                stream.close();
                return CompletableFuture.completedFuture(null);
            });
        }
    }

    @Test
    void aResetOnAStreamThatWaitsForNothingClosesItInsteadOfReportingForever() throws Exception {
        CompletableFuture<Void> reading = new CompletableFuture<>();
        CompletableFuture<IOStream> readDone = new CompletableFuture<>();
        TCPServer server = new TCPServer((stream, address) -> {
            CompletableFuture<byte[]> read = stream.readBytes(5); // waits for READ: registered with the loop
            reading.complete(null);
            return read.thenRun(() -> readDone.complete(stream)); // then waits for nothing
        });
        try (ServingLoop serving = new ServingLoop(epoll(), server, "native-reset");
             Socket peer = new Socket()) {
            peer.connect(serving.address(), 10_000);
            reading.get(10, TimeUnit.SECONDS);
            peer.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
            IOStream stream = readDone.get(10, TimeUnit.SECONDS);
            peer.setSoLinger(true, 0);
            peer.close(); // RST: epoll reports ERROR although the stream asked for no event

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!stream.closed() && System.nanoTime() - deadline < 0) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
            assertTrue(stream.closed(), "the reset closed the stream (else the loop would see it on every poll)");
            assertInstanceOf(SocketException.class, stream.error());
            assertTrue(stream.error().getMessage().startsWith("Connection reset"), stream.error().getMessage());
            long before = serving.loop.stats().iterations();
            assertEquals("ran", serving.loop.submit(() -> "ran").get(10, TimeUnit.SECONDS));
            long after = serving.loop.stats().iterations();
            assertTrue(after - before < 1_000, "the loop is not spinning: " + (after - before) + " iterations for one callback");
        }
    }
}
