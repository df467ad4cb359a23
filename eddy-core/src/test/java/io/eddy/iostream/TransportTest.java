package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The transport seam under IOStream: a plain stream's ChannelTransport registers with the loop only while
 * the stream waits for something, and a TLS stream's TlsTransport is a layer that passes what it does not
 * handle itself (registration, a half-close) to the transport below.
 */
class TransportTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private IOLoop loop;
    private SocketChannel peer;      // blocking, the test's side
    private SocketChannel accepted;  // the stream's side

    @BeforeEach
    void open() throws IOException {
        loop = IOLoop.create();
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            peer = SocketChannel.open(server.getLocalAddress());
            accepted = server.accept();
        }
    }

    @AfterEach
    void close() throws Exception {
        peer.close();
        accepted.close();
        loop.close(true);
    }

    private <T> T sync(Callable<? extends CompletionStage<? extends T>> fn) throws Exception {
        return loop.runSync(fn, TIMEOUT);
    }

    private <T> T onLoop(Callable<T> fn) throws Exception {
        return loop.runSync(() -> CompletableFuture.completedFuture(fn.call()), TIMEOUT);
    }

    private int handlers() throws Exception {
        return onLoop(() -> loop.stats().handlers());
    }

    @Test
    void aPlainStreamRegistersWithTheLoopOnlyWhileItWaitsAndNotAtAllAfterClose() throws Exception {
        IOStream stream = new IOStream(accepted, loop, StreamOptions.defaults());
        assertInstanceOf(ChannelTransport.class, stream.core.transport);
        assertEquals(0, handlers(), "registered before the stream waited for anything");
        CompletableFuture<byte[]> read = onLoop(() -> stream.readBytes(3));
        assertEquals(1, handlers());
        peer.write(ByteBuffer.wrap("abc".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("abc", new String(sync(() -> read), StandardCharsets.US_ASCII));
        onLoop(() -> {
            stream.close();
            return null;
        });
        assertEquals(0, handlers());
        assertFalse(accepted.isOpen(), "the transport closed the channel");
    }

    @Test
    void channelShutdownOutputEndsThePeersInputWhileTheStreamStillReads() throws Exception {
        IOStream stream = new IOStream(accepted, loop, StreamOptions.defaults());
        sync(() -> stream.write("last".getBytes(StandardCharsets.US_ASCII)));
        onLoop(() -> {
            stream.core.transport.shutdownOutput();
            return null;
        });
        ByteBuffer got = ByteBuffer.allocate(16);
        while (peer.read(got) >= 0) {
            assertTrue(got.hasRemaining(), "more than was written");
        }
        assertEquals("last", new String(got.array(), 0, got.position(), StandardCharsets.US_ASCII));
        peer.write(ByteBuffer.wrap("after".getBytes(StandardCharsets.US_ASCII)));
        assertEquals("after", new String(sync(() -> stream.readBytes(5)), StandardCharsets.US_ASCII));
    }

    @Test
    void tlsShutdownOutputEndsThePeersInputAfterTheLastRecord() throws Exception {
        TestCertificates certs = TestCertificates.get();
        SSLIOStream server = new SSLIOStream(accepted, loop, StreamOptions.defaults(),
                certs.serverContext("TLS"), true, null);
        SSLIOStream client = new SSLIOStream(peerNonBlocking(), loop, StreamOptions.defaults(),
                certs.clientContext("TLS"), false, "localhost");
        assertInstanceOf(TlsTransport.class, server.core.transport);
        sync(server::waitForHandshake);
        sync(client::waitForHandshake);
        sync(() -> client.write("hello".getBytes(StandardCharsets.US_ASCII)));
        CompletableFuture<byte[]> clientGot = onLoop(() -> {
            server.write("goodbye".getBytes(StandardCharsets.US_ASCII));
            server.core.transport.shutdownOutput(); // no close_notify: the client sees the TCP end of stream
            return client.readUntilClose();
        });
        assertEquals("hello", new String(sync(() -> server.readBytes(5)), StandardCharsets.US_ASCII),
                "the half-closed side still reads and decrypts");
        assertEquals("goodbye", new String(sync(() -> clientGot), StandardCharsets.US_ASCII));
        onLoop(() -> {
            server.close();
            return null;
        });
        assertEquals(0, handlers(), "closing through the TLS layer deregisters the channel below");
        assertFalse(accepted.isOpen());
    }

    private SocketChannel peerNonBlocking() throws IOException {
        peer.configureBlocking(false);
        return peer;
    }
}
