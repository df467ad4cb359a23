package io.eddy.iostream;

import io.eddy.ioloop.Context;
import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.internal.Discardable;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;

import static io.eddy.iostream.Futures.complete;
import static io.eddy.iostream.Futures.fail;

/**
 * A buffered, non-blocking TCP stream on an {@link IOLoop}: Tornado's IOStream.
 *
 * <pre>{@code
 * IOStream stream = new IOStream(socketChannel);
 * stream.readUntil("\r\n".getBytes())
 *       .thenCompose(line -> stream.write(line))
 *       .whenComplete((v, e) -> stream.close());
 * }</pre>
 *
 * <p>Reads: one at a time (a second one's future fails with {@link IllegalStateException}); a read
 * that the buffered data can satisfy completes before the method returns, when called on the loop
 * thread. The socket is read only while a read is pending (flow control), or, while the stream is
 * idle with a close callback set, just enough to notice the peer closing. Data buffered before the
 * peer closed stays readable.
 *
 * <p>Writes: queued in order; each future completes once every byte up to and including its write
 * has been handed to the kernel. The caller may reuse the array or buffer as soon as {@code write}
 * returns.
 *
 * <p>Nesting: a reader that issues its next read from the last one's completion (or a writer its next
 * write) runs inside the call that completed it. To keep the stack bounded however many messages are
 * buffered, after 64 reads (or writes) in a row that began without the stream waiting for the loop, the
 * next one continues from the loop on a fresh stack, one iteration later.
 *
 * <p>Errors: a null argument throws {@link NullPointerException} and an invalid one
 * {@link IllegalArgumentException}; every other failure arrives through the returned future. When the
 * stream closes, every pending future fails with {@link StreamClosedException} whose cause is
 * {@link #error()}.
 *
 * <p>Threads: any method may be called from any thread; off the loop thread the work is handed to the
 * loop with {@link IOLoop#addCallback}. Futures complete on the loop thread, under the {@link Context}
 * of the call that made them. Once the loop is closed, work handed to it would never run: a read, write,
 * connect or startTls from another thread then fails its future at once with {@link StreamClosedException}
 * (caused by a {@link java.util.concurrent.RejectedExecutionException}), {@link #close()} closes the socket
 * on the calling thread, and {@link #setCloseCallback} throws the {@code RejectedExecutionException}.
 */
