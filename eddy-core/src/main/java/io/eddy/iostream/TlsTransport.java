package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * TLS as a {@link Transport} layered over another: the stream above reads and writes plaintext, the
 * transport below carries the records. Holds the {@link SSLEngine} and its three record buffers, drives the
 * handshake from the loop's events, and enforces the handshake timeout. {@link SSLIOStream} configures the
 * engine and is the public face.
 *
 * <p>The layer below must be ready as soon as it is connected (a socket is): the handshake starts then, and
 * {@link StreamCore#transportReady} (the connect future, the writes queued meanwhile) follows the handshake.
 * Delegated engine tasks run inline on the loop thread. Closing sends no close_notify.
 *
 * <p>Threads: as {@link Transport}: the stream's loop thread only, except {@link #onClose} and
 * {@link #close}; {@link #handshake()} may be read from any thread.
 */
final class TlsTransport implements Transport {

    private static final System.Logger LOG = System.getLogger("io.eddy.iostream");
    private static final ByteBuffer NOTHING = ByteBuffer.allocate(0);

    private final Transport below;
    private final StreamCore core;
    private final SSLEngine engine;
    /** Completes once the handshake is done; fails when the stream closes first. */
    private final CompletableFuture<Void> handshake = new CompletableFuture<>();
    /** Ciphertext read from below, not yet unwrapped (read mode: position..limit). */
    private ByteBuffer netIn;
    /** Ciphertext wrapped, not yet written below (read mode). */
    private ByteBuffer netOut;
    /** Plaintext unwrapped, not yet handed to the stream (read mode). */
    private ByteBuffer appIn;
    private final ByteBuffer[] one = new ByteBuffer[1];
    private boolean handshakeStarted;
    private boolean handshakeDone;
    /** Null: no limit. */
    private Duration handshakeTimeout = SSLIOStream.DEFAULT_HANDSHAKE_TIMEOUT;
    private long handshakeStartedAt;
    private Timeout handshakeTimer;
    private boolean inboundDone;

    /** TLS through {@code engine} (configured, client or server mode set) over {@code below}, for {@code core}'s stream. */
    TlsTransport(Transport below, StreamCore core, SSLEngine engine) {
        this.below = below;
        this.core = core;
        this.engine = engine;
        int packet = engine.getSession().getPacketBufferSize();
        netIn = ByteBuffer.allocate(packet).flip();
        netOut = ByteBuffer.allocate(packet).flip();
        appIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize()).flip();
    }

    SSLEngine engine() {
        return engine;
    }

    CompletableFuture<Void> handshake() {
        return handshake;
    }

    // ================================================================== handshake

    /** Sets the handshake's limit (null: none); re-arms the timer of a handshake under way. Loop thread. */
    void setHandshakeTimeout(Duration limit) {
        handshakeTimeout = limit;
        if (handshakeStarted && !handshakeDone && !core.closed) {
            armHandshakeTimer();
        }
    }

    /** (Re)schedules the close at the handshake's start plus the timeout. */
    private void armHandshakeTimer() {
        cancelHandshakeTimer();
        if (handshakeTimeout == null) {
            return;
        }
        Duration limit = handshakeTimeout;
        IOLoop loop = core.loop;
        Duration left = limit.minusNanos(loop.time() - handshakeStartedAt); // callLater saturates a huge one
        handshakeTimer = loop.callLater(left, () -> {
            handshakeTimer = null;
            if (!handshakeDone && !core.closed) {
                LOG.log(System.Logger.Level.DEBUG, () -> "TLS handshake timed out on " + core.stream);
                core.stream.close(new SSLHandshakeException("TLS handshake not finished within " + limit));
            }
        });
    }

    private void cancelHandshakeTimer() {
        if (handshakeTimer != null) {
            handshakeTimer.cancel();
            handshakeTimer = null;
        }
    }

    /** Server side and {@code startTls}: the connection is up already. Loop thread. */
    void startHandshakeOnLoop() {
        if (core.closed) {
            return;
        }
        try {
            startHandshake();
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "TLS error on " + core.stream + ", closing it: " + e);
            core.stream.close(e);
            return;
        }
        // Through the same path as a socket event: the handshake may finish in this very step, with the
        // peer's first data already read into netIn, and the selector will not report those bytes again.
        core.handleEvents(IOLoop.READ | IOLoop.WRITE);
    }

    /** Begins the handshake; {@link #onEvents} advances it. */
    private void startHandshake() throws IOException {
        if (handshakeStarted) {
            return;
        }
        handshakeStarted = true;
        handshakeStartedAt = core.loop.time();
        armHandshakeTimer();
        engine.beginHandshake();
    }

    /** Advances the handshake as far as the connection allows; finishes it when the engine is done. */
    private void handshakeStep() throws IOException {
        while (!core.closed && !handshakeDone) {
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
                    if (r.getHandshakeStatus() == HandshakeStatus.FINISHED) {
                        finishHandshake();
                    }
                }
                case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                    if (netIn.hasRemaining()) {
                        SSLEngineResult r = unwrapForHandshake();
                        switch (r.getStatus()) {
                            case OK -> {
                                if (r.getHandshakeStatus() == HandshakeStatus.FINISHED) {
                                    finishHandshake();
                                }
                                continue;
                            }
                            case CLOSED -> {
                                inboundDone = true;
                                core.stream.close(null); // the peer closed (close_notify) during the handshake
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
                        core.stream.close(null); // end of stream during the handshake, like a plain end of stream
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
            if (engine.getHandshakeStatus() == HandshakeStatus.NEED_WRAP) {
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
        handshake.complete(null);
        core.transportReady(); // completes connect() and sends the writes queued meanwhile
    }

    private void runTasks() {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }

    // ================================================================== readiness and lifecycle

    @Override
    public int onEvents(int events) throws IOException {
        events = below.onEvents(events);
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
    public void interest(int events) {
        below.interest(tlsInterest(events));
    }

    /** The stream's {@code events} plus what TLS waits for: WRITE while records wait, the handshake's next step. */
    private int tlsInterest(int events) {
        int flush = netOut.hasRemaining() ? IOLoop.WRITE : 0;
        if (!handshakeStarted || handshakeDone) {
            return events | flush;
        }
        // Handshaking: wait for the peer's next message, or for a writable socket to go on with the rest
        // (wrapping, running tasks), which the selector reports at once.
        HandshakeStatus status = engine.getHandshakeStatus();
        boolean unwrap = status == HandshakeStatus.NEED_UNWRAP || status == HandshakeStatus.NEED_UNWRAP_AGAIN;
        return flush | (unwrap ? IOLoop.READ : IOLoop.WRITE);
    }

    @Override
    public boolean holdsBytes() {
        return netOut.hasRemaining() || below.holdsBytes();
    }

    /**
     * Decrypted bytes not yet delivered, an end of stream seen in the data, or ciphertext read but not yet
     * decrypted: {@link #read} stops once the reader's buffer is full, and the socket may already have
     * handed over all the records that come after (then the selector would never report them).
     */
    @Override
    public boolean hasMore() {
        return inboundDone || appIn.hasRemaining() || netIn.hasRemaining() || below.hasMore();
    }

    /** TCP is up: the handshake starts; the events that follow drive it, and its end makes the stream ready. */
    @Override
    public boolean onConnected() throws IOException {
        startHandshake();
        return false;
    }

    @Override
    public boolean connect(SocketAddress remote) throws IOException {
        return below.connect(remote);
    }

    @Override
    public boolean finishConnect() throws IOException {
        return below.finishConnect();
    }

    @Override
    public boolean isConnected() {
        return below.isConnected();
    }

    @Override
    public void setNoDelay(boolean on) throws IOException {
        below.setNoDelay(on);
    }

    /** Half-closes below, after the last record if the kernel takes it now; sends no close_notify (as close). */
    @Override
    public void shutdownOutput() throws IOException {
        flushNetOut();
        below.shutdownOutput();
    }

    @Override
    public void deregister() {
        below.deregister();
    }

    @Override
    public void onClose(Throwable cause) {
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
        below.onClose(cause);
    }

    @Override
    public void close() throws IOException {
        below.close();
    }

    // ================================================================== plaintext

    /**
     * Plaintext into {@code dst}: what was decrypted already, then as many more records as the connection has
     * and {@code dst} takes (like a socket read, which takes all the kernel has: returning one record at a
     * time would let a reader that reissues its read from the completion recurse once per record).
     * Returns the bytes put in {@code dst}; 0 when nothing is there, -1 at end of stream (only once what came
     * before it was returned).
     */
    @Override
    public int read(ByteBuffer dst) throws IOException {
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
        HandshakeStatus status = r.getHandshakeStatus();
        if (status == HandshakeStatus.NEED_TASK) {
            runTasks();
            status = engine.getHandshakeStatus();
        }
        if (status == HandshakeStatus.NEED_WRAP && flushNetOut()) {
            wrap(NOTHING);
            flushNetOut();
        }
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        one[0] = src;
        try {
            return (int) write(one, 1);
        } finally {
            one[0] = null;
        }
    }

    /** Encrypts from {@code srcs} record by record while the connection takes the ciphertext; returns the plaintext consumed. */
    @Override
    public long write(ByteBuffer[] srcs, int count) throws IOException {
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

    // ================================================================== record buffers

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

    /** Reads ciphertext from below into {@link #netIn}; -1 at end of stream, 0 when nothing is there. */
    private int readNet() throws IOException {
        if (netIn.limit() == netIn.capacity() && netIn.position() == 0) {
            netIn = grow(netIn, Math.max(netIn.capacity() * 2, engine.getSession().getPacketBufferSize()));
        }
        netIn.compact();
        try {
            return below.read(netIn);
        } finally {
            netIn.flip();
        }
    }

    /** Writes {@link #netOut} below; true once it is all written. */
    private boolean flushNetOut() throws IOException {
        while (netOut.hasRemaining()) {
            if (below.write(netOut) == 0) {
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

    @Override
    public InetSocketAddress remoteAddress() {
        return below.remoteAddress();
    }

    @Override
    public InetSocketAddress localAddress() {
        return below.localAddress();
    }

    @Override
    public String toString() {
        return "TLS over " + below;
    }
}
