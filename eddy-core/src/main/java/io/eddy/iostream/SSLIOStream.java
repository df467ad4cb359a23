package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;

/**
 * A TLS stream over {@link SSLEngine}: Tornado's SSLIOStream. Reads and writes are plaintext, with the
 * same rules as {@link IOStream}; the stream encrypts and decrypts on the loop thread.
 *
 * <p>Handshake: on a connected channel it starts on the loop's next iteration, otherwise once
 * {@link #connect(SocketAddress)} has connected; {@code connect}'s future completes only after it.
 * Reads and writes issued before it is done wait for it. Delegated engine tasks run inline on the loop
 * thread. The client side verifies the server's certificate and that it matches {@code serverHostname}
 * (endpoint identification "HTTPS"). TLS 1.3 and 1.2 are enabled (those of them the context enables by
 * default). A failed handshake closes the stream with the {@link SSLException} as {@link #error()}; every
 * pending future then fails with {@link StreamClosedException} caused by it.
 *
 * <p>Writes: a write's future completes once its bytes are encrypted and handed to the kernel, except
 * that the last TLS record produced (at most about 16 KiB of ciphertext) may still be held by the stream;
 * it is flushed as soon as the socket is writable. The peer's close_notify or end of stream closes the
 * stream like a plain end of stream. Closing sends no close_notify.
 */
public class SSLIOStream extends IOStream {

    /** How long a handshake may take unless {@link #setHandshakeTimeout} says otherwise: 10 seconds. */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    private static final System.Logger LOG = System.getLogger("io.eddy.iostream");
    private static final ByteBuffer NOTHING = ByteBuffer.allocate(0);

    private final SSLEngine engine;
    private final CompletableFuture<SSLIOStream> handshake = new CompletableFuture<>();
    /** Ciphertext read from the socket, not yet unwrapped (read mode: position..limit). */
    private ByteBuffer netIn;
    /** Ciphertext wrapped, not yet written to the socket (read mode). */
    private ByteBuffer netOut;
    /** Plaintext unwrapped, not yet handed to the stream (read mode). */
    private ByteBuffer appIn;
    private final ByteBuffer[] one = new ByteBuffer[1];
    private boolean handshakeStarted;
    private boolean handshakeDone;
    /** Null: no limit. */
    private Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
    private long handshakeStartedAt;
    private Timeout handshakeTimer;
    private boolean inboundDone;

    /**
     * A TLS stream on {@code channel} (put in non-blocking mode) and {@code loop}. If the channel is connected
     * already, the handshake starts on the loop's next iteration; otherwise after {@link #connect}. Any thread.
     *
     * @param serverSide     true to act as the TLS server (the context must hold a key)
     * @param serverHostname client side: the name the server's certificate must match, also sent as SNI
     *                       (unless an IP address); ignored on the server side
     * @throws NullPointerException if {@code ctx} is null, or {@code serverHostname} is null on the client side
     */
    public SSLIOStream(SocketChannel channel, IOLoop loop, StreamOptions options, SSLContext ctx,
                       boolean serverSide, String serverHostname) {
        super(channel, loop, options);
        Objects.requireNonNull(ctx, "ctx");
        if (serverSide) {
            engine = ctx.createSSLEngine();
            engine.setUseClientMode(false);
        } else {
            Objects.requireNonNull(serverHostname, "serverHostname");
            int port = -1;
            try {
                if (channel.getRemoteAddress() instanceof InetSocketAddress a) {
                    port = a.getPort();
                }
            } catch (IOException e) {
                // unknown port: it only keys the session cache
            }
            engine = ctx.createSSLEngine(serverHostname, port);
            engine.setUseClientMode(true);
            SSLParameters params = engine.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            engine.setSSLParameters(params);
        }
        List<String> protocols = new ArrayList<>();
        for (String p : engine.getEnabledProtocols()) {
            if (p.equals("TLSv1.3") || p.equals("TLSv1.2")) {
                protocols.add(p);
            }
        }
        if (protocols.isEmpty()) {
            throw new IllegalArgumentException("the SSLContext enables neither TLSv1.3 nor TLSv1.2: "
                    + String.join(", ", engine.getEnabledProtocols()));
        }
        engine.setEnabledProtocols(protocols.toArray(String[]::new));
        SSLSession session = engine.getSession();
        netIn = ByteBuffer.allocate(session.getPacketBufferSize()).flip();
        netOut = ByteBuffer.allocate(session.getPacketBufferSize()).flip();
        appIn = ByteBuffer.allocate(session.getApplicationBufferSize()).flip();
        if (channel.isConnected()) {
            // If the loop closes before it starts the handshake, the stream closes: waitForHandshake fails.
            handOff(this::startHandshakeOnLoop, () -> close(loopClosed()));
        }
    }

