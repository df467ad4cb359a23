package io.eddy.iostream;

import io.eddy.ioloop.Context;
import io.eddy.ioloop.IOLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tornado's IOStream behaviours (reference §4.3–4.6), one test each. */
class IOStreamTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private IOLoop loop;
    private SocketChannel peer;      // blocking, the test's side
    private SocketChannel accepted;  // the stream's side
    private IOStream stream;

    @BeforeEach
    void open() throws IOException {
        loop = IOLoop.create();
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            peer = SocketChannel.open(server.getLocalAddress());
            accepted = server.accept();
        }
        stream = new IOStream(accepted, loop, StreamOptions.defaults());
    }

    @AfterEach
    void close() throws Exception {
        peer.close();
        accepted.close();
        loop.close(true);
    }

    private IOStream stream(StreamOptions options) {
        return new IOStream(accepted, loop, options);
    }

    private void send(String text) throws IOException {
        send(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    private void send(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            peer.write(b);
        }
    }

    private byte[] receive(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (peer.read(b) < 0) {
                throw new IOException("peer saw end of stream after " + b.position() + " bytes");
            }
        }
        return b.array();
    }

    private <T> T sync(java.util.concurrent.Callable<? extends java.util.concurrent.CompletionStage<? extends T>> fn) throws Exception {
        return loop.runSync(fn, TIMEOUT);
    }

    /** What {@code sync(fn)} throws (runSync throws a failed stage's cause unwrapped). */
    private Throwable failure(java.util.concurrent.Callable<? extends java.util.concurrent.CompletionStage<?>> fn) {
        return assertThrows(Exception.class, () -> sync(fn));
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    /** Runs {@code fn} on the loop and returns the future it made, without waiting for it. */
    private <T> CompletableFuture<T> onLoop(java.util.concurrent.Callable<CompletableFuture<T>> fn) throws Exception {
        return loop.runSync(() -> CompletableFuture.completedFuture(fn.call()), TIMEOUT);
    }

    // ------------------------------------------------------------------ reads

    @Test
    void aReadIssuedFromTheCompletionOfAFullReadWaitsForTheSelectorInsteadOfReadingAgain() throws Exception {
        // A read that filled its buffer says nothing of what is left in the kernel. The next read, issued
        // from its completion, waits for the selector (level-triggered: it reports at once if data is
        // there) instead of trying the socket inline, which for an echo server mostly returns EAGAIN.
        byte[] data = new byte[64 * 1024 + 1024];
        new java.util.Random(7).nextBytes(data);
        send(data);
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (accepted.socket().getInputStream().available() < data.length) { // all of it in the kernel
            assertTrue(System.nanoTime() < deadline, "the sent bytes did not all arrive within " + TIMEOUT);
            Thread.onSpinWait();
        }
        ByteBuffer first = ByteBuffer.allocate(64 * 1024);
        ByteBuffer second = ByteBuffer.allocate(64 * 1024);
        List<CompletableFuture<Integer>> next = new ArrayList<>();
        boolean[] doneAtOnce = new boolean[1];
        int firstRead = sync(() -> stream.readInto(first, true).thenApply(n -> {
            next.add(stream.readInto(second, true));
            doneAtOnce[0] = next.getFirst().isDone();
            return n;
        }));
        assertEquals(first.capacity(), firstRead);
        assertFalse(doneAtOnce[0], "the second read was served inline from the socket");
        int secondRead = sync(next::getFirst);
        assertEquals(1024, secondRead);
        assertArrayEquals(data, ByteBuffer.allocate(data.length).put(first.flip()).put(second.flip()).array());
    }

    @Test
    void aReadTheBufferCanSatisfyCompletesBeforeTheMethodReturns() throws Exception {
        send("hello world");
        // The first read pulls everything the socket has into the buffer.
        assertEquals("hello", text(sync(() -> stream.readBytes(5))));
        boolean[] doneAtReturn = new boolean[1];
        String rest = text(sync(() -> {
            CompletableFuture<byte[]> f = stream.readBytes(6);
            doneAtReturn[0] = f.isDone();
            return f;
        }));
        assertTrue(doneAtReturn[0]);
        assertEquals(" world", rest);
    }

    @Test
    void readBytesWaitsForExactlyNBytes() throws Exception {
        CompletableFuture<byte[]> f = onLoop(() -> stream.readBytes(10));
        send("12345");
        assertFalse(f.isDone());
        send("67890abc");
        assertEquals("1234567890", text(sync(() -> f)));
        assertEquals("abc", text(sync(() -> stream.readBytes(3))));
    }

    @Test
    void aPartialReadCompletesWithWhatIsThereAtMostN() throws Exception {
        send("abc");
        assertEquals("abc", text(sync(() -> stream.readBytes(100, true))));
        send("defgh");
        assertEquals("de", text(sync(() -> stream.readBytes(2, true))));
        assertEquals("fgh", text(sync(() -> stream.readBytes(3, true))));
    }

    @Test
    void readingZeroBytesCompletesAtOnce() throws Exception {
        assertArrayEquals(new byte[0], sync(() -> stream.readBytes(0)));
        assertThrows(IllegalArgumentException.class, () -> stream.readBytes(-1));
    }

    @Test
    void readUntilIncludesTheDelimiterAndLeavesTheRest() throws Exception {
        send("line one\r\nline two\r\npartial");
        assertEquals("line one\r\n", text(sync(() -> stream.readUntil("\r\n".getBytes()))));
        assertEquals("line two\r\n", text(sync(() -> stream.readUntil("\r\n".getBytes()))));
        CompletableFuture<byte[]> third = onLoop(() -> stream.readUntil("\r\n".getBytes()));
        send(" three\r");
        send("\n");
        assertEquals("partial three\r\n", text(sync(() -> third)));
    }

    @Test
    void aDelimiterBeyondMaxBytesClosesTheStreamWithUnsatisfiableRead() throws Exception {
        send("abcdef");
        Throwable e = failure(() -> stream.readUntil("f".getBytes(), 5));
        assertInstanceOf(StreamClosedException.class, e);
        assertInstanceOf(UnsatisfiableReadException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("within 5 bytes"), e.getCause().getMessage());
        assertTrue(stream.closed());
        assertInstanceOf(UnsatisfiableReadException.class, stream.error());
    }

    @Test
    void aDelimiterEndingExactlyAtMaxBytesIsFound() throws Exception {
        send("abcdef");
        assertEquals("abcdef", text(sync(() -> stream.readUntil("f".getBytes(), 6))));
    }

    @Test
    void noDelimiterWithinMaxBytesFailsOnceThatManyArrived() throws Exception {
        CompletableFuture<byte[]> f = onLoop(() -> stream.readUntil("\n".getBytes(), 8));
        send("12345678");
        Throwable e = failure(() -> f);
        assertInstanceOf(UnsatisfiableReadException.class, e.getCause());
    }

    @Test
    void readUntilRegexEndsAtTheEndOfTheMatch() throws Exception {
        send("HTTP/1.1 200 OK\r\nX: y\r\n\r\nbody");
        byte[] head = sync(() -> stream.readUntilRegex(Pattern.compile("\r\n\r\n"), 1000));
        assertEquals("HTTP/1.1 200 OK\r\nX: y\r\n\r\n", text(head));
        assertEquals("body", text(sync(() -> stream.readBytes(4))));
    }

    @Test
    void readUntilRegexFindsAMatchThatArrivesInPieces() throws Exception {
        CompletableFuture<byte[]> f = onLoop(() -> stream.readUntilRegex(Pattern.compile("END\\d"), 1000));
        send("abc E");
        send("ND");
        send("7 rest");
        assertEquals("abc END7", text(sync(() -> f)));
    }

    @Test
    void readUntilCloseReturnsEverythingOnceThePeerCloses() throws Exception {
        CompletableFuture<byte[]> f = onLoop(stream::readUntilClose);
        send("first ");
        send("second");
        peer.shutdownOutput();
        assertEquals("first second", text(sync(() -> f)));
        assertTrue(stream.closed());
        assertNull(stream.error());
    }

    @Test
    void readIntoFillsTheBufferAndAdvancesItsPosition() throws Exception {
        send("0123456789");
        ByteBuffer dst = ByteBuffer.allocate(4);
        assertEquals(4, sync(() -> stream.readInto(dst, false)));
        assertEquals(4, dst.position());
        assertEquals("0123", text(dst.array()));
        ByteBuffer big = ByteBuffer.allocate(100);
        assertEquals(6, sync(() -> stream.readInto(big, true)));
        assertEquals("456789", text(Arrays.copyOf(big.array(), big.position())));
        ByteBuffer direct = ByteBuffer.allocateDirect(3);
        CompletableFuture<Integer> pending = onLoop(() -> stream.readInto(direct, false));
        send("xyz");
        assertEquals(3, sync(() -> pending));
        assertEquals('x', direct.get(0));
    }

    @Test
    void aSecondReadWhileOneIsPendingFailsWithAlreadyReading() throws Exception {
        CompletableFuture<byte[]> first = onLoop(() -> stream.readBytes(1));
        Throwable e = failure(() -> stream.readBytes(1));
        assertInstanceOf(IllegalStateException.class, e);
        assertEquals("already reading", e.getMessage());
        send("x");
        assertEquals("x", text(sync(() -> first)));
    }

    @Test
    void bufferedDataStaysReadableAfterThePeerClosed() throws Exception {
        send("buffered");
        assertEquals("b", text(sync(() -> stream.readBytes(1))));
        peer.close();
        assertEquals("uff", text(sync(() -> stream.readBytes(3))));
        assertEquals("ered", text(sync(stream::readUntilClose)));
        Throwable e = failure(() -> stream.readBytes(1));
        assertInstanceOf(StreamClosedException.class, e);
        assertTrue(e.getMessage().startsWith("Stream is closed"));
    }

    @Test
    void theSocketIsReadOnlyWhileAReadIsPending() throws Exception {
        // 100 KB waiting in the kernel, a 10 KB read buffer: 1 KB reads never overflow it.
        IOStream small = stream(StreamOptions.defaults().withMaxBufferSize(10 * 1024));
        byte[] data = new byte[100 * 1024];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 31);
        }
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                send(data);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        for (int i = 0; i < 100; i++) {
            int at = i;
            byte[] chunk = sync(() -> small.readBytes(1024));
            assertArrayEquals(Arrays.copyOfRange(data, at * 1024, at * 1024 + 1024), chunk);
        }
        writer.join(10_000);
        assertFalse(small.closed());
    }

    @Test
    void theReadBufferLimitClosesTheStreamWithBufferFull() throws Exception {
        IOStream small = stream(StreamOptions.defaults().withMaxBufferSize(1024));
        CompletableFuture<byte[]> f = onLoop(() -> small.readUntil("\n".getBytes()));
        send(new byte[4096]);
        Throwable e = failure(() -> f);
        assertInstanceOf(StreamClosedException.class, e);
        assertInstanceOf(StreamBufferFullException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("1024"), e.getCause().getMessage());
    }

    @Test
    void aLargeReadUntilArrivingInSmallPiecesIsFoundWhole() throws Exception {
        byte[] big = new byte[4 * 1024 * 1024];
        Arrays.fill(big, (byte) 'x');
        big[big.length - 1] = '\n';
        CompletableFuture<byte[]> f = onLoop(() -> stream.readUntil("\n".getBytes()));
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                for (int off = 0; off < big.length; off += 1000) {
                    peer.write(ByteBuffer.wrap(big, off, Math.min(1000, big.length - off)));
                }
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        byte[] line = sync(() -> f);
        writer.join(10_000);
        assertArrayEquals(big, line);
    }

    // ------------------------------------------------------------------ writes

    @Test
    void writeFuturesCompleteInOrderOnceTheBytesReachedTheKernel() throws Exception {
        List<Integer> order = new ArrayList<>();
        sync(() -> {
            CompletableFuture<Void> a = stream.write("one ".getBytes()).thenRun(() -> order.add(1));
            CompletableFuture<Void> b = stream.write(ByteBuffer.wrap("two ".getBytes())).thenRun(() -> order.add(2));
            CompletableFuture<Void> c = stream.write("three".getBytes()).thenRun(() -> order.add(3));
            return CompletableFuture.allOf(a, b, c);
        });
        assertEquals(List.of(1, 2, 3), order);
        assertEquals("one two three", text(receive(13)));
    }

    @Test
    void theCallerMayReuseItsArrayOnceWriteReturns() throws Exception {
        accepted.setOption(StandardSocketOptions.SO_SNDBUF, 64 * 1024);
        // More than the kernel's buffers take while the peer does not read yet (Linux caps a receive
        // buffer at tcp_rmem's 6 MiB by default): most of it must be queued, so copied.
        byte[] reused = new byte[16 << 20];
        Arrays.fill(reused, (byte) 'a');
        boolean[] queued = new boolean[1];
        CompletableFuture<Void> written = onLoop(() -> {
            CompletableFuture<Void> f = stream.write(reused);
            queued[0] = stream.writing();
            Arrays.fill(reused, (byte) 'b');
            return f;
        });
        assertTrue(queued[0], "part of the write was queued");
        CompletableFuture<byte[]> received = new CompletableFuture<>();
        Thread reader = Thread.ofPlatform().start(() -> {
            try {
                received.complete(receive(reused.length));
            } catch (IOException e) {
                received.completeExceptionally(e);
            }
        });
        sync(() -> written);
        reader.join(10_000);
        for (byte b : received.get(10, TimeUnit.SECONDS)) {
            assertEquals('a', b);
        }
    }

    @Test
    void aZeroByteWriteCompletes() throws Exception {
        sync(() -> stream.write(new byte[0]));
        assertFalse(stream.writing());
    }

    @Test
    void overTheWriteBufferLimitOneWriteFailsAndTheStreamStaysOpen() throws Exception {
        IOStream limited = stream(StreamOptions.defaults().withMaxWriteBufferSize(64 * 1024));
        // Fill the kernel's buffers so that writes queue.
        List<CompletableFuture<Void>> queued = new ArrayList<>();
        CompletableFuture<Void> refused = onLoop(() -> {
            byte[] chunk = new byte[16 * 1024];
            while (true) {
                CompletableFuture<Void> f = limited.write(chunk);
                if (f.isCompletedExceptionally()) {
                    return f;
                }
                queued.add(f);
            }
        });
        ExecutionException e = assertThrows(ExecutionException.class, () -> refused.get(1, TimeUnit.SECONDS));
        assertInstanceOf(StreamBufferFullException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("65536"), e.getCause().getMessage());
        assertFalse(limited.closed());
        // The peer drains everything: every queued write completes.
        Thread reader = Thread.ofPlatform().start(() -> {
            ByteBuffer sink = ByteBuffer.allocate(64 * 1024);
            try {
                while (peer.read(sink.clear()) > 0) {
                    // drain
                }
            } catch (IOException ignored) {
                // closed at the end of the test
            }
        });
        sync(() -> CompletableFuture.allOf(queued.toArray(CompletableFuture[]::new)));
        peer.shutdownInput();
        reader.join(10_000);
    }

    @Test
    void writingToAClosedStreamFailsWithStreamClosed() throws Exception {
        stream.close();
        Throwable e = failure(() -> stream.write("x".getBytes()));
        assertInstanceOf(StreamClosedException.class, e);
    }

    // ------------------------------------------------------------------ connect

    @Test
    void writesIssuedWhileConnectingAreSentOnceConnected() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            IOStream client = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
            List<String> order = new ArrayList<>();
            sync(() -> {
                CompletableFuture<IOStream> connected = client.connect(server.getLocalAddress())
                        .whenComplete((s, e) -> order.add("connected"));
                CompletableFuture<Void> written = client.write("early bird".getBytes())
                        .whenComplete((v, e) -> order.add("written"));
                return CompletableFuture.allOf(connected, written);
            });
            assertEquals(List.of("connected", "written"), order);
            try (SocketChannel other = server.accept()) {
                ByteBuffer b = ByteBuffer.allocate(10);
                while (b.hasRemaining()) {
                    other.read(b);
                }
                assertEquals("early bird", text(b.array()));
            }
            client.close();
        }
    }

    @Test
    void aRefusedConnectFailsWithStreamClosedCausedByConnectException() throws Exception {
        int freePort;
        try (ServerSocketChannel probe = ServerSocketChannel.open()) {
            probe.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            freePort = ((InetSocketAddress) probe.getLocalAddress()).getPort();
        }
        IOStream client = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
        CompletableFuture<Void> write = new CompletableFuture<>();
        Throwable e = failure(() -> {
            CompletableFuture<IOStream> f = client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), freePort));
            client.write("x".getBytes()).whenComplete((v, err) -> write.complete(null));
            return f;
        });
        assertInstanceOf(StreamClosedException.class, e);
        assertInstanceOf(ConnectException.class, e.getCause());
        assertTrue(write.isDone(), "the queued write failed too");
        assertTrue(client.closed());
    }

    /** What a stream may be given before it connects: each must wait for the connection, not fail the stream. */
    enum BeforeConnect { CLOSE_CALLBACK, PENDING_READ, QUEUED_WRITE }

    /** A port nobody listens on. */
    private static InetSocketAddress refusedAddress() throws IOException {
        try (ServerSocketChannel probe = ServerSocketChannel.open()) {
            probe.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return (InetSocketAddress) probe.getLocalAddress();
        }
    }

    /** Puts {@code client} in {@code state} and returns the future of what was started (done for a close callback). */
    private static CompletableFuture<?> prepare(IOStream client, BeforeConnect state) {
        return switch (state) {
            case CLOSE_CALLBACK -> {
                client.setCloseCallback(() -> { });
                yield CompletableFuture.completedFuture(null);
            }
            case PENDING_READ -> client.readBytes(1);
            case QUEUED_WRITE -> client.write("queued".getBytes());
        };
    }

    /** Completes after the loop has polled once more (a callback that queues the next one). */
    private CompletableFuture<Void> afterAPoll() {
        CompletableFuture<Void> polled = new CompletableFuture<>();
        loop.addCallback(() -> loop.addCallback(() -> polled.complete(null)));
        return polled;
    }

    @ParameterizedTest
    @EnumSource(BeforeConnect.class)
    void aRefusedConnectFailsWithTheConnectExceptionWhateverWasSetUpBeforeIt(BeforeConnect state) throws Exception {
        InetSocketAddress refused = refusedAddress();
        IOStream client = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
        CompletableFuture<?> started = loop.runSync(() -> CompletableFuture.completedFuture(prepare(client, state)), TIMEOUT);
        sync(this::afterAPoll); // the loop polls with the unconnected channel registered
        Throwable e = failure(() -> client.connect(refused));
        assertInstanceOf(StreamClosedException.class, e);
        assertInstanceOf(ConnectException.class, e.getCause(), "cause of " + e);
        assertInstanceOf(ConnectException.class, client.error());
        if (state != BeforeConnect.CLOSE_CALLBACK) {
            ExecutionException failed = assertThrows(ExecutionException.class, () -> started.get(1, TimeUnit.SECONDS));
            assertInstanceOf(ConnectException.class, failed.getCause().getCause(), "the " + state + " fails with the refusal");
        }
    }

    @Test
    void aReadAWriteAndACloseCallbackSetBeforeConnectWorkOnceConnected() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            IOStream client = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
            List<String> closed = new ArrayList<>();
            CompletableFuture<byte[]> read = onLoop(() -> {
                client.setCloseCallback(() -> closed.add("closed"));
                CompletableFuture<byte[]> r = client.readBytes(5);
                client.write("hello".getBytes());
                return r;
            });
            sync(this::afterAPoll);
            sync(() -> client.connect(server.getLocalAddress()));
            try (SocketChannel other = server.accept()) {
                ByteBuffer b = ByteBuffer.allocate(5);
                while (b.hasRemaining()) {
                    other.read(b);
                }
                assertEquals("hello", text(b.array()));
                other.write(ByteBuffer.wrap("world".getBytes()));
                assertEquals("world", text(sync(() -> read)));
                sync(this::afterAPoll);
                assertEquals(List.of(), closed, "the stream lives until the peer closes");
            }
            sync(() -> client.readUntilClose());
            sync(this::afterAPoll);
            assertEquals(List.of("closed"), closed);
        }
    }

    @Test
    void startTlsBeforeConnectFailsNamingItAndLeavesTheStreamUsable() throws Exception {
        IOStream client = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
        Throwable e = failure(() -> client.startTls(false, javax.net.ssl.SSLContext.getDefault(), "localhost"));
        assertInstanceOf(IllegalStateException.class, e);
        assertTrue(e.getMessage().contains("not connected"), e.getMessage());
        Throwable refused = failure(() -> client.connect(refusedAddress()));
        assertInstanceOf(ConnectException.class, refused.getCause());
    }

    @Test
    void callsFromAnotherThreadAfterTheLoopClosedFailTheirFuturesAndCloseStillClosesTheSocket() throws Exception {
        loop.close(); // the stream is still open, its loop is gone; this thread is not a loop thread
        List<CompletableFuture<?>> futures = List.of(stream.readBytes(1), stream.readUntil(new byte[]{'\n'}),
                stream.write("lost".getBytes()), stream.write(ByteBuffer.wrap("lost".getBytes())),
                stream.connect(refusedAddress()),
                stream.startTls(true, javax.net.ssl.SSLContext.getDefault(), null));
        for (CompletableFuture<?> f : futures) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS));
            assertInstanceOf(StreamClosedException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains("IOLoop is closed"), e.getCause().getMessage());
        }
        stream.setNoDelay(true); // moot, and harmless
        assertThrows(java.util.concurrent.RejectedExecutionException.class, () -> stream.setCloseCallback(() -> { }));
        stream.close();
        assertFalse(accepted.isOpen(), "close() closed the socket though the loop could not run it");
        assertEquals(-1, peer.read(ByteBuffer.allocate(1)), "the peer sees the end of the stream");
    }

    @Test
    void operationsHandedToALoopThatClosesBeforeRunningThemFailTheirFutures() throws Exception {
        // From this thread while the loop is not running: handed to the loop, queued, then discarded by close().
        List<CompletableFuture<?>> futures = List.of(stream.write("queued".getBytes()), stream.readBytes(1),
                stream.connect(refusedAddress()));
        stream.close();
        loop.close();
        for (CompletableFuture<?> f : futures) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.SECONDS));
            assertInstanceOf(StreamClosedException.class, e.getCause());
            assertTrue(e.getCause().getMessage().contains("IOLoop is closed"), e.getCause().getMessage());
        }
        assertFalse(accepted.isOpen(), "the discarded close() still closed the socket");
    }

    @Test
    void threadsClosingAStreamAfterItsLoopClosedCloseItOnceAndFailEveryPendingWrite() throws Exception {
        // Writes the peer does not read stay queued; then the loop stops and closes with them pending.
        byte[] big = new byte[1 << 20];
        List<CompletableFuture<Void>> writes = loop.runSync(() -> {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                all.add(stream.write(big));
            }
            return CompletableFuture.completedFuture(all);
        }, TIMEOUT);
        assertFalse(writes.get(writes.size() - 1).isDone(), "the last write waits for the peer");
        loop.close();
        List<CompletableFuture<Void>> closers = new ArrayList<>();
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        for (int t = 0; t < 8; t++) {
            closers.add(CompletableFuture.runAsync(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
                stream.close();
            }));
        }
        go.countDown();
        CompletableFuture.allOf(closers.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS); // none threw
        assertTrue(stream.closed());
        assertFalse(accepted.isOpen());
        for (CompletableFuture<Void> w : writes) {
            assertTrue(w.isDone(), "every write completed or failed");
        }
        assertTrue(writes.get(writes.size() - 1).isCompletedExceptionally());
    }

    // ------------------------------------------------------------------ close

    @Test
    void closingFailsEveryPendingFutureWithStreamClosed() throws Exception {
        CompletableFuture<byte[]> read = onLoop(() -> stream.readBytes(10));
        IOException cause = new IOException("shut down by the test");
        stream.close(cause);
        Throwable e = failure(() -> read);
        assertInstanceOf(StreamClosedException.class, e);
        assertEquals(cause, e.getCause());
        assertEquals(cause, stream.error());
        stream.close(new IOException("second"));
        assertEquals(cause, stream.error(), "the first cause stays");
    }

    @Test
    void theCloseCallbackRunsAfterTheCallbacksAlreadyQueued() throws Exception {
        List<String> order = new ArrayList<>();
        sync(() -> {
            CompletableFuture<Void> done = new CompletableFuture<>();
            stream.setCloseCallback(() -> {
                order.add("close callback");
                done.complete(null);
            });
            loop.addCallback(() -> order.add("queued before close"));
            stream.close();
            order.add("close returned");
            return done;
        });
        assertEquals(List.of("close returned", "queued before close", "close callback"), order);
    }

    @Test
    void anIdleStreamWithACloseCallbackNoticesThePeerClosing() throws Exception {
        sync(() -> {
            CompletableFuture<Void> closed = new CompletableFuture<>();
            stream.setCloseCallback(() -> closed.complete(null));
            loop.addCallback(() -> {
                try {
                    peer.close();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            return closed;
        });
        assertTrue(stream.closed());
        assertNull(stream.error());
    }

    @Test
    void aPeerResetClosesTheStreamAndFailsThePendingRead() throws Exception {
        CompletableFuture<byte[]> read = onLoop(() -> stream.readBytes(10));
        peer.setOption(StandardSocketOptions.SO_LINGER, 0);
        peer.close();
        Throwable e = failure(() -> read);
        assertInstanceOf(StreamClosedException.class, e);
        assertInstanceOf(IOException.class, e.getCause());
        assertTrue(stream.closed());
    }

    // ------------------------------------------------------------------ threads and context

    @Test
    void callsFromAnotherThreadAreHandedToTheLoop() throws Exception {
        Thread thread = loop.startInNewThread("stream-loop");
        try {
            send("from afar\n");
            CompletableFuture<byte[]> line = stream.readUntil("\n".getBytes());
            assertEquals("from afar\n", text(line.get(10, TimeUnit.SECONDS)));
            stream.write("reply".getBytes()).get(10, TimeUnit.SECONDS);
            assertEquals("reply", text(receive(5)));
        } finally {
            loop.stop();
            thread.join(10_000);
        }
    }

    @Test
    void futuresCompleteUnderTheContextOfTheCallThatMadeThem() throws Exception {
        Context.Key<String> key = Context.key("request");
        send("ping");
        String seen = sync(() -> Context.current().with(key, "r7").call(
                () -> stream.readBytes(4).thenApply(b -> Context.current().get(key))));
        assertEquals("r7", seen);
    }

    @Test
    void badArgumentsThrowAtOnce() {
        assertThrows(NullPointerException.class, () -> stream.readUntil(null));
        assertThrows(IllegalArgumentException.class, () -> stream.readUntil(new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> stream.readUntil("x".getBytes(), 0));
        assertThrows(NullPointerException.class, () -> stream.write((byte[]) null));
        assertThrows(IllegalArgumentException.class, () -> StreamOptions.defaults().withMaxBufferSize(0));
        assertEquals(512, StreamOptions.defaults().withMaxBufferSize(1024).readChunkSize());
    }

    @Test
    void unwrapHelperIsNotNeededForJoin() {
        CompletableFuture<byte[]> f = CompletableFuture.failedFuture(new StreamClosedException(null));
        CompletionException e = assertThrows(CompletionException.class, f::join);
        assertInstanceOf(StreamClosedException.class, e.getCause());
    }

    @Test
    void aReaderReissuingItsReadFromTheCompletionReadsAHundredThousandBufferedLinesWithoutRecursing() throws Exception {
        // 100,000 two-byte lines arrive at once; each readUntil completes from the buffer, and the reader asks
        // for the next line from inside that completion. Completing inline would nest one call per line.
        int lines = 100_000;
        byte[] all = new byte[2 * lines];
        for (int i = 0; i < lines; i++) {
            all[2 * i] = (byte) ('a' + i % 26);
            all[2 * i + 1] = '\n';
        }
        send(all);
        peer.shutdownOutput();
        CompletableFuture<Integer> count = new CompletableFuture<>();
        int[] seen = {0};
        StackDepths depths = new StackDepths();
        Runnable[] next = new Runnable[1];
        next[0] = () -> stream.readUntil(new byte[]{'\n'}).whenComplete((line, e) -> {
            if (e != null) {
                count.complete(seen[0]);
                return;
            }
            depths.record();
            if (line.length != 2 || line[0] != 'a' + seen[0] % 26) {
                count.completeExceptionally(new AssertionError("line " + seen[0] + ": " + Arrays.toString(line)));
                return;
            }
            seen[0]++;
            next[0].run();
        });
        assertEquals(lines, loop.runSync(() -> {
            next[0].run();
            return count;
        }, TIMEOUT));
        // Inline completions nest a little (up to IOStream.MAX_INLINE_COMPLETIONS), then the stack stops growing.
        depths.assertBounded();
    }

    @Test
    void aWriterIssuingEachWriteFromTheLastOnesCompletionSendsAHundredThousandInOrderWithoutRecursing() throws Exception {
        int writes = 100_000;
        CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
            try {
                return receive(4 * writes);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        CompletableFuture<Integer> done = new CompletableFuture<>();
        int[] sent = {0};
        StackDepths depths = new StackDepths();
        Runnable[] next = new Runnable[1];
        next[0] = () -> {
            int i = sent[0];
            byte[] message = ByteBuffer.allocate(4).putInt(i).array();
            stream.write(message).whenComplete((v, e) -> {
                if (e != null) {
                    done.completeExceptionally(e);
                    return;
                }
                depths.record();
                if (++sent[0] == writes) {
                    done.complete(sent[0]);
                } else {
                    next[0].run();
                }
            });
        };
        assertEquals(writes, loop.runSync(() -> {
            next[0].run();
            return done;
        }, TIMEOUT));
        ByteBuffer all = ByteBuffer.wrap(received.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
        for (int i = 0; i < writes; i++) {
            assertEquals(i, all.getInt(), "message " + i);
        }
        depths.assertBounded();
    }

    @Test
    void writeOfACallersByteBufferLeavesItsPositionAndLimitWhetherSentAtOnceOrQueued() throws Exception {
        ByteBuffer small = ByteBuffer.wrap("..hello..".getBytes(StandardCharsets.US_ASCII), 2, 5);
        byte[] big = new byte[32 << 20]; // more than the kernel takes at once: the rest is queued
        Arrays.fill(big, (byte) 'b');
        ByteBuffer large = ByteBuffer.wrap(big);
        CompletableFuture<Void> written = loop.runSync(() -> {
            stream.write(small);
            assertEquals(2, small.position());
            assertEquals(7, small.limit());
            CompletableFuture<Void> f = stream.write(large);
            assertEquals(0, large.position());
            assertEquals(big.length, large.limit());
            return CompletableFuture.completedFuture(f);
        }, TIMEOUT);
        CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
            try {
                return receive(5 + big.length);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        sync(() -> written);
        byte[] all = received.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertEquals("hello", new String(all, 0, 5, StandardCharsets.US_ASCII));
        assertArrayEquals(big, Arrays.copyOfRange(all, 5, all.length));
    }

    @Test
    void aReaderChainingSmallReadBytesOverManyFullSocketReadsKeepsTheStackBounded() throws Exception {
        // 2 MiB keep the kernel full, so every socket read fills its 64 KiB chunk, and each 128 B read is
        // issued from the last one's completion: 512 reads in a row from one chunk, far past the bound.
        int total = 2 << 20;
        byte[] data = new byte[total];
        new java.util.Random(5).nextBytes(data);
        CompletableFuture<Void> sender = CompletableFuture.runAsync(() -> {
            try {
                send(data);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        ByteBuffer got = ByteBuffer.allocate(total);
        CompletableFuture<Void> done = new CompletableFuture<>();
        StackDepths depths = new StackDepths();
        Runnable[] next = new Runnable[1];
        next[0] = () -> stream.readBytes(128).whenComplete((chunk, e) -> {
            if (e != null) {
                done.completeExceptionally(e);
                return;
            }
            depths.record();
            got.put(chunk);
            if (got.hasRemaining()) {
                next[0].run();
            } else {
                done.complete(null);
            }
        });
        loop.runSync(() -> {
            next[0].run();
            return done;
        }, TIMEOUT);
        sender.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertArrayEquals(data, got.array());
        depths.assertBounded();
    }

    @Test
    void writesSentAtOnceSucceedEvenWhenTheStreamClosesRightAfter() throws Exception {
        // One write more than the nesting bound: the last one's future completes from the loop, after close().
        int writes = IOStream.MAX_INLINE_COMPLETIONS + 1;
        List<CompletableFuture<Void>> futures = loop.runSync(() -> {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < writes; i++) {
                all.add(stream.write(new byte[]{(byte) i}));
            }
            stream.close();
            return CompletableFuture.completedFuture(all);
        }, TIMEOUT);
        sync(() -> CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)));
        byte[] received = receive(writes);
        for (int i = 0; i < writes; i++) {
            assertEquals((byte) i, received[i]);
        }
    }

    /** The lowest and highest stack depth at the calls of {@link #record}: a chain of completions must not nest. */
    private static final class StackDepths {
        private int min = Integer.MAX_VALUE;
        private int max;

        void record() {
            int depth = StackWalker.getInstance().walk(frames -> (int) frames.count());
            min = Math.min(min, depth);
            max = Math.max(max, depth);
        }

        /** Fails unless the depths spread less than the nesting bound allows (about 40 frames per nested call). */
        void assertBounded() {
            assertTrue(max - min < 40 * IOStream.MAX_INLINE_COMPLETIONS, "stack depth in a completion: " + min + " to " + max);
        }
    }
}