public class IOStream implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("io.eddy.iostream");
    /**
     * Reads (or writes) in a row that may complete inside the call that issued them before the next one
     * is continued from the loop instead: bounds the nesting of a reader that issues its next read from
     * the last one's completion, at a cost of one loop iteration per this many messages.
     */
    static final int MAX_INLINE_COMPLETIONS = 64;

    // How it is built (all package-private): this class checks a call's arguments and hands it to the loop
    // thread, where StreamCore keeps the state and runs connect, events and close; Reads serves reads from a
    // ReadBuffer, WriteQueue sends or queues writes; both move bytes through a Transport: ChannelTransport,
    // or TlsTransport layered over it (SSLIOStream).
    static {
        NativeStreams.install(); // Eddy's servers and clients reach native streams through StreamAccess
    }

    private final SocketChannel channel;
    private final IOLoop loop;
    private final StreamOptions options;
    /** What the stream does on its loop thread. Its read and write sides are kept here too, for the per-message calls. */
    final StreamCore core;
    private final Reads reads;
    private final WriteQueue writes;

    /** A stream on {@code channel} and {@link IOLoop#current()}, with {@link StreamOptions#defaults()}. */
    public IOStream(SocketChannel channel) {
        this(channel, IOLoop.current(), StreamOptions.defaults());
    }

    /**
     * A stream on {@code channel} (put in non-blocking mode) and {@code loop}.
     *
     * @throws IllegalArgumentException if the channel is closed
     * @throws UncheckedIOException     if the channel cannot be made non-blocking
     */
    public IOStream(SocketChannel channel, IOLoop loop, StreamOptions options) {
        this(channel, loop, options, null);
    }

    /**
     * With {@code layer} non-null, the stream's transport is {@code layer.apply(core, theChannelsTransport)}:
     * how {@link SSLIOStream} puts TLS between the stream and its channel.
     */
    IOStream(SocketChannel channel, IOLoop loop, StreamOptions options,
             BiFunction<StreamCore, Transport, Transport> layer) {
        this(Objects.requireNonNull(channel, "channel"), core -> new ChannelTransport(channel, core), loop, options, layer);
        try {
            channel.configureBlocking(false);
        } catch (java.nio.channels.ClosedChannelException e) {
            throw new IllegalArgumentException("cannot make a stream of a closed channel: " + channel, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make " + channel + " non-blocking", e);
        }
    }

    /**
     * A stream on the socket {@code socketTransport} makes: a JDK {@code channel}'s, or (channel null) a
     * native descriptor's on an epoll loop ({@link NativeStreams}).
     */
    @SuppressWarnings("this-escape") // the core only keeps the reference: nothing calls the stream before it is built
    IOStream(SocketChannel channel, Function<StreamCore, Transport> socketTransport, IOLoop loop, StreamOptions options,
             BiFunction<StreamCore, Transport, Transport> layer) {
        this.channel = channel;
        this.loop = Objects.requireNonNull(loop, "loop");
        this.options = Objects.requireNonNull(options, "options");
        this.core = new StreamCore(this, socketTransport, loop, options, layer);
        this.reads = core.reads;
        this.writes = core.writes;
    }

    /**
     * The JDK channel this stream reads and writes, or null if the stream owns its socket natively (the
     * streams of {@link io.eddy.tcp.TCPServer} and {@link io.eddy.tcp.TCPClient} on an {@code epoll} loop):
     * use {@link #remoteAddress()} and {@link #setNoDelay} then.
     */
    public SocketChannel channel() {
        return channel;
    }

    /** The peer's address, or null if not connected (or unknown). Any thread. */
    public java.net.InetSocketAddress remoteAddress() {
        return core.transport.remoteAddress();
    }

    /** This end's address, or null if not bound (or closed, or unknown). Any thread. */
    public java.net.InetSocketAddress localAddress() {
        return core.transport.localAddress();
    }

    /** The options this stream was made with. */
    StreamOptions options() {
        return options;
    }

    /** The loop this stream runs on. */
    public IOLoop loop() {
        return loop;
    }

    // ================================================================== reads

    /** Exactly {@code n} bytes. */
    public CompletableFuture<byte[]> readBytes(int n) {
        return readBytes(n, false);
    }

    /**
     * {@code n} bytes; with {@code partial}, as soon as at least one byte is there, at most {@code n}.
     *
     * @throws IllegalArgumentException if {@code n} is negative, or, unless {@code partial}, more than
     *                                  {@link StreamOptions#maxBufferSize()} (such a read could never complete)
     */
    public CompletableFuture<byte[]> readBytes(int n, boolean partial) {
        if (n < 0) {
            throw new IllegalArgumentException("cannot read a negative number of bytes: " + n);
        }
        if (!partial && n > options.maxBufferSize()) {
            throw new IllegalArgumentException("cannot read " + n + " bytes at once: more than maxBufferSize "
                    + options.maxBufferSize() + " (read them in parts)");
        }
        return startRead(reads.newRead(loop, PendingRead.Kind.BYTES, n, partial));
    }

    /** Everything up to and including the first {@code delimiter}, however far (bounded by the buffer limit). */
    public CompletableFuture<byte[]> readUntil(byte[] delimiter) {
        return readUntil(delimiter, Integer.MAX_VALUE);
    }

    /**
     * Everything up to and including the first {@code delimiter}; if it is not within the first
     * {@code maxBytes} bytes, the stream closes and the read fails with {@link StreamClosedException}
     * caused by {@link UnsatisfiableReadException}.
     *
     * @throws IllegalArgumentException if {@code delimiter} is empty or {@code maxBytes} is not positive
     */
    public CompletableFuture<byte[]> readUntil(byte[] delimiter, int maxBytes) {
        Objects.requireNonNull(delimiter, "delimiter");
        if (delimiter.length == 0) {
            throw new IllegalArgumentException("the delimiter is empty");
        }
        checkMaxBytes(maxBytes);
        PendingRead r = reads.newRead(loop, PendingRead.Kind.DELIMITER, maxBytes, false);
        r.delimiter = delimiter.clone();
        return startRead(r);
    }

    /**
     * Everything up to the end of the first match of {@code pattern}, matched over the bytes as
     * ISO-8859-1 characters; the same {@code maxBytes} rule as {@link #readUntil(byte[], int)}.
     *
     * @throws IllegalArgumentException if {@code maxBytes} is not positive
     */
    public CompletableFuture<byte[]> readUntilRegex(Pattern pattern, int maxBytes) {
        Objects.requireNonNull(pattern, "pattern");
        checkMaxBytes(maxBytes);
        PendingRead r = reads.newRead(loop, PendingRead.Kind.REGEX, maxBytes, false);
        r.pattern = pattern;
        return startRead(r);
    }

    /** Everything until the peer closes (bounded by the buffer limit); at once if closed already. */
    public CompletableFuture<byte[]> readUntilClose() {
        return startRead(reads.newRead(loop, PendingRead.Kind.CLOSE, 0, false));
    }

    /**
     * Reads into {@code dst} until it is full or, with {@code partial}, as soon as at least one byte
     * is there. Advances {@code dst}'s position; completes with the number of bytes read.
     *
     * @throws IllegalArgumentException if {@code dst} is read-only
     */
    public CompletableFuture<Integer> readInto(ByteBuffer dst, boolean partial) {
        Objects.requireNonNull(dst, "dst");
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("cannot read into a read-only buffer: " + dst);
        }
        PendingRead r = reads.newRead(loop, PendingRead.Kind.INTO, dst.remaining(), partial);
        r.into = dst;
        return startRead(r);
    }

    private static void checkMaxBytes(int maxBytes) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("maxBytes must be positive: " + maxBytes);
        }
    }

    @SuppressWarnings("unchecked")
    private <T> CompletableFuture<T> startRead(PendingRead r) {
        CompletableFuture<T> future = (CompletableFuture<T>) (CompletableFuture<?>) r.future;
        if (loop.inLoopThread()) {
            reads.begin(r); // no lambdas: the per-message path allocates only the read's future
        } else {
            onLoop(() -> reads.begin(r), () -> fail(r.future, loopClosed(), r.context));
        }
        return future;
    }


    // ================================================================== writes

    /** Queues a copy of {@code data}; see {@link #write(ByteBuffer)}. */
    public CompletableFuture<Void> write(byte[] data) {
        Objects.requireNonNull(data, "data");
        if (loop.inLoopThread()) {
            ByteBuffer scratch = Scratch.get();
            if (data.length <= scratch.capacity()) {
                // Through the loop thread's direct buffer rather than a wrapper per write: the kernel copies
                // from a direct buffer anyway (the JDK would copy a heap one into its own first).
                scratch.clear();
                scratch.put(data).flip();
                return write(scratch);
            }
        }
        return write(ByteBuffer.wrap(data));
    }

    /**
     * Queues the bytes between {@code data}'s position and limit (the buffer itself is not changed and may
     * be reused once this returns). The future completes when every byte up to the end of this write has
     * been handed to the kernel; it fails with {@link StreamClosedException} if the stream is or becomes
     * closed, and with {@link StreamBufferFullException} if queueing it would pass
     * {@link StreamOptions#maxWriteBufferSize()} (then nothing of it is queued and the stream stays open).
     */
    public CompletableFuture<Void> write(ByteBuffer data) {
        Objects.requireNonNull(data, "data");
        CompletableFuture<Void> future = new CompletableFuture<>();
        Context context = Context.current();
        if (loop.inLoopThread()) {
            writes.write(data, future, context, false); // its position is put back before any completion
        } else {
            ByteBuffer copy = WriteQueue.copyOf(data.duplicate());
            onLoop(() -> writes.write(copy, future, context, true), () -> fail(future, loopClosed(), context));
        }
        return future;
    }

    // ================================================================== connect

    /**
     * Connects the channel to {@code address}; writes issued meanwhile are sent once connected. Fails with
     * {@link StreamClosedException} caused by the {@link java.net.ConnectException} if refused. A read, writes
     * or a close callback set up before (or while) connecting wait for the connection, and fail with the same
     * cause if it is refused.
     *
     * @throws IllegalArgumentException if {@code address} is an unresolved {@link InetSocketAddress}
     */
    public CompletableFuture<IOStream> connect(SocketAddress address) {
        Objects.requireNonNull(address, "address");
        if (address instanceof InetSocketAddress a && a.isUnresolved()) {
            throw new IllegalArgumentException("cannot connect to an unresolved address: " + address);
        }
        CompletableFuture<IOStream> future = new CompletableFuture<>();
        Context context = Context.current();
        onLoop(() -> core.connect(address, future, context), () -> fail(future, loopClosed(), context));
        return future;
    }

    // ================================================================== TLS

    /**
     * Upgrades this stream to TLS: hands its channel to a new {@link SSLIOStream} (with the same options and
     * close callback) and completes with it once the handshake is done. Only while idle: no pending read,
     * write or connect, nothing buffered, not closed; otherwise the future fails with
     * {@link IllegalStateException} naming what is not idle. From then on this stream must not be used for
     * I/O (it reports {@link #closed()} but its channel stays open for the new stream); its {@link #close()}
     * closes the new stream, so a handshake can be abandoned before the future completes. A failed handshake
     * fails the future with {@link StreamClosedException} caused by the {@link javax.net.ssl.SSLException}.
     * Any thread; the future completes on the loop thread.
     *
     * The handshake may take {@link SSLIOStream#DEFAULT_HANDSHAKE_TIMEOUT}.
     *
     * @param serverHostname the name the server's certificate must match (client side; ignored server side)
     * @throws NullPointerException if {@code ctx} is null, or {@code serverHostname} is null on the client side
     */
    public CompletableFuture<SSLIOStream> startTls(boolean serverSide, SSLContext ctx, String serverHostname) {
        return startTls(serverSide, ctx, serverHostname, SSLIOStream.DEFAULT_HANDSHAKE_TIMEOUT);
    }

    /**
     * {@link #startTls(boolean, SSLContext, String)} with a limit on the handshake (see
     * {@link SSLIOStream#setHandshakeTimeout}): past it the future fails with {@link StreamClosedException}
     * caused by an {@link javax.net.ssl.SSLHandshakeException} saying so. Any thread.
     *
     * @param handshakeTimeout the limit, counted from the handshake's start; null or zero for none
     * @throws NullPointerException     if {@code ctx} is null, or {@code serverHostname} is null on the client side
     * @throws IllegalArgumentException if {@code handshakeTimeout} is negative
     */
    public CompletableFuture<SSLIOStream> startTls(boolean serverSide, SSLContext ctx, String serverHostname,
                                                   Duration handshakeTimeout) {
        Objects.requireNonNull(ctx, "ctx");
        if (handshakeTimeout != null && handshakeTimeout.isNegative()) {
            throw new IllegalArgumentException("handshakeTimeout must not be negative (null or zero: none): "
                    + handshakeTimeout);
        }
        if (!serverSide) {
            Objects.requireNonNull(serverHostname, "serverHostname");
        }
        CompletableFuture<SSLIOStream> future = new CompletableFuture<>();
        Context context = Context.current();
        onLoop(() -> {
            String busy = core.notIdle();
            if (busy != null) {
                fail(future, new IllegalStateException("IOStream is not idle; cannot convert to TLS: " + busy), context);
                return;
            }
            SSLIOStream tls;
            try {
                tls = channel != null ? new SSLIOStream(channel, loop, options, ctx, serverSide, serverHostname)
                        : NativeStreams.tlsOver(this, ctx, serverSide, serverHostname);
                tls.setHandshakeTimeout(handshakeTimeout); // on the loop thread: before the handshake starts
            } catch (RuntimeException e) {
                fail(future, e, context);
                return;
            }
            core.handOver(tls);
            tls.waitForHandshake().whenComplete((s, e) -> {
                if (e == null) {
                    complete(future, s, context);
                } else {
                    fail(future, e, context);
                }
            });
        }, () -> fail(future, loopClosed(), context));
        return future;
    }

    // ================================================================== close

    /**
     * Runs {@code callback} on the loop once the stream closes (after the callbacks already queued for
     * it), or soon if it is closed already. One callback; a second replaces the first.
     */
    public void setCloseCallback(Runnable callback) {
        Objects.requireNonNull(callback, "callback");
        Context context = Context.current();
        Runnable wrapped = context == Context.empty() ? callback : context.wrap(callback);
        onLoop(() -> core.setCloseCallback(wrapped), null); // a closed loop: RejectedExecutionException, it could never run
    }

    /** Closes the stream cleanly. Idempotent. */
    @Override
    public void close() {
        close(null);
    }

    /**
     * Closes the stream with {@code cause} as its {@link #error()}. Idempotent (the first cause stays).
     * Once the stream's loop has closed, closes it on the calling thread (the close callback then does not run).
     */
    public void close(Throwable cause) {
        // If the loop is gone (or closes before it runs this), close here: nothing runs there any more, but
        // the socket must not leak and the pending futures must fail (closeOnLoop skips the loop's parts).
        // Locked: two threads may get here at once (two callers, or a caller and the one closing the loop).
        if (loop.inLoopThread()) {
            core.closeOnLoop(cause); // as onLoop would, without its two lambdas per connection
            return;
        }
        onLoop(() -> core.closeOnLoop(cause), () -> {
            synchronized (this) {
                core.closeOnLoop(cause);
            }
        });
    }

    /** True once the stream closed (by either side). Any thread. */
    public boolean closed() {
        return core.closed;
    }

    /** What closed the stream, or null (open, or closed cleanly). Any thread. */
    public Throwable error() {
        return core.error;
    }

    /** True while a read is pending. Loop thread (a snapshot elsewhere). */
    public boolean reading() {
        return reads.pending();
    }

    /** True while written data waits for the kernel. Loop thread (a snapshot elsewhere). */
    public boolean writing() {
        return !writes.isEmpty();
    }

    /**
     * Bytes received from the socket and held in the read buffer, not yet delivered to a read: what
     * this stream holds of the peer's data. At most {@link StreamOptions#maxBufferSize()}. Loop thread
     * (a snapshot elsewhere).
     */
    public int bufferedReadBytes() {
        return reads.buffered();
    }

    /**
     * Bytes accepted by {@code write} and not yet handed to the kernel: what this stream holds for a
     * peer that does not read. At most {@link StreamOptions#maxWriteBufferSize()}; after a close, what
     * was dropped. Loop thread (a snapshot elsewhere).
     */
    public long bufferedWriteBytes() {
        return writes.unsent();
    }

    /** Sets TCP_NODELAY; errors on a closing socket are ignored. Any thread. */
    public void setNoDelay(boolean noDelay) {
        if (loop.inLoopThread()) {
            applyNoDelay(noDelay); // the usual caller, a server's stream handler: no lambda per connection
        } else {
            onLoop(() -> applyNoDelay(noDelay), () -> { }); // a closed loop: moot
        }
    }

    private void applyNoDelay(boolean noDelay) {
        try {
            core.transport.setNoDelay(noDelay);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.log(System.Logger.Level.DEBUG, "cannot set TCP_NODELAY on " + core.transport, e);
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + (channel != null ? channel : core.transport) + (core.closed ? ", closed" : "") + "]";
    }

    // ================================================================== helpers

    /**
     * Runs {@code action} now if this is the loop thread, else {@link #handOff hands it} to the loop. With
     * {@code ifNeverRun} null, a closed loop's {@link RejectedExecutionException} is thrown to the caller.
     */
    void onLoop(Runnable action, Runnable ifNeverRun) {
        if (loop.inLoopThread()) {
            action.run();
        } else if (ifNeverRun == null) {
            loop.addCallback(action);
        } else {
            handOff(action, ifNeverRun);
        }
    }

    /**
     * Queues {@code action} on the loop. If the loop is closed, or closes before it runs the action (it tells
     * a {@link Discardable} it dropped), {@code ifNeverRun} runs instead, on this thread or the one that closes
     * the loop: it fails the caller's future.
     */
    void handOff(Runnable action, Runnable ifNeverRun) {
        try {
            loop.addCallback(new Discardable() {
                @Override
                public void run() {
                    action.run();
                }

                @Override
                public void discarded() {
                    ifNeverRun.run();
                }
            });
        } catch (RejectedExecutionException e) {
            ifNeverRun.run();
        }
    }

    /** The failure of an operation handed to a closed loop. */
    StreamClosedException loopClosed() {
        return new StreamClosedException(new RejectedExecutionException("the stream's IOLoop is closed: " + loop));
    }
}
