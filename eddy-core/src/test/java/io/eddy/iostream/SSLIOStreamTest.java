package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.VirtualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SSLIOStream and IOStream.startTls over loopback, both ends on one loop (SPEC §2.1–2.2, reference §4.6). */
class SSLIOStreamTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final TestCertificates CERTS = TestCertificates.get();

    private IOLoop loop;
    private ServerSocketChannel listener;
    private SocketChannel clientChannel;
    private SocketChannel serverChannel;

    @BeforeEach
    void open() throws IOException {
        loop = IOLoop.create();
        listener = ServerSocketChannel.open();
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @AfterEach
    void close() throws Exception {
        listener.close();
        if (clientChannel != null) {
            clientChannel.close();
        }
        if (serverChannel != null) {
            serverChannel.close();
        }
        loop.close(true);
    }

    /** Connects a blocking client channel to the listener and accepts it. */
    private void pair() throws IOException {
        clientChannel = SocketChannel.open(listener.getLocalAddress());
        serverChannel = listener.accept();
    }

    private <T> T sync(Callable<? extends CompletionStage<? extends T>> fn) throws Exception {
        return loop.runSync(fn, TIMEOUT);
    }

    private <T> T onLoop(Callable<T> fn) throws Exception {
        return loop.runSync(() -> CompletableFuture.completedFuture(fn.call()), TIMEOUT);
    }

    /** Echoes whatever arrives until the stream closes. */
    private static void echo(IOStream s) {
        s.readBytes(64 * 1024, true).thenCompose(s::write).whenComplete((v, e) -> {
            if (e == null) {
                echo(s);
            }
        });
    }

    private SSLIOStream server(SSLContext ctx) {
        return new SSLIOStream(serverChannel, loop, StreamOptions.defaults(), ctx, true, null);
    }

    private SSLIOStream client(SSLContext ctx, String host) {
        return new SSLIOStream(clientChannel, loop, StreamOptions.defaults(), ctx, false, host);
    }

    /** 1 MiB in one write, then 1000 small writes, echoed back byte for byte. */
    private void echoBothWays(IOStream client, IOStream server) throws Exception {
        onLoop(() -> {
            echo(server);
            return null;
        });
        byte[] big = new byte[1 << 20];
        new Random(1).nextBytes(big);
        assertArrayEquals(big, sync(() -> {
            client.write(big);
            return client.readBytes(big.length);
        }));
        Random random = new Random(2);
        ByteBuffer all = ByteBuffer.allocate(1000 * 200);
        byte[][] messages = new byte[1000][];
        for (int i = 0; i < messages.length; i++) {
            messages[i] = new byte[1 + random.nextInt(200)];
            random.nextBytes(messages[i]);
            all.put(messages[i]);
        }
        byte[] expected = java.util.Arrays.copyOf(all.array(), all.position());
        assertArrayEquals(expected, sync(() -> {
            CompletableFuture<Void> last = null;
            for (byte[] m : messages) {
                last = client.write(m);
            }
            CompletableFuture<Void> written = last;
            return client.readBytes(expected.length).thenCombine(written, (b, v) -> b);
        }));
    }

    @Test
    void tls13EchoesAMebibyteAndManySmallMessages() throws Exception {
        pair();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        SSLIOStream client = client(CERTS.clientContext("TLS"), "localhost");
        sync(() -> CompletableFuture.allOf(client.waitForHandshake(), server.waitForHandshake()));
        assertEquals("TLSv1.3", onLoop(() -> client.session().getProtocol()));
        echoBothWays(client, server);
    }

    @Test
    void tls12EchoesAMebibyteAndManySmallMessages() throws Exception {
        pair();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        SSLIOStream client = client(CERTS.clientContext("TLSv1.2"), "127.0.0.1");
        sync(() -> CompletableFuture.allOf(client.waitForHandshake(), server.waitForHandshake()));
        assertEquals("TLSv1.2", onLoop(() -> client.session().getProtocol()));
        assertEquals("TLSv1.2", onLoop(() -> server.session().getProtocol()));
        echoBothWays(client, server);
    }

    @Test
    void connectCompletesAfterTheHandshakeAndWritesIssuedMeanwhileArrive() throws Exception {
        clientChannel = SocketChannel.open();
        SSLIOStream client = client(CERTS.clientContext("TLS"), "localhost");
        CompletableFuture<IOStream> connected = onLoop(() -> {
            CompletableFuture<IOStream> f = client.connect(listener.getLocalAddress());
            client.write("early".getBytes(StandardCharsets.US_ASCII));
            return f;
        });
        serverChannel = listener.accept();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        assertSame(client, sync(() -> connected));
        assertTrue(client.waitForHandshake().isDone());
        assertEquals("early", new String(sync(() -> server.readBytes(5)), StandardCharsets.US_ASCII));
    }

    @Test
    void aClientRefusesAWrongHostName() throws Exception {
        clientChannel = SocketChannel.open();
        SSLIOStream client = client(CERTS.clientContext("TLS"), "wrong.example");
        CompletableFuture<IOStream> connected = onLoop(() -> client.connect(listener.getLocalAddress()));
        serverChannel = listener.accept();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        CompletableFuture<SSLIOStream> handshake = client.waitForHandshake();
        CompletableFuture<SSLIOStream> serverHandshake = server.waitForHandshake();
        Throwable e = assertThrows(StreamClosedException.class, () -> sync(() -> connected));
        assertInstanceOf(SSLException.class, e.getCause());
        assertTrue(client.closed());
        assertSame(e.getCause(), client.error());
        Throwable h = assertThrows(StreamClosedException.class, () -> sync(() -> handshake));
        assertSame(client.error(), h.getCause());
        // The server sees the client's alert (or its close) and closes too.
        assertThrows(StreamClosedException.class, () -> sync(() -> serverHandshake));
        assertTrue(server.closed());
    }

    /** What a client sends before it goes quiet, in the handshake-timeout tests. */
    enum BeforeSilence { NOTHING, TRUNCATED_CLIENT_HELLO, CLIENT_HELLO }

    /** A TLS client's first flight (the ClientHello), as a JDK SSLEngine makes it. */
    private static byte[] clientHello() throws Exception {
        SSLEngine engine = CERTS.clientContext("TLS").createSSLEngine("localhost", 443);
        engine.setUseClientMode(true);
        ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), out);
        return java.util.Arrays.copyOf(out.array(), out.position());
    }

    private void sendRaw(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            clientChannel.write(b);
        }
    }

    @ParameterizedTest
    @EnumSource(BeforeSilence.class)
    void aHandshakeNotDoneWithinItsTimeoutClosesTheStreamSayingSo(BeforeSilence sent) throws Exception {
        VirtualClock clock = new VirtualClock();
        try (IOLoop virtual = IOLoop.builder().clock(clock).build()) {
            pair();
            byte[] hello = clientHello();
            switch (sent) {
                case NOTHING -> { }
                case TRUNCATED_CLIENT_HELLO -> sendRaw(java.util.Arrays.copyOf(hello, hello.length / 2));
                case CLIENT_HELLO -> sendRaw(hello);
            }
            SSLIOStream server = new SSLIOStream(serverChannel, virtual, StreamOptions.defaults(),
                    CERTS.serverContext("TLS"), true, null);
            server.setHandshakeTimeout(Duration.ofSeconds(3));
            long start = clock.nanoTime();

            Throwable e = assertThrows(StreamClosedException.class,
                    () -> virtual.runSync(server::waitForHandshake, Duration.ofHours(1)));

            SSLHandshakeException cause = assertInstanceOf(SSLHandshakeException.class, e.getCause());
            assertTrue(cause.getMessage().contains("PT3S"), cause.getMessage());
            assertEquals(Duration.ofSeconds(3).toNanos(), clock.nanoTime() - start);
            assertSame(cause, server.error());
            assertFalse(serverChannel.isOpen(), "the connection is closed");
        }
    }

    @Test
    void aStreamNotToldOtherwiseGivesItsHandshakeTenSeconds() throws Exception {
        VirtualClock clock = new VirtualClock();
        try (IOLoop virtual = IOLoop.builder().clock(clock).build()) {
            pair();
            SSLIOStream server = new SSLIOStream(serverChannel, virtual, StreamOptions.defaults(),
                    CERTS.serverContext("TLS"), true, null);
            assertThrows(StreamClosedException.class, () -> virtual.runSync(server::waitForHandshake, Duration.ofHours(1)));
            assertEquals(SSLIOStream.DEFAULT_HANDSHAKE_TIMEOUT.toNanos(), clock.nanoTime());
            assertEquals(Duration.ofSeconds(10), SSLIOStream.DEFAULT_HANDSHAKE_TIMEOUT);
        }
    }

    @Test
    @Timeout(30) // the handshake below runs with no timer at all: nothing else would end a hang
    void aZeroHandshakeTimeoutLetsAHandshakeWaitAndAHandshakeInTimeIsNotCut() throws Exception {
        VirtualClock clock = new VirtualClock();
        try (IOLoop virtual = IOLoop.builder().clock(clock).build()) {
            pair();
            SSLIOStream server = new SSLIOStream(serverChannel, virtual, StreamOptions.defaults(),
                    CERTS.serverContext("TLS"), true, null);
            server.setHandshakeTimeout(Duration.ZERO);
            assertThrows(TimeoutException.class, () -> virtual.runSync(server::waitForHandshake, Duration.ofHours(2)));
            assertFalse(server.closed(), "no limit: still waiting after two hours");

            // The peer does the handshake now: it completes, and no timer is left behind. (No timer at all
            // meanwhile: with one, the virtual clock would jump to it whenever a poll found the peer's next
            // message still on its way through the kernel.)
            SSLIOStream client = new SSLIOStream(clientChannel, virtual, StreamOptions.defaults(),
                    CERTS.clientContext("TLS"), false, "localhost");
            client.setHandshakeTimeout(null);
            virtual.runSync(() -> CompletableFuture.allOf(server.waitForHandshake(), client.waitForHandshake()));
            assertEquals(0, (int) virtual.runSync(() -> CompletableFuture.completedFuture(virtual.stats().pendingTimeouts())),
                    "no handshake timer left behind");
        }
    }

    @Test
    void aNegativeHandshakeTimeoutIsRefusedNamingIt() throws Exception {
        pair();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> server.setHandshakeTimeout(Duration.ofSeconds(-1)));
        assertTrue(e.getMessage().contains("PT-1S"), e.getMessage());
        IOStream plain = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class,
                () -> plain.startTls(true, CERTS.serverContext("TLS"), null, Duration.ofMillis(-5)));
        assertTrue(t.getMessage().contains("PT-0.005S"), t.getMessage());
        plain.close();
    }

    /**
     * A client socket whose every byte goes out on its own, and reaches the server stream before the next:
     * after each byte it waits until {@code loop} has polled (and so read it) once more.
     */
    private static java.net.Socket tricklingSocket(IOLoop loop) {
        return new java.net.Socket() {
            @Override
            public java.io.OutputStream getOutputStream() throws IOException {
                java.io.OutputStream out = super.getOutputStream();
                return new java.io.OutputStream() {
                    @Override
                    public void write(int b) throws IOException {
                        out.write(b);
                        out.flush();
                        try {
                            // Two loop iterations: the second's callbacks run after the first's poll and dispatch.
                            loop.submit(() -> null).get(10, TimeUnit.SECONDS);
                            loop.submit(() -> null).get(10, TimeUnit.SECONDS);
                        } catch (Exception e) {
                            throw new IOException("the loop did not take the byte", e);
                        }
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        for (int i = 0; i < len; i++) {
                            write(b[off + i]);
                        }
                    }
                };
            }
        };
    }

    @Test
    void aHandshakeTrickledOneByteAtATimeSucceeds() throws Exception {
        InetSocketAddress address = (InetSocketAddress) listener.getLocalAddress();
        java.net.Socket trickling = tricklingSocket(loop);
        trickling.setTcpNoDelay(true);
        trickling.connect(address, 10_000);
        serverChannel = listener.accept();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        onLoop(() -> {
            echo(server);
            return null;
        });
        CompletableFuture<String> echoed = CompletableFuture.supplyAsync(() -> {
            try (javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) CERTS.clientContext("TLS").getSocketFactory()
                    .createSocket(trickling, "localhost", address.getPort(), true)) {
                tls.setSoTimeout(10_000);
                tls.getOutputStream().write("trickled".getBytes(StandardCharsets.US_ASCII));
                return new String(tls.getInputStream().readNBytes(8), StandardCharsets.US_ASCII);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        assertEquals("trickled", sync(() -> echoed));
        assertNull(server.error(), "the server saw a clean handshake, records and end of stream");
    }

    @Test
    void aPlaintextClientMakesTheTlsServerCloseWithAnSslExceptionAndTheLoopGoesOn() throws Exception {
        pair();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        CompletableFuture<byte[]> read = onLoop(() -> server.readBytes(4));
        CompletableFuture<Void> write = onLoop(() -> server.write("waits for the handshake".getBytes(StandardCharsets.US_ASCII)));
        ByteBuffer junk = ByteBuffer.wrap("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        while (junk.hasRemaining()) {
            clientChannel.write(junk);
        }
        Throwable e = assertThrows(StreamClosedException.class, () -> sync(server::waitForHandshake));
        assertInstanceOf(SSLException.class, e.getCause());
        assertTrue(server.closed());
        assertInstanceOf(SSLException.class, server.error());
        Throwable r = assertThrows(StreamClosedException.class, () -> sync(() -> read));
        assertSame(server.error(), r.getCause());
        Throwable w = assertThrows(StreamClosedException.class, () -> sync(() -> write));
        assertSame(server.error(), w.getCause());
        assertEquals(42, (int) sync(() -> CompletableFuture.supplyAsync(() -> 42, loop)));
    }

    @Test
    void startTlsUpgradesAnIdlePlainPairAndKeepsTheCloseCallback() throws Exception {
        pair();
        IOStream plainClient = new IOStream(clientChannel, loop, StreamOptions.defaults());
        IOStream plainServer = new IOStream(serverChannel, loop, StreamOptions.defaults());
        CompletableFuture<Void> serverClosed = new CompletableFuture<>();
        plainServer.setCloseCallback(() -> serverClosed.complete(null));
        byte[] line = sync(() -> {
            plainClient.write("STARTTLS\r\n".getBytes(StandardCharsets.US_ASCII));
            return plainServer.readUntil("\r\n".getBytes(StandardCharsets.US_ASCII));
        });
        assertEquals("STARTTLS\r\n", new String(line, StandardCharsets.US_ASCII));
        CompletableFuture<SSLIOStream> s = onLoop(() -> plainServer.startTls(true, CERTS.serverContext("TLS"), null));
        CompletableFuture<SSLIOStream> c = onLoop(() -> plainClient.startTls(false, CERTS.clientContext("TLS"), "localhost"));
        SSLIOStream client = sync(() -> c);
        SSLIOStream server = sync(() -> s);
        assertTrue(plainClient.closed());
        assertTrue(clientChannel.isOpen());
        CompletableFuture<Void> clientClosed = new CompletableFuture<>();
        plainClient.setCloseCallback(() -> clientClosed.complete(null)); // after the hand-over: the TLS stream's
        echoBothWays(client, server);
        assertFalse(clientClosed.isDone(), "the connection is still open");
        onLoop(() -> {
            client.close();
            return null;
        });
        sync(() -> serverClosed);
        sync(() -> clientClosed);
        assertTrue(server.closed());
    }

    @Test
    void startTlsWhileAReadIsPendingFailsWithIllegalStateException() throws Exception {
        pair();
        IOStream plain = new IOStream(serverChannel, loop, StreamOptions.defaults());
        onLoop(() -> plain.readBytes(1));
        Throwable e = assertThrows(IllegalStateException.class,
                () -> sync(() -> plain.startTls(true, CERTS.serverContext("TLS"), null)));
        assertTrue(e.getMessage().contains("read is pending"), e.getMessage());
        assertFalse(plain.closed());
    }

    @Test
    void waitForHandshakeCompletesAfterTheHandshakeAndAtOnceOnceDone() throws Exception {
        pair();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        CompletableFuture<SSLIOStream> before = server.waitForHandshake();
        assertFalse(before.isDone());
        SSLIOStream client = client(CERTS.clientContext("TLS"), "localhost");
        assertSame(server, sync(() -> before));
        sync(client::waitForHandshake);
        CompletableFuture<SSLIOStream> after = server.waitForHandshake();
        assertTrue(after.isDone());
        assertSame(server, after.join());
    }

    @Test
    void thePeersEndOfStreamClosesLikeAPlainOneAndKeepsTheDataBeforeIt() throws Exception {
        pair();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        SSLIOStream client = client(CERTS.clientContext("TLS"), "localhost");
        sync(() -> client.write("bye".getBytes(StandardCharsets.US_ASCII)));
        onLoop(() -> {
            client.close(); // no close_notify: a plain end of stream for the server
            return null;
        });
        assertEquals("bye", new String(sync(server::readUntilClose), StandardCharsets.US_ASCII));
        assertTrue(server.closed());
        assertNull(server.error());
    }

    @Test
    void aCloseNotifyFromAJdkSslSocketClosesLikeAPlainEndOfStream() throws Exception {
        SSLContext clientCtx = CERTS.clientContext("TLS");
        InetSocketAddress address = (InetSocketAddress) listener.getLocalAddress();
        CompletableFuture<Void> peer = CompletableFuture.runAsync(() -> {
            try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) clientCtx.getSocketFactory()
                    .createSocket(address.getAddress(), address.getPort())) {
                socket.getOutputStream().write("bye".getBytes(StandardCharsets.US_ASCII));
                socket.getOutputStream().flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            } // close() sends close_notify
        });
        serverChannel = listener.accept();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        assertEquals("bye", new String(sync(server::readUntilClose), StandardCharsets.US_ASCII));
        assertTrue(server.closed());
        assertNull(server.error());
        peer.get(TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
    }

    @Test
    void aCloseNotifyWithoutAFinEndsTheStreamAfterTheDataBeforeIt() throws Exception {
        // The peer's TLS layer sends "bye" and close_notify but its TCP connection stays open: no FIN, so
        // after the bytes the socket goes quiet. The read after "bye" must still see the end of the stream.
        CountDownLatch checked = new CountDownLatch(1);
        CompletableFuture<Void> peer = jdkClientKeepingTcpOpen(checked, tls -> {
            tls.getOutputStream().write("bye".getBytes(StandardCharsets.US_ASCII));
            tls.getOutputStream().flush();
            tls.close(); // close_notify
        });
        serverChannel = listener.accept();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        try {
            assertEquals("bye", new String(sync(() -> server.readBytes(3)), StandardCharsets.US_ASCII));
            assertEquals(0, sync(server::readUntilClose).length);
            assertTrue(server.closed());
            assertNull(server.error());
        } finally {
            checked.countDown();
        }
        peer.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }

    @Test
    void aReadAfterOneThatFilledItsBufferGetsTheRecordsAlreadyTakenFromTheSocket() throws Exception {
        // Two records arrive in one go. The first fills the reader's buffer exactly, so the second stays
        // undecrypted in the stream while the socket has nothing more: the next read must still get it.
        CountDownLatch handshaken = new CountDownLatch(1);
        CountDownLatch checked = new CountDownLatch(1);
        byte[] first = "a".repeat(100).getBytes(StandardCharsets.US_ASCII);
        byte[] second = "b".repeat(50).getBytes(StandardCharsets.US_ASCII);
        CompletableFuture<Void> peer = jdkClientKeepingTcpOpen(checked, tls -> {
            tls.startHandshake();
            assertTrue(handshaken.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
            tls.getOutputStream().write(first); // one record each
            tls.getOutputStream().write(second);
            tls.getOutputStream().flush();
        });
        serverChannel = listener.accept();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        try {
            sync(server::waitForHandshake);
            assertEquals("TLSv1.3", onLoop(() -> server.session().getProtocol())); // the sizes below are TLS 1.3's
            handshaken.countDown();
            // TLS 1.3 with a 16-byte tag: 5 B header + data + 1 B type + 16 B tag per record.
            awaitBytes(serverChannel, (5 + first.length + 17) + (5 + second.length + 17));
            ByteBuffer a = ByteBuffer.allocate(first.length);
            ByteBuffer b = ByteBuffer.allocate(second.length);
            List<CompletableFuture<Integer>> next = new ArrayList<>();
            int got = sync(() -> server.readInto(a, false).thenApply(n -> {
                next.add(server.readInto(b, false));
                return n;
            }));
            assertEquals(first.length, got);
            int gotSecond = sync(next::getFirst);
            assertEquals(second.length, gotSecond);
            assertArrayEquals(first, a.array());
            assertArrayEquals(second, b.array());
        } finally {
            checked.countDown();
        }
        peer.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }

    @Test
    void dataArrivingWithTheClientsFinishedIsReadThoughTheSocketGoesQuiet() throws Exception {
        // The client's Finished and its first data land in the server's socket together, while the server
        // is still in the handshake step that sent its own flight: the data is then read from the socket
        // along with the Finished, and the selector will never report it again.
        SSLContext clientCtx = CERTS.clientContext("TLS");
        InetSocketAddress address = (InetSocketAddress) listener.getLocalAddress();
        CountDownLatch sent = new CountDownLatch(1);
        CompletableFuture<String> peer = CompletableFuture.supplyAsync(() -> {
            try (javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) clientCtx.getSocketFactory()
                    .createSocket(address.getAddress(), address.getPort())) {
                socket.setSoTimeout((int) TIMEOUT.toMillis());
                socket.setTcpNoDelay(true); // or Nagle holds the data until the server acknowledges the Finished
                socket.startHandshake(); // a TLS 1.3 client is done once its Finished is sent
                socket.getOutputStream().write("first words\n".getBytes(StandardCharsets.US_ASCII));
                socket.getOutputStream().flush();
                sent.countDown();
                return new String(socket.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        serverChannel = listener.accept();
        awaitBytes(serverChannel, 1); // the ClientHello: the server's first step answers it
        SSLContext pausing = new PausingSslContext(CERTS.serverContext("TLS"), () -> {
            try {
                assertTrue(sent.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
                awaitBytes(serverChannel, 1);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        // As a server does: the read is pending before the handshake has begun.
        SSLIOStream[] created = new SSLIOStream[1];
        CompletableFuture<byte[]> echoed = onLoop(() -> {
            SSLIOStream server = created[0] = server(pausing);
            CompletableFuture<byte[]> read = server.readBytes(100, true);
            assertFalse(read.isDone());
            return read.thenCompose(b -> server.write(b).thenApply(v -> b));
        });
        assertEquals("first words\n", new String(sync(() -> echoed), StandardCharsets.US_ASCII));
        SSLIOStream server = created[0];
        assertEquals("TLSv1.3", onLoop(() -> server.session().getProtocol()));
        // The client's close sends close_notify and waits for the server's end: run the loop until then.
        assertEquals(0, sync(server::readUntilClose).length);
        assertEquals("first words\n", peer.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
    }

    /** Waits until the kernel holds at least {@code n} unread bytes for {@code channel} (FIONREAD), at most {@link #TIMEOUT}. */
    private static void awaitBytes(SocketChannel channel, int n) throws IOException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (channel.socket().getInputStream().available() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(n + " bytes did not arrive on " + channel + " within " + TIMEOUT);
            }
            Thread.onSpinWait();
        }
    }

    /** What a {@link #jdkClientKeepingTcpOpen} client does over its TLS socket. */
    @FunctionalInterface
    private interface TlsTalk {
        void talk(javax.net.ssl.SSLSocket tls) throws Exception;
    }

    /**
     * A JDK TLS client on another thread: connects to the listener, runs {@code talk}, then keeps its TCP
     * connection open (no FIN, even if {@code talk} closed the TLS socket: it is layered without autoClose)
     * until {@code checked} opens, for at most twice {@link #TIMEOUT}, so a hang fails in the checks first.
     */
    private CompletableFuture<Void> jdkClientKeepingTcpOpen(CountDownLatch checked, TlsTalk talk) throws Exception {
        SSLContext clientCtx = CERTS.clientContext("TLS");
        InetSocketAddress address = (InetSocketAddress) listener.getLocalAddress();
        return CompletableFuture.runAsync(() -> {
            try (java.net.Socket tcp = new java.net.Socket(address.getAddress(), address.getPort())) {
                tcp.setTcpNoDelay(true);
                talk.talk((javax.net.ssl.SSLSocket) clientCtx.getSocketFactory()
                        .createSocket(tcp, "localhost", address.getPort(), false));
                assertFalse(tcp.isClosed());
                assertTrue(checked.await(2 * TIMEOUT.toSeconds(), TimeUnit.SECONDS));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void aPortScanThatConnectsAndClosesBeforeTheHandshakeClosesQuietly() throws Exception {
        pair();
        SSLIOStream server = server(CERTS.serverContext("TLS"));
        CompletableFuture<byte[]> read = onLoop(() -> server.readBytes(1));
        clientChannel.close();
        Throwable e = assertThrows(StreamClosedException.class, () -> sync(server::waitForHandshake));
        assertNull(e.getCause(), "an end of stream, not an error");
        assertTrue(server.closed());
        assertNull(server.error());
        assertThrows(StreamClosedException.class, () -> sync(() -> read));
    }
}
