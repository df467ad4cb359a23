package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

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
    void aResetOnAStreamThatWaitsForNothingIsNotReportedOnEveryPollAndItsNextReadFails() throws Exception {
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
            peer.close(); // RST: epoll reports it whatever the interest, unless the socket is out of its set

            // The loop is idle, not woken by the reset on every poll: a callback a few ms later finds it asleep.
            long before = serving.loop.stats().iterations();
            CompletableFuture<Long> later = new CompletableFuture<>();
            serving.loop.addCallback(() -> serving.loop.callLater(java.time.Duration.ofMillis(50),
                    () -> later.complete(serving.loop.stats().iterations())));
            long after = later.get(10, TimeUnit.SECONDS);
            assertTrue(after - before < 100, "the loop is not spinning: " + (after - before) + " iterations in 50 ms");

            // The stream learns of the reset when it reads again, as on nio.
            java.util.concurrent.ExecutionException failed = org.junit.jupiter.api.Assertions.assertThrows(
                    java.util.concurrent.ExecutionException.class,
                    () -> serving.loop.submit(() -> stream.readBytes(1)).get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS));
            assertInstanceOf(io.eddy.iostream.StreamClosedException.class, failed.getCause());
            assertTrue(stream.closed());
        }
    }
}