    /**
     * Completes with this stream once the TLS handshake is done (at once if it is); fails with
     * {@link StreamClosedException} (caused by the {@link SSLException}, if that was the reason) if the stream
     * closes first. Each call returns a new dependent future of the one handshake. Any thread; completes on
     * the loop thread.
     */
    public CompletableFuture<SSLIOStream> waitForHandshake() {
        CompletableFuture<SSLIOStream> f = new CompletableFuture<>();
        handshake.whenComplete((s, e) -> {
            if (e == null) {
                f.complete(s);
            } else {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /**
     * Limits how long the handshake may take, counted from its start: if it has not finished by then, the
     * stream closes with an {@link SSLHandshakeException} saying so as its {@link #error()}, so a peer that
     * sends part of a handshake (or nothing) and goes quiet does not hold the connection. The default is
     * {@link #DEFAULT_HANDSHAKE_TIMEOUT}. Applies to a handshake under way too (from when it started); no
     * effect once it is done. Any thread.
     *
     * @param timeout the limit; null or zero for none
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public void setHandshakeTimeout(Duration timeout) {
        if (timeout != null && timeout.isNegative()) {
            throw new IllegalArgumentException("handshake timeout must not be negative (null or zero: none): " + timeout);
        }
        Duration limit = timeout == null || timeout.isZero() ? null : timeout;
        onLoop(() -> applyHandshakeTimeout(limit), () -> { }); // a closed loop: moot, no handshake will run
    }

    private void applyHandshakeTimeout(Duration limit) {
        handshakeTimeout = limit;
        if (handshakeStarted && !handshakeDone && !closed()) {
            armHandshakeTimer();
        }
    }

    /** (Re)schedules the close at the handshake's start plus the timeout. Loop thread. */
    private void armHandshakeTimer() {
        cancelHandshakeTimer();
        if (handshakeTimeout == null) {
            return;
        }
        Duration limit = handshakeTimeout;
        Duration left = limit.minusNanos(loop().time() - handshakeStartedAt); // callLater saturates a huge one
        handshakeTimer = loop().callLater(left, () -> {
            handshakeTimer = null;
            if (!handshakeDone && !closed()) {
                LOG.log(System.Logger.Level.DEBUG, () -> "TLS handshake timed out on " + channel());
                close(new SSLHandshakeException("TLS handshake not finished within " + limit));
            }
        });
    }

    private void cancelHandshakeTimer() {
        if (handshakeTimer != null) {
            handshakeTimer.cancel();
            handshakeTimer = null;
        }
    }

    /**
     * The engine's current TLS session (protocol, cipher suite, peer certificates once the handshake is
     * done). Loop thread (a snapshot elsewhere).
     */
    public SSLSession session() {
        return engine.getSession();
    }

    // ================================================================== handshake

    /**
     * TCP is up (connect finished): start the handshake. The event handling that follows drives it (the
     * connect future completes after it).
     */
    @Override
    void connected() throws IOException {
        startHandshake();
    }

    /** Server side and {@code startTls}: the channel is connected already. */
    private void startHandshakeOnLoop() {
        if (closed()) {
            return;
        }
        try {
            startHandshake();
        } catch (IOException | RuntimeException e) {
            fail(e);
            return;
        }
        // Through the same path as a socket event: the handshake may finish in this very step, with the
        // peer's first data already read into netIn, and the selector will not report those bytes again.
        handleTransportEvents(IOLoop.READ | IOLoop.WRITE);
    }

    /** Begins the handshake; {@link #onTransportEvent} advances it. */
    private void startHandshake() throws IOException {
        if (handshakeStarted) {
            return;
        }
        handshakeStarted = true;
        handshakeStartedAt = loop().time();
        armHandshakeTimer();
        engine.beginHandshake();
    }

    private void fail(Throwable e) {
        LOG.log(System.Logger.Level.WARNING, "TLS error on " + channel() + ", closing it: " + e);
        close(e);
    }

    /** Advances the handshake as far as the socket allows; finishes it when the engine is done. */
    private void handshakeStep() throws IOException {
        while (!closed() && !handshakeDone) {
            switch (engine.getHandshakeStatus()) {
                case NEED_TASK -> runTasks();
                case NEED_WRAP -> {
                    if (!flushNetOut()) {
                        return; // WRITE interest until the socket takes it
                    }
                    SSLEngineResult r = wrap(NOTHING);
                    flushNetOut();
                    if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
                        flushNetOut();
                        throw new SSLHandshakeException("the TLS engine closed during the handshake");
                    }
                    if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.FINISHED) {
                        finishHandshake();
                    }
                }
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                    if (netIn.hasRemaining()) {
                        SSLEngineResult r = unwrapForHandshake();
                        switch (r.getStatus()) {
                            case OK -> {
                                if (r.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.FINISHED) {
                                    finishHandshake();
                                }
                                continue;
                            }
                            case CLOSED -> {
                                inboundDone = true;
                                close(null); // the peer closed (close_notify) during the handshake
                                return;
                            }
                            case BUFFER_OVERFLOW -> {
                                appIn = grow(appIn, engine.getSession().getApplicationBufferSize());
                                continue;
                            }
                            case BUFFER_UNDERFLOW -> {
                                // read more below
                            }
                        }
                    }
                    int n = readNet();
                    if (n < 0) {
                        close(null); // end of stream during the handshake, like a plain end of stream
                        return;
                    }
                    if (n == 0) {
                        return; // READ interest until more comes
                    }
                }
                case FINISHED, NOT_HANDSHAKING -> finishHandshake();
            }
        }
    }

    private SSLEngineResult unwrapForHandshake() throws IOException {
        try {
            return unwrap();
        } catch (SSLException e) {
            sendAlertQuietly();
            throw e;
        }
    }

    /** After a failed unwrap the engine may hold an alert for the peer: a best-effort try to send it. */
    private void sendAlertQuietly() {
        try {
            if (engine.getHandshakeStatus() == SSLEngineResult.HandshakeStatus.NEED_WRAP) {
                wrap(NOTHING);
            }
            flushNetOut();
        } catch (IOException | RuntimeException ignored) {
            // the handshake failed already; that error is what counts
        }
    }

    private void finishHandshake() throws IOException {
        handshakeDone = true;
        cancelHandshakeTimer();
        handshake.complete(this);
        super.connected(); // completes connect() and sends the writes queued meanwhile
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    // ================================================================== hooks

    @Override
    int onTransportEvent(int events) throws IOException {
        if (!handshakeStarted) {
            return events;
        }
        if (!handshakeDone) {
            handshakeStep();
            // Just finished: whatever was waiting for the handshake may go now.
            return handshakeDone ? events | IOLoop.READ | IOLoop.WRITE : 0;
        }
        if ((events & IOLoop.WRITE) != 0) {
            flushNetOut();
        }
        return events;
    }

    @Override
    int transportInterest(int events) {
        int flush = netOut.hasRemaining() ? IOLoop.WRITE : 0;
        if (!handshakeStarted || handshakeDone) {
            return events | flush;
        }
        // Handshaking: wait for the peer's next message, or for a writable socket to go on with the rest
        // (wrapping, running tasks), which the selector reports at once.
        var status = engine.getHandshakeStatus();
        boolean unwrap = status == SSLEngineResult.HandshakeStatus.NEED_UNWRAP
                || status == SSLEngineResult.HandshakeStatus.NEED_UNWRAP_AGAIN;
        return flush | (unwrap ? IOLoop.READ : IOLoop.WRITE);
    }

    @Override
    boolean transportHoldsBytes() {
        return netOut.hasRemaining();
    }

    /**
     * Decrypted bytes not yet delivered, an end of stream seen in the data, or ciphertext read but not yet
     * decrypted: {@link #readChannel} stops once the reader's buffer is full, and the socket may already have
     * handed over all the records that come after (then the selector would never report them).
     */
    @Override
    boolean transportHasMore() {
        return inboundDone || appIn.hasRemaining() || netIn.hasRemaining();
    }

    @Override
    void onClose(Throwable cause) {
        cancelHandshakeTimer();
        try {
            flushNetOut(); // the last record of a write that already completed: one try, the socket is closing
        } catch (IOException | RuntimeException ignored) {
            // the peer is gone; nothing more to do
        }
        // A closed stream may be referenced for a while (a server keeps its streams until it prunes them):
        // it should not keep its ~50 KB of record buffers. Decrypted bytes not yet delivered stay.
        netIn = ByteBuffer.allocate(0); // this stream's own: a shared buffer's position would be shared too
        netOut = ByteBuffer.allocate(0);
        if (!appIn.hasRemaining()) {
            appIn = ByteBuffer.allocate(0);
        }
        handshake.completeExceptionally(new StreamClosedException(cause));
    }

    /**
     * Plaintext into {@code dst}: what was decrypted already, then as many more records as the socket has
     * and {@code dst} takes (like a socket read, which takes all the kernel has: returning one record at a
     * time would let a reader that reissues its read from the completion recurse once per record).
     * Returns the bytes put in {@code dst}; 0 when nothing is there, -1 at end of stream (only once what came
     * before it was returned).
     */
    @Override
    int readChannel(ByteBuffer dst) throws IOException {
        if (!handshakeDone) {
            return 0;
        }
        int total = 0;
        while (true) {
            if (appIn.hasRemaining()) {
                int n = Math.min(appIn.remaining(), dst.remaining());
                dst.put(dst.position(), appIn, appIn.position(), n);
                dst.position(dst.position() + n);
                appIn.position(appIn.position() + n);
                total += n;
                if (!dst.hasRemaining()) {
                    return total;
                }
                continue;
            }
            if (inboundDone) {
                return total > 0 ? total : -1;
            }
            if (netIn.hasRemaining()) {
                SSLEngineResult r = unwrap();
                switch (r.getStatus()) {
                    case OK -> {
                        afterHandshakeRecord(r);
                        continue;
                    }
                    case CLOSED -> {
                        inboundDone = true; // close_notify: an end of stream
                        continue;
                    }
                    case BUFFER_OVERFLOW -> {
                        appIn = grow(appIn, engine.getSession().getApplicationBufferSize());
                        continue;
                    }
                    case BUFFER_UNDERFLOW -> {
                        // read more below
                    }
                }
            }
            int n = readNet();
            if (n < 0) {
                inboundDone = true;
                return total > 0 ? total : -1;
            }
            if (n == 0) {
                return total;
            }
        }
    }

    /** A post-handshake message (TLS 1.3 session ticket, key update) may need a task or an answer. */
    private void afterHandshakeRecord(SSLEngineResult r) throws IOException {
        var status = r.getHandshakeStatus();
        if (status == SSLEngineResult.HandshakeStatus.NEED_TASK) {
            runTasks();
            status = engine.getHandshakeStatus();
        }
        if (status == SSLEngineResult.HandshakeStatus.NEED_WRAP && flushNetOut()) {
            wrap(NOTHING);
            flushNetOut();
        }
    }

    @Override
    int writeChannel(ByteBuffer src) throws IOException {
        one[0] = src;
        try {
            return (int) writeChannel(one, 1);
        } finally {
            one[0] = null;
        }
    }

    /** Encrypts from {@code srcs} record by record while the socket takes the ciphertext; returns the plaintext consumed. */
    @Override
    long writeChannel(ByteBuffer[] srcs, int count) throws IOException {
        if (!handshakeDone) {
            return 0;
        }
        long consumed = 0;
        while (hasRemaining(srcs, count) && flushNetOut()) {
            SSLEngineResult r;
            try {
                r = engine.wrap(srcs, 0, count, compactForWrite());
            } finally {
                netOut.flip(); // back to read mode also when the engine throws
            }
            switch (r.getStatus()) {
                case OK -> consumed += r.bytesConsumed();
                case BUFFER_OVERFLOW -> netOut = grow(netOut, engine.getSession().getPacketBufferSize());
                case CLOSED -> throw new SSLException("the TLS engine is closed for writing");
                case BUFFER_UNDERFLOW -> throw new IllegalStateException("wrap reported BUFFER_UNDERFLOW");
            }
        }
        flushNetOut();
        return consumed;
    }

    private static boolean hasRemaining(ByteBuffer[] srcs, int count) {
        for (int i = 0; i < count; i++) {
            if (srcs[i].hasRemaining()) {
                return true;
            }
        }
        return false;
    }

    // ================================================================== buffers

    private SSLEngineResult wrap(ByteBuffer src) throws IOException {
        while (true) {
            SSLEngineResult r;
            try {
                r = engine.wrap(src, compactForWrite());
            } finally {
                netOut.flip(); // back to read mode also when the engine throws
            }
            if (r.getStatus() != SSLEngineResult.Status.BUFFER_OVERFLOW) {
                return r;
            }
            netOut = grow(netOut, engine.getSession().getPacketBufferSize());
        }
    }

    private ByteBuffer compactForWrite() {
        netOut.compact();
        return netOut;
    }

    private SSLEngineResult unwrap() throws IOException {
        appIn.compact();
        try {
            return engine.unwrap(netIn, appIn);
        } finally {
            appIn.flip();
        }
    }

    /** Reads ciphertext from the socket into {@link #netIn}; -1 at end of stream, 0 when nothing is there. */
    private int readNet() throws IOException {
        if (netIn.limit() == netIn.capacity() && netIn.position() == 0) {
            netIn = grow(netIn, Math.max(netIn.capacity() * 2, engine.getSession().getPacketBufferSize()));
        }
        netIn.compact();
        try {
            return channel().read(netIn);
        } finally {
            netIn.flip();
        }
    }

    /** Writes {@link #netOut} to the socket; true once it is all written. */
    private boolean flushNetOut() throws IOException {
        while (netOut.hasRemaining()) {
            if (channel().write(netOut) == 0) {
                return false;
            }
        }
        return true;
    }

    /** A copy of {@code b} (read mode) with room for at least {@code size} bytes. */
    private static ByteBuffer grow(ByteBuffer b, int size) {
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(size, b.remaining() + size));
        bigger.put(b).flip();
        return bigger;
    }
}
