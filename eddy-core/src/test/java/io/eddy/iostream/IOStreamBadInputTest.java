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
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;

import static io.eddy.ioloop.BadInput.assertFails;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad values given to {@link IOStream} and {@link StreamOptions}: by SPEC §2.1 a null argument throws
 * {@link NullPointerException} and an invalid one {@link IllegalArgumentException} (naming it), every
 * other failure arrives through the future, and the stream still echoes afterwards.
 */
@org.junit.jupiter.api.Timeout(20)
class IOStreamBadInputTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private IOLoop loop;
    private ServerSocketChannel server;
    private SocketChannel peer;      // blocking, the test's side
    private SocketChannel accepted;  // the stream's side
    private IOStream stream;

    @BeforeEach
    void open() throws IOException {
        loop = IOLoop.create();
        server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        peer = SocketChannel.open(server.getLocalAddress());
        accepted = server.accept();
        stream = new IOStream(accepted, loop, StreamOptions.defaults());
    }

    @AfterEach
    void close() throws Exception {
        peer.close();
        accepted.close();
        server.close();
        if (!loop.isClosed()) {
            loop.close(true);
        }
    }

    private <T> T sync(Callable<? extends CompletionStage<? extends T>> fn) throws Exception {
        return loop.runSync(fn, TIMEOUT);
    }

    /** The stream still carries bytes both ways: the peer's line is read, and written back to it. */
    private void assertStreamEchoes(IOStream s) throws Exception {
        peer.write(ByteBuffer.wrap("still here\n".getBytes(StandardCharsets.ISO_8859_1)));
        byte[] line = sync(() -> s.readUntil(new byte[]{'\n'}).thenCompose(l -> s.write(l).thenApply(v -> l)));
        assertEquals("still here\n", new String(line, StandardCharsets.ISO_8859_1));
        ByteBuffer back = ByteBuffer.allocate(line.length);
        while (back.hasRemaining()) {
            assertTrue(peer.read(back) >= 0, "the peer got end of stream");
        }
        assertArrayEquals(line, back.array());
    }

    @Test
    void nullArgumentsThrowNamingTheParameterAndTheStreamGoesOn() throws Exception {
        SSLContext tls = SSLContext.getDefault();
        assertFails(NullPointerException.class, () -> stream.readUntil(null, 10), "delimiter");
        assertFails(NullPointerException.class, () -> stream.readUntilRegex(null, 10), "pattern");
        assertFails(NullPointerException.class, () -> stream.readInto(null, true), "dst");
        assertFails(NullPointerException.class, () -> stream.write((ByteBuffer) null), "data");
        assertFails(NullPointerException.class, () -> stream.write((byte[]) null), "data");
        assertFails(NullPointerException.class, () -> stream.connect(null), "address");
        assertFails(NullPointerException.class, () -> stream.setCloseCallback(null), "callback");
        assertFails(NullPointerException.class, () -> stream.startTls(true, null, null), "ctx");
        assertFails(NullPointerException.class, () -> stream.startTls(false, tls, null), "serverHostname");
        assertFails(NullPointerException.class, () -> new IOStream(null, loop, StreamOptions.defaults()), "channel");
        assertFails(NullPointerException.class, () -> new IOStream(accepted, null, StreamOptions.defaults()), "loop");
        assertFails(NullPointerException.class, () -> new IOStream(accepted, loop, null), "options");
        assertFalse(stream.reading(), "no read was left pending");
        assertStreamEchoes(stream);
    }

    @Test
    void negativeAndZeroSizesThrowNamingTheValueAndTheStreamGoesOn() throws Exception {
        assertFails(IllegalArgumentException.class, () -> stream.readBytes(-1), "-1");
        assertFails(IllegalArgumentException.class, () -> stream.readBytes(Integer.MIN_VALUE, true), "-2147483648");
        assertFails(IllegalArgumentException.class, () -> stream.readUntil(new byte[]{'\n'}, -5), "maxBytes", "-5");
        assertFails(IllegalArgumentException.class, () -> stream.readUntil(new byte[]{'\n'}, 0), "maxBytes", "0");
        assertFails(IllegalArgumentException.class, () -> stream.readUntilRegex(Pattern.compile("\n"), 0), "maxBytes", "0");
        assertFails(IllegalArgumentException.class, () -> stream.readUntil(new byte[0]), "delimiter", "empty");
        assertFalse(stream.reading());
        assertStreamEchoes(stream);
    }

    @Test
    void connectingAConnectedStreamFailsTheFutureAndTheStreamGoesOn() throws Exception {
        Throwable e = assertThrows(IllegalStateException.class, () -> sync(() -> stream.connect(server.getLocalAddress())));
        assertTrue(e.getMessage().contains("already connected"), e.getMessage());
        assertFalse(stream.closed());
        assertStreamEchoes(stream);
    }

    @Test
    void everyOperationOnAClosedStreamFailsItsFutureWithoutThrowing() throws Exception {
        stream.close();
        assertInstanceOf(StreamClosedException.class, assertThrows(Exception.class, () -> sync(() -> stream.readBytes(1))));
        assertInstanceOf(StreamClosedException.class, assertThrows(Exception.class, () -> sync(() -> stream.readUntil(new byte[]{'x'}))));
        assertInstanceOf(StreamClosedException.class,
                assertThrows(Exception.class, () -> sync(() -> stream.connect(server.getLocalAddress()))));
        IllegalStateException tls = assertThrows(IllegalStateException.class,
                () -> sync(() -> stream.startTls(true, SSLContext.getDefault(), null)));
        assertTrue(tls.getMessage().contains("closed"), tls.getMessage());
        CompletableFuture<String> callback = new CompletableFuture<>();
        stream.setCloseCallback(() -> callback.complete("ran"));
        assertEquals("ran", sync(() -> callback), "a close callback set after the close still runs");
        stream.close();
        stream.close(new IOException("a second cause is ignored"));
        assertEquals(null, stream.error());
    }

    @Test
    void aReadOnlyBufferForReadIntoIsRefusedAtOnceAndTheStreamGoesOn() throws Exception {
        ByteBuffer readOnly = ByteBuffer.allocate(8).asReadOnlyBuffer();
        // On the loop thread, where the read starts at once.
        IllegalArgumentException e = sync(() -> CompletableFuture.completedFuture(
                assertFails(IllegalArgumentException.class, () -> stream.readInto(readOnly, false), "read-only")));
        assertTrue(e.getMessage().contains(readOnly.toString()), e.getMessage());
        assertFalse(stream.reading(), "no read was left pending");
        assertStreamEchoes(stream);
    }

    @Test
    void aReadLargerThanTheBufferLimitIsRefusedAtOnceInsteadOfClosingTheStreamLater() throws Exception {
        IOStream small = new IOStream(accepted, loop, StreamOptions.defaults().withMaxBufferSize(1024));
        assertFails(IllegalArgumentException.class, () -> small.readBytes(1025), "1025", "1024");
        assertStreamEchoes(small);
    }

    @Test
    void anUnresolvedAddressIsRefusedAtConnectAndTheStreamCanStillConnect() throws Exception {
        SocketChannel channel = SocketChannel.open();
        try {
            IOStream client = new IOStream(channel, loop, StreamOptions.defaults());
            InetSocketAddress unresolved = InetSocketAddress.createUnresolved("no-such-host.invalid", 80);
            assertFails(IllegalArgumentException.class, () -> client.connect(unresolved), "no-such-host.invalid");
            assertFalse(client.closed());
            assertEquals(client, sync(() -> client.connect(server.getLocalAddress())));
            try (SocketChannel serverSide = server.accept()) {
                assertTrue(serverSide.isConnected());
            }
            client.close();
        } finally {
            channel.close();
        }
    }

    @Test
    void closingAStreamAfterItsLoopClosedReleasesTheSocketWithoutThrowing() throws Exception {
        loop.close(); // without its channels: the stream's socket is still open
        stream.close();
        assertTrue(stream.closed());
        assertFalse(accepted.isOpen(), "the socket was released");
        ByteBuffer b = ByteBuffer.allocate(1);
        assertEquals(-1, peer.read(b), "the peer sees the close");
    }

    @Test
    void aStreamOnAClosedChannelIsRefusedNamingTheChannel() throws Exception {
        SocketChannel closedChannel = SocketChannel.open();
        closedChannel.close();
        IllegalArgumentException e = assertFails(IllegalArgumentException.class,
                () -> new IOStream(closedChannel, loop, StreamOptions.defaults()), "closed");
        assertTrue(e.getMessage().contains(closedChannel.toString()), e.getMessage());
        assertStreamEchoes(stream);
    }

    // ---------------------------------------------------------------- StreamOptions

    @Test
    void streamOptionsRefuseZeroAndNegativeValuesNamingThem() {
        StreamOptions d = StreamOptions.defaults();
        assertFails(IllegalArgumentException.class, () -> d.withMaxBufferSize(-1), "maxBufferSize", "-1");
        assertFails(IllegalArgumentException.class, () -> d.withReadChunkSize(0), "readChunkSize", "0");
        assertFails(IllegalArgumentException.class, () -> d.withMaxWriteBufferSize(Integer.MIN_VALUE),
                "maxWriteBufferSize", "-2147483648");
        StreamOptions tiny = d.withMaxBufferSize(1);
        assertEquals(1, tiny.readChunkSize(), "clamped to maxBufferSize / 2, but at least 1");
        StreamOptions huge = d.withMaxBufferSize(Integer.MAX_VALUE).withReadChunkSize(Integer.MAX_VALUE);
        assertEquals(Integer.MAX_VALUE / 2, huge.readChunkSize());
        assertEquals(d, d.withMaxBufferSize(d.maxBufferSize()), "the defaults are still there after the refusals");
    }
}
