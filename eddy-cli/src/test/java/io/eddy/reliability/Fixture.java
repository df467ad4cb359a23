package io.eddy.reliability;

import io.eddy.cli.RawEchoServer;
import io.eddy.cli.StreamEchoServer;
import io.eddy.cli.TestTls;
import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.LoopStats;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.StreamOptions;
import io.eddy.tcp.ServerOptions;
import io.eddy.tcp.TCPServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * What every reliability case needs, in one place: the echo servers under test started on
 * 127.0.0.1:0 on a loop thread of their own ({@link #start}), a loop for the test's own non-blocking
 * clients ({@link Clients}), the process's file-descriptor count ({@link #openFds}), what Eddy logs
 * ({@link LogCapture}), waiting for a condition with a deadline ({@link #await}), and the checks that
 * close every case ({@link EchoServer#assertServesAFreshClient}, {@link #assertFdsBackTo}).
 *
 * <p>A case usually reads:
 * <pre>{@code
 * try (LogCapture log = new LogCapture(); EchoServer server = Fixture.start(kind)) {
 *     int fds = server.warmUpAndCountFds();       // the baseline, with the server up and warmed up
 *     ... throw something at server.address() ...
 *     server.assertUnharmed(fds, log);            // idle loop, fds back, a fresh client served, nothing
 *                                                 // thrown at the loop, nothing logged above DEBUG
 * }
 * }</pre>
 *
 * <p>No case synchronises with sleeps: futures and latches with a timeout, or {@link #await}, which
 * polls a condition (an fd count, a loop's stats) until a deadline.
 */
final class Fixture {

    static final String HOST = "127.0.0.1";
    /** How long any single wait of a case may take before it counts as a hang. */
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    /** The Eddy loggers, and the command line's. */
    static final List<String> LOGGERS = List.of("io.eddy.ioloop", "io.eddy.iostream", "io.eddy.tcp", "io.eddy.cli");

    /**
     * Runs each task on a new platform thread: for blocking clients. Not virtual threads: their socket
     * I/O opens the JDK's pollers (epoll fds and pipes) lazily, which would move the fd count under a case.
     */
    static final java.util.concurrent.Executor THREADS = task -> Thread.ofPlatform().daemon().start(task);

    private Fixture() {
    }

    /** The two echo servers of {@code eddy echo}: the default one on IOStreams, and {@code --raw}. */
    enum Kind {
        /** {@link StreamEchoServer}'s handler on a {@link TCPServer}. */
        STREAM,
        /** {@link RawEchoServer}: raw {@code addHandler} with a message queue per connection. */
        RAW
    }

    // ------------------------------------------------------------------ servers

    /** Starts the server of {@code kind} on 127.0.0.1:0 on its own loop thread. */
    static EchoServer start(Kind kind) throws IOException {
        return switch (kind) {
            case STREAM -> startStream(ServerOptions.defaults(), stream -> { });
            case RAW -> startRaw();
        };
    }

    /**
     * Starts the stream echo server ({@link StreamEchoServer#handler}) with {@code options} (TLS, buffer
     * limits) on 127.0.0.1:0 on its own loop thread; {@code onAccept} sees each connection's stream first,
     * on the loop thread.
     */
    static EchoServer startStream(ServerOptions options, Consumer<IOStream> onAccept) throws IOException {
        List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        IOLoop loop = IOLoop.builder().exceptionHandler(uncaught::add).build();
        var echo = StreamEchoServer.handler(null);
        TCPServer server = new TCPServer((stream, address) -> {
            onAccept.accept(stream);
            return echo.handleStream(stream, address);
        }, options);
        loop.makeCurrent();
        try {
            server.listen(0, HOST);
        } catch (IOException | RuntimeException e) {
            IOLoop.clearCurrent();
            loop.close(true);
            throw e;
        }
        IOLoop.clearCurrent();
        InetSocketAddress address = server.addresses().get(0);
        return new EchoServer(Kind.STREAM, options.sslContext() != null, loop, address, uncaught, server::stop, null);
    }

    /**
     * Starts the stream echo server with TLS ({@code eddy echo --tls}'s self-signed certificate) and the
     * given handshake timeout. Its fresh clients ({@link EchoServer#assertServesAFreshClient}) are TLS clients.
     */
    static EchoServer startTls(Duration handshakeTimeout) throws IOException {
        return startStream(ServerOptions.defaults().withSslContext(TestTls.serverContext())
                .withHandshakeTimeout(handshakeTimeout), stream -> { });
    }

    /** Starts {@link RawEchoServer} on 127.0.0.1:0 on its own loop thread. */
    static EchoServer startRaw() throws IOException {
        List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        IOLoop loop = IOLoop.builder().exceptionHandler(uncaught::add).build();
        RawEchoServer raw;
        try {
            raw = RawEchoServer.bind(loop, HOST, 0, null);
        } catch (IOException | RuntimeException e) {
            loop.close(true);
            throw e;
        }
        return new EchoServer(Kind.RAW, false, loop, raw.address(), uncaught, () -> { }, raw);
    }

    /**
     * An echo server under test: its loop runs on a thread of its own; {@link #close} stops it, closes
     * every connection it holds and waits for the thread. Exceptions that reach the loop's exception
     * handler are collected ({@link #uncaught}) instead of logged.
     */
    static final class EchoServer implements AutoCloseable {
        final Kind kind;
        /** Serves TLS: its fresh clients are TLS clients. */
        final boolean tls;
        final IOLoop loop;
        final InetSocketAddress address;
        private final List<Throwable> uncaught;
        private final Runnable stopListening;
        private final RawEchoServer raw;
        private final Thread thread;
        private LoopStats idle;

        private EchoServer(Kind kind, boolean tls, IOLoop loop, InetSocketAddress address, List<Throwable> uncaught,
                           Runnable stopListening, RawEchoServer raw) {
            this.kind = kind;
            this.tls = tls;
            this.loop = loop;
            this.address = address;
            this.uncaught = uncaught;
            this.stopListening = stopListening;
            this.raw = raw;
            this.thread = loop.startInNewThread("echo-" + kind.name().toLowerCase() + "-" + address.getPort());
        }

        /** Runs {@code task} on the server's loop and returns its result (within {@link #TIMEOUT}). */
        <T> T onLoop(Callable<T> task) {
            try {
                return loop.submit(task).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError("task on the server loop failed or timed out", e);
            }
        }

        /** The loop's exact stats (taken on the loop thread). */
        LoopStats stats() {
            return onLoop(loop::stats);
        }

        /** {@link RawEchoServer#queuedBytes()} (raw server only), read on the loop thread. */
        long rawQueuedBytes() {
            if (raw == null) {
                throw new IllegalStateException("not the raw server: " + kind);
            }
            return onLoop(raw::queuedBytes);
        }

        /**
         * Echoes a few messages with a fresh client (so that every class and lazily opened file the
         * server and the clients need is loaded), records the loop's idle stats, and returns the fd count:
         * the baseline a case compares with after its load.
         */
        int warmUpAndCountFds() throws IOException {
            for (int i = 0; i < 3; i++) {
                assertServesAFreshClient();
            }
            return recordIdleAndCountFds();
        }

        /**
         * After a case's own warm-up: waits for the loop to be idle, records its idle stats for
         * {@link #assertIdle} and returns the fd count, the baseline.
         */
        int recordIdleAndCountFds() {
            awaitIdle();
            idle = stats();
            return openFds();
        }

        /** Waits until the loop holds only its listening socket again: every connection's handler is gone. */
        void awaitIdle() {
            // Exact stats, taken on the loop thread: a snapshot from this thread may predate the last accept.
            await("the server loop to hold only its listening socket", () -> stats().handlers() <= 1);
        }

        /**
         * Waits for the loop to be back to its idle stats of {@link #warmUpAndCountFds} (handlers, queued
         * callbacks, pending timeouts) and asserts them exactly, on the loop thread.
         */
        void assertIdle() {
            if (idle == null) {
                throw new IllegalStateException("warmUpAndCountFds() first");
            }
            awaitIdle();
            LoopStats now = stats();
            // The task that reads the stats is not queued any more while it runs: 0 callbacks at idle.
            assertEquals(idle.handlers(), now.handlers(), "handlers: " + now + " vs idle " + idle);
            assertEquals(idle.pendingCallbacks(), now.pendingCallbacks(), "callbacks: " + now + " vs idle " + idle);
            assertEquals(idle.pendingTimeouts(), now.pendingTimeouts(), "timeouts: " + now + " vs idle " + idle);
        }

        /**
         * What every case checks at its end: the loop back to its idle stats, the fd count back to
         * {@code fdsBaseline}, a fresh client served, no exception at the loop's handler, nothing logged above
         * DEBUG. Returns the fd count seen.
         */
        int assertUnharmed(int fdsBaseline, LogCapture log) throws Exception {
            assertIdle();
            int fdsAfter = assertFdsBackTo(fdsBaseline);
            assertServesAFreshClient();
            assertNoUncaughtExceptions();
            log.assertNothingAbove(Level.FINE);
            return fdsAfter;
        }

        /** A new connection (TLS if the server is): 64 KiB, sent and echoed back byte for byte, then a clean close. */
        void assertServesAFreshClient() throws IOException {
            if (tls) {
                try {
                    assertTlsEcho(address, 64 * 1024);
                } catch (IOException | RuntimeException | Error e) {
                    throw e;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
                return;
            }
            byte[] data = pattern(64 * 1024, address.getPort());
            try (Socket s = new Socket()) {
                s.connect(address, (int) TIMEOUT.toMillis());
                s.setSoTimeout((int) TIMEOUT.toMillis());
                // The echo comes back while it is sent: write from another thread so neither side's
                // buffers have to hold all of it.
                CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                    try {
                        OutputStream out = s.getOutputStream();
                        out.write(data);
                        out.flush();
                        s.shutdownOutput();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }, THREADS);
                byte[] echoed = readToEnd(s.getInputStream(), data.length);
                sent.join();
                assertArrayEquals(data, echoed, "a fresh client's echo");
            }
        }

        /** Exceptions that reached the server loop's exception handler: none, unless a case explains them. */
        List<Throwable> uncaught() {
            return uncaught;
        }

        void assertNoUncaughtExceptions() {
            if (!uncaught.isEmpty()) {
                AssertionError e = new AssertionError(uncaught.size() + " exception(s) reached the server loop's handler");
                uncaught.forEach(e::addSuppressed);
                throw e;
            }
        }

        /** Stops listening, closes every connection and the loop, and waits for the loop thread. */
        @Override
        public void close() {
            stopListening.run();
            loop.shutdown().join();
            joinQuietly(thread);
        }
    }

    /** Waits up to {@link #TIMEOUT} for a loop thread to end; an interrupt ends the wait and stays set. */
    private static void joinQuietly(Thread thread) {
        try {
            thread.join(TIMEOUT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------ clients

    /**
     * A loop on a thread of its own for the test's non-blocking clients (IOStreams). {@link #close}
     * closes every stream it made and the loop.
     */
    static final class Clients implements AutoCloseable {
        final IOLoop loop;
        private final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        private final List<IOStream> streams = Collections.synchronizedList(new ArrayList<>());
        private final Thread thread;

        Clients() {
            loop = IOLoop.builder().exceptionHandler(uncaught::add).build();
            thread = loop.startInNewThread("clients");
        }

        /**
         * One client: connects, sends {@code rounds} messages of {@code size} bytes one after the other,
         * each echoed and checked byte for byte before the next, then closes. Completes on success; fails
         * with an {@link AssertionError} on a wrong echo, or with the I/O error.
         */
        CompletableFuture<Void> echo(InetSocketAddress address, int rounds, int size, int seed) {
            return loop.submit(() -> {
                IOStream stream = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
                streams.add(stream);
                return stream;
            }).thenCompose(stream -> stream.connect(address)
                    .thenCompose(s -> round(stream, 0, rounds, size, seed))
                    .whenComplete((v, e) -> stream.close()));
        }

        private CompletableFuture<Void> round(IOStream stream, int i, int rounds, int size, int seed) {
            if (i == rounds) {
                return CompletableFuture.completedFuture(null);
            }
            byte[] message = pattern(size, seed * 7919 + i);
            stream.write(message);
            return stream.readBytes(size).thenCompose(echoed -> {
                if (!Arrays.equals(message, echoed)) {
                    throw new AssertionError("client " + seed + ", message " + i + ": the echo differs from what was sent");
                }
                return round(stream, i + 1, rounds, size, seed);
            });
        }

        /** {@code count} {@link #echo} clients at once; completes when all did. */
        CompletableFuture<Void> echoAll(InetSocketAddress address, int count, int rounds, int size) {
            List<CompletableFuture<Void>> all = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                all.add(echo(address, rounds, size, i));
            }
            return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
        }

        void assertNoUncaughtExceptions() {
            if (!uncaught.isEmpty()) {
                AssertionError e = new AssertionError(uncaught.size() + " exception(s) reached the client loop's handler");
                uncaught.forEach(e::addSuppressed);
                throw e;
            }
        }

        @Override
        public void close() {
            List<IOStream> open;
            synchronized (streams) {
                open = List.copyOf(streams);
            }
            open.forEach(IOStream::close); // handed to the loop, which closes them before it stops
            loop.shutdown().join();
            joinQuietly(thread);
        }
    }

    /**
     * A proper TLS client (a JDK {@link SSLSocket} trusting any server) sends {@code size} bytes to
     * {@code address} and gets them back, byte for byte; then closes.
     */
    static void assertTlsEcho(InetSocketAddress address, int size) throws Exception {
        byte[] data = pattern(size, size);
        try (SSLSocket tls = (SSLSocket) TestTls.clientTrustingAnyServer().getSocketFactory().createSocket()) {
            tls.setTcpNoDelay(true); // its Finished and first record are two small writes: no Nagle wait between
            tls.connect(address, (int) TIMEOUT.toMillis());
            tls.setSoTimeout((int) TIMEOUT.toMillis());
            tls.startHandshake();
            // The echo comes back while it is sent: write from another thread.
            CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
                try {
                    OutputStream out = tls.getOutputStream();
                    out.write(data);
                    out.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, THREADS);
            byte[] echoed = tls.getInputStream().readNBytes(size);
            sent.join();
            assertArrayEquals(data, echoed, "a proper TLS client's echo");
        }
    }

    // ------------------------------------------------------------------ data

    /** {@code size} bytes that differ from client to client and from offset to offset. */
    static byte[] pattern(int size, int seed) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = patternByte(seed, i);
        }
        return b;
    }

    /** Byte {@code offset} of the {@link #pattern} of {@code seed}. */
    static byte patternByte(int seed, long offset) {
        long x = offset * 0x9E3779B97F4A7C15L + seed;
        return (byte) (x ^ (x >>> 29) ^ (x >>> 47));
    }

    /** Reads until end of stream and checks that exactly {@code expected} bytes came. */
    static byte[] readToEnd(InputStream in, int expected) throws IOException {
        byte[] all = in.readAllBytes();
        assertEquals(expected, all.length, "bytes before end of stream");
        return all;
    }

    // ------------------------------------------------------------------ fds

    /** The process's open file descriptors: the entries of /proc/self/fd (the listing's own one excluded). */
    static int openFds() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return (int) fds.count() - 1;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Waits (up to {@link #TIMEOUT}) until the fd count is at most {@code baseline} and returns the count
     * seen then; fails listing the open fds by kind.
     */
    static int assertFdsBackTo(int baseline) {
        int[] seen = {0};
        try {
            await("the fd count back to " + baseline, () -> (seen[0] = openFds()) <= baseline);
            return seen[0];
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; now " + openFds() + " open: " + describeFds(), e);
        }
    }

    /** What the open fds are (socket, pipe, file), counted by kind, for failure messages. */
    static String describeFds() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(p -> {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    int bracket = target.indexOf('[');
                    return bracket > 0 ? target.substring(0, bracket) : target;
                } catch (IOException gone) {
                    return "gone";
                }
            }).collect(java.util.stream.Collectors.groupingBy(t -> t, java.util.TreeMap::new,
                    java.util.stream.Collectors.counting())).toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    // ------------------------------------------------------------------ waiting

    private static byte[] clientHello;

    /** A TLS client's first flight (its ClientHello), as a JDK SSLEngine makes it. */
    static synchronized byte[] clientHello() {
        if (clientHello == null) {
            try {
                SSLEngine engine = TestTls.clientTrustingAnyServer().createSSLEngine("localhost", 443);
                engine.setUseClientMode(true);
                ByteBuffer out = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
                engine.wrap(ByteBuffer.allocate(0), out);
                clientHello = Arrays.copyOf(out.array(), out.position());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return clientHello;
    }

    /** Polls {@code condition} every few milliseconds until it holds; fails after {@link #TIMEOUT}. */
    static void await(String what, BooleanSupplier condition) {
        await(what, TIMEOUT, condition);
    }

    /** Polls {@code condition} every few milliseconds until it holds; fails after {@code timeout}. */
    static void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("timed out after " + timeout.toSeconds() + " s waiting for " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5)); // a poll interval, not a synchronisation
        }
    }

    /** The largest value {@code sample} has returned: for "stays bounded" checks sampled along the way. */
    static final class Max {
        private long max = Long.MIN_VALUE;

        long sample(LongSupplier sample) {
            long v = sample.getAsLong();
            max = Math.max(max, v);
            return v;
        }

        long get() {
            return max;
        }
    }

    // ------------------------------------------------------------------ logs

    /**
     * Captures every record of the Eddy loggers ({@link #LOGGERS}) at every level, DEBUG (FINE) included,
     * through java.util.logging, System.Logger's default backend; {@link #close} puts the loggers back.
     */
    static final class LogCapture extends Handler implements AutoCloseable {
        private final List<Logger> loggers = new ArrayList<>(); // strong references: JUL holds its loggers weakly
        private final List<Level> previous = new ArrayList<>();
        private final List<LogRecord> records = new CopyOnWriteArrayList<>();

        LogCapture() {
            setLevel(Level.ALL);
            for (String name : LOGGERS) {
                Logger logger = Logger.getLogger(name);
                loggers.add(logger);
                previous.add(logger.getLevel());
                logger.setLevel(Level.ALL);
                logger.addHandler(this);
            }
        }

        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        @Override
        public void flush() {
        }

        /** Every record so far. */
        List<LogRecord> records() {
            return records;
        }

        /** The records above {@code level}, as "LEVEL logger: message" lines. */
        List<String> above(Level level) {
            return records.stream().filter(r -> r.getLevel().intValue() > level.intValue())
                    .map(r -> r.getLevel() + " " + r.getLoggerName() + ": " + r.getMessage()
                            + (r.getThrown() != null ? " (" + r.getThrown() + ")" : ""))
                    .toList();
        }

        /** Fails, listing them, if anything was logged above {@code level} (e.g. FINE = DEBUG). */
        void assertNothingAbove(Level level) {
            List<String> loud = above(level);
            if (!loud.isEmpty()) {
                fail(loud.size() + " record(s) above " + level + ", first: " + loud.subList(0, Math.min(5, loud.size())));
            }
        }

        @Override
        public void close() {
            for (int i = 0; i < loggers.size(); i++) {
                loggers.get(i).removeHandler(this);
                loggers.get(i).setLevel(previous.get(i));
            }
        }
    }
}
