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
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiFunction;
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
    /**
     * Each loop thread's direct buffer for socket I/O: reads land here and only the bytes that arrived are
     * copied into the stream's own buffer, sized to its data (libuv's approach); a small {@code write(byte[])}
     * goes out from here. Direct, so the JDK needs no temporary buffer of its own. Nothing in it outlives the
     * call that filled it (no caller's code runs in between). Loop threads only.
     */
    private static final ThreadLocal<ByteBuffer> SCRATCH = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(64 * 1024));

    private final SocketChannel channel;
    private final IOLoop loop;
    /** The socket I/O under this stream: the channel itself, or a layer (TLS) over it. */
    final Transport transport;
    private final StreamOptions options;

    // ---- read side (loop thread) ----
    private final ReadBuffer buffer;
    private PendingRead read;

    // ---- write side (loop thread) ----
    private final WriteQueue writes = new WriteQueue();

    // ---- state (loop thread; read as snapshots elsewhere) ----
    private volatile boolean closed;
    private volatile Throwable error;
    private boolean connecting;
    /** Set once the channel is connected (read through {@link #isConnected()}): no volatile read per message. */
    private boolean connected;
    private CompletableFuture<IOStream> connectFuture;
    private Context connectContext;
    private Runnable closeCallback;
    /** Reads begun so far: tells a read the stream is serving from one its completion began. Loop thread. */
    private int readsBegun;
    /**
     * No READ event came since the last socket read, and that read came back short or completed the pending
     * read: the next read waits for the selector (level-triggered, so it reports at once if data is there)
     * instead of trying a read that likely returns EAGAIN. Loop thread.
     */
    private boolean drained;
    /** Reused for reads issued on the loop thread; see {@link PendingRead}. */
    private PendingRead spareRead;
    /** Reads begun since the stream last waited for the loop; see {@link #MAX_INLINE_COMPLETIONS}. */
    private int inlineReads;
    /** Writes completed inside write() since one last waited for the loop; likewise. */
    private int inlineWrites;
    /** The TLS stream this one handed its channel to ({@link #startTls}); closing this closes that. */
    private IOStream successor;

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
     * With {@code layer} non-null, the stream's transport is {@code layer.apply(this, theChannelsTransport)}:
     * how {@link SSLIOStream} puts TLS between the stream and its channel.
     */
    IOStream(SocketChannel channel, IOLoop loop, StreamOptions options,
             BiFunction<IOStream, Transport, Transport> layer) {
        this.channel = Objects.requireNonNull(channel, "channel");
        this.loop = Objects.requireNonNull(loop, "loop");
        this.options = Objects.requireNonNull(options, "options");
        this.buffer = new ReadBuffer(options.maxBufferSize());
        try {
            channel.configureBlocking(false);
        } catch (java.nio.channels.ClosedChannelException e) {
            throw new IllegalArgumentException("cannot make a stream of a closed channel: " + channel, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make " + channel + " non-blocking", e);
        }
        Transport socket = new ChannelTransport(channel, loop, this);
        this.transport = layer == null ? socket : layer.apply(this, socket);
    }

    /** The channel this stream reads and writes. */
    public SocketChannel channel() {
        return channel;
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
        return startRead(newRead(ReadKind.BYTES, n, partial));
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
        PendingRead r = newRead(ReadKind.DELIMITER, maxBytes, false);
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
        PendingRead r = newRead(ReadKind.REGEX, maxBytes, false);
        r.pattern = pattern;
        return startRead(r);
    }

    /** Everything until the peer closes (bounded by the buffer limit); at once if closed already. */
    public CompletableFuture<byte[]> readUntilClose() {
        return startRead(newRead(ReadKind.CLOSE, 0, false));
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
        PendingRead r = newRead(ReadKind.INTO, dst.remaining(), partial);
        r.into = dst;
        return startRead(r);
    }

    private static void checkMaxBytes(int maxBytes) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("maxBytes must be positive: " + maxBytes);
        }
    }

    private enum ReadKind { BYTES, DELIMITER, REGEX, CLOSE, INTO }

    /**
     * The one pending read and its future. A stream reuses one instance for the reads issued on its loop
     * thread while none is pending (see {@link #newRead}); code that holds one across a completion must
     * not read it afterwards, since the completion may have started the next read in it.
     */
    private static final class PendingRead {
        ReadKind kind;
        /** BYTES/INTO: how many; DELIMITER/REGEX: maxBytes. */
        int size;
        boolean partial;
        CompletableFuture<Object> future;
        Context context;
        byte[] delimiter;
        Pattern pattern;
        ByteBuffer into;
        /** INTO: bytes delivered so far. */
        int delivered;
        /** DELIMITER: buffer offset (from start) where the next search begins. REGEX: buffered size at the last search. */
        int searched;

        PendingRead set(ReadKind kind, int size, boolean partial) {
            this.kind = kind;
            this.size = size;
            this.partial = partial;
            future = new CompletableFuture<>();
            context = Context.current();
            delimiter = null;
            pattern = null;
            into = null;
            delivered = 0;
            searched = 0;
            return this;
        }
    }

    /** A read to start: the stream's reused one on the loop thread with no read pending, else a new one. */
    private PendingRead newRead(ReadKind kind, int size, boolean partial) {
        if (read == null && loop.inLoopThread()) {
            if (spareRead == null) {
                spareRead = new PendingRead();
            }
            return spareRead.set(kind, size, partial);
        }
        return new PendingRead().set(kind, size, partial);
    }

    @SuppressWarnings("unchecked")
    private <T> CompletableFuture<T> startRead(PendingRead r) {
        CompletableFuture<T> future = (CompletableFuture<T>) (CompletableFuture<?>) r.future;
        onLoop(() -> beginRead(r), () -> fail(r.future, loopClosed(), r.context));
        return future;
    }

    private void beginRead(PendingRead r) {
        if (read != null) {
            fail(r.future, new IllegalStateException("already reading"), r.context);
            return;
        }
        read = r;
        readsBegun++;
        if (++inlineReads > MAX_INLINE_COMPLETIONS) {
            // Many reads in a row began (and so far completed) without the stream going back to the loop:
            // a reader that issues each read from the last one's completion nests a call per message.
            // This one goes on from the loop, on a fresh stack.
            inlineReads = 0;
            handOff(this::continueRead, this::failReadLoopClosed);
            return;
        }
        serviceRead();
    }

    /** The pending read will never be serviced: its loop closed. */
    private void failReadLoopClosed() {
        PendingRead r = read;
        if (r != null) {
            read = null;
            fail(r.future, loopClosed(), r.context);
        }
    }

    private void continueRead() {
        if (read != null) {
            serviceRead(); // also when closed meanwhile: the buffer may still satisfy it, or it fails
        }
    }

    /** Completes the pending read from the buffer or the socket if it can; otherwise waits for READ. */
    private void serviceRead() {
        PendingRead r = read;
        int begun = readsBegun;
        try {
            if (satisfyRead()) {
                return;
            }
            if (closed) {
                read = null;
                fail(r.future, new StreamClosedException(error), r.context);
                return;
            }
            if (isConnected()) { // before connect: the read waits for the connection
                readFromSocket();
            }
        } catch (IOException e) {
            closeQuietlyOrLoud(e);
            return;
        }
        if (read != null && readsBegun == begun) {
            inlineReads = 0; // this read waits for the loop: the nesting ends here
        }
        if (!closed) {
            updateInterest();
        }
    }

    /**
     * Completes the pending read if the buffer can satisfy it (or fails it if it never can).
     * Returns true if there is no pending read left.
     */
    private boolean satisfyRead() throws IOException {
        return satisfyRead(true);
    }

    /**
     * @param thorough false while more data is arriving in one burst: a regular expression is then
     *                 re-run only once the buffer has doubled (a delimiter search is always incremental)
     */
    private boolean satisfyRead(boolean thorough) throws IOException {
        PendingRead r = read;
        if (r == null) {
            return true;
        }
        int buffered = buffer.size();
        switch (r.kind) {
            case BYTES -> {
                if (r.size == 0 || buffered >= r.size || (r.partial && buffered > 0)) {
                    finishRead(buffer.take(Math.min(buffered, r.size)));
                    return true;
                }
            }
            case INTO -> {
                r.delivered += buffer.moveTo(r.into);
                if (!r.into.hasRemaining() || (r.partial && r.delivered > 0)) {
                    finishRead(r.delivered);
                    return true;
                }
            }
            case DELIMITER -> {
                int at = buffer.indexOf(r.delimiter, r.searched);
                if (at >= 0) {
                    int length = at + r.delimiter.length;
                    if (length > r.size) {
                        throw unsatisfiable(r);
                    }
                    finishRead(buffer.take(length));
                    return true;
                }
                // Next time, search only what is new (plus the tail a delimiter could straddle).
                r.searched = Math.max(0, buffered - r.delimiter.length + 1);
                if (buffered >= r.size) {
                    throw unsatisfiable(r);
                }
            }
            case REGEX -> {
                // Re-running the regex over everything is only worth it once the buffer has doubled
                // (or when no more data will come): the total work stays linear.
                if (thorough || buffered >= 2 * r.searched || buffered >= r.size) {
                    r.searched = Math.max(1, buffered);
                    int matchEnd = buffer.matchEnd(r.pattern);
                    if (matchEnd >= 0) {
                        if (matchEnd > r.size) {
                            throw unsatisfiable(r);
                        }
                        finishRead(buffer.take(matchEnd));
                        return true;
                    }
                    if (buffered >= r.size) {
                        throw unsatisfiable(r);
                    }
                }
            }
            case CLOSE -> {
                if (closed) {
                    finishRead(buffer.take(buffered));
                    return true;
                }
            }
        }
        return false;
    }

    private UnsatisfiableReadException unsatisfiable(PendingRead r) {
        String what = r.kind == ReadKind.DELIMITER
                ? "delimiter " + Arrays.toString(r.delimiter) : "pattern " + r.pattern.pattern();
        return new UnsatisfiableReadException(what + " not found within " + r.size + " bytes");
    }

    private void finishRead(Object result) {
        PendingRead r = read;
        read = null;
        complete(r.future, result, r.context);
    }

    /**
     * Reads the socket while the pending read needs more and the socket has data. Stops as soon as
     * the read is satisfied: what is not needed stays in the kernel (flow control).
     */
    private void readFromSocket() throws IOException {
        // Drained: the last read came back short (or completed the read it was for) and no READ event came
        // since, so the kernel most likely has nothing: skip the read that would return EAGAIN (one syscall
        // per message for a reader that issues its next read from the completion). If data came meanwhile,
        // the selector reports it.
        int begun = readsBegun;
        while (read != null && !closed && !drained) {
            int n = read.kind == ReadKind.INTO && buffer.isEmpty() ? readDirect(read) : readToBuffer();
            if (n < 0) {
                close(null);
                return;
            }
            if (read == null || readsBegun != begun) {
                return; // completed already (readToBuffer's direct path); a read its completion began is its own
            }
            if (n == 0) {
                satisfyRead(true); // the burst is over: search everything once more
                return;
            }
            if (satisfyRead(false)) {
                return;
            }
            if (drained) {
                satisfyRead(true); // as above: this burst is over
                return;
            }
        }
    }

    /**
     * An INTO read with nothing buffered reads straight into the caller's buffer. Whatever it gets, the
     * stream counts as drained: a short read says so, and a full one completes the read, so the next
     * read (often issued from its completion) waits for the selector rather than risk an EAGAIN read.
     */
    private int readDirect(PendingRead r) throws IOException {
        int n = transport.read(r.into);
        drained = n >= 0 && !transport.hasMore();
        if (n > 0) {
            r.delivered += n;
        }
        return n;
    }

    /** Reads at most one chunk into the read buffer; -1 at end of stream, 0 when nothing is there. */
    private int readToBuffer() throws IOException {
        int buffered = buffer.size();
        int room = buffer.room();
        if (room <= 0) {
            throw new StreamBufferFullException("Reached maximum read buffer size: " + options.maxBufferSize() + " bytes");
        }
        int chunk = Math.min(options.readChunkSize(), room);
        ByteBuffer scratch = SCRATCH.get();
        if (scratch.capacity() < chunk) {
            scratch = ByteBuffer.allocateDirect(chunk);
            SCRATCH.set(scratch);
        }
        scratch.clear().limit(chunk);
        int n = transport.read(scratch);
        drained = n >= 0 && n < chunk && !transport.hasMore();
        if (n <= 0) {
            return n;
        }
        PendingRead r = read;
        if (buffered == 0 && r != null && r.kind == ReadKind.BYTES && (r.partial || n >= r.size)) {
            // The read takes its bytes straight from the scratch buffer: one copy instead of two. It is
            // complete, so, as in readDirect, the next read waits for the selector.
            drained = !transport.hasMore();
            int taken = Math.min(n, r.size);
            byte[] result = new byte[taken];
            scratch.get(0, result, 0, taken);
            read = null;
            if (taken < n) {
                buffer.append(scratch, taken, n - taken);
            }
            complete(r.future, result, r.context);
            return n;
        }
        buffer.append(scratch, 0, n);
        return n;
    }

    // ================================================================== writes

    /** Queues a copy of {@code data}; see {@link #write(ByteBuffer)}. */
    public CompletableFuture<Void> write(byte[] data) {
        Objects.requireNonNull(data, "data");
        if (loop.inLoopThread()) {
            ByteBuffer scratch = SCRATCH.get();
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
            writeOnLoop(data, future, context, false); // its position is put back before any completion
        } else {
            ByteBuffer copy = WriteQueue.copyOf(data.duplicate());
            onLoop(() -> writeOnLoop(copy, future, context, true), () -> fail(future, loopClosed(), context));
        }
        return future;
    }

    /**
     * @param owned false if {@code data} is the caller's: it is read from its position, and that position
     *              is put back before anything can run the caller's code (a completion)
     */
    private void writeOnLoop(ByteBuffer data, CompletableFuture<Void> future, Context context, boolean owned) {
        int position = data.position();
        if (closed) {
            fail(future, new StreamClosedException(error), context);
            return;
        }
        int size = data.remaining();
        long unsent = writes.unsent();
        if (unsent + size > options.maxWriteBufferSize()) {
            fail(future, new StreamBufferFullException("Reached maximum write buffer size: " + unsent + " bytes queued + "
                    + size + " > " + options.maxWriteBufferSize()), context);
            return;
        }
        writes.accept(size);
        if (writes.isEmpty() && !connecting && isConnected()) {
            // Nothing ahead of it: hand it to the kernel straight from the caller's bytes.
            try {
                while (data.hasRemaining()) {
                    int n = transport.write(data);
                    if (n == 0) {
                        break;
                    }
                    writes.sent(n);
                }
            } catch (IOException e) {
                data.position(position);
                writes.await(future, context);
                closeQuietlyOrLoud(e);
                return;
            }
            if (!data.hasRemaining()) {
                data.position(position);
                if (++inlineWrites > MAX_INLINE_COMPLETIONS) {
                    // As for reads: a writer issuing each write from the last one's completion would nest
                    // a call per write. Its future (and any after it, in order) completes from the loop.
                    inlineWrites = 0;
                    writes.await(future, context);
                    loop.addCallback(writes::completeWritten);
                } else if (writes.noFutures()) {
                    complete(future, null, context);
                } else {
                    writes.await(future, context);
                    writes.completeWritten();
                }
                if (!closed && transport.holdsBytes()) {
                    // A TLS transport may still hold its last record: WRITE until the kernel takes it. (Not for a
                    // plain stream: between a read's completion and the next read this would drop READ
                    // interest only to add it back: two epoll_ctl per message.)
                    updateInterest();
                }
                return;
            }
        }
        inlineWrites = 0; // this one waits for the loop
        writes.add(owned ? data : WriteQueue.copyOf(data));
        if (!owned) {
            data.position(position);
        }
        writes.await(future, context);
        if (!connecting) {
            updateInterest();
        }
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
        onLoop(() -> {
            if (closed) {
                fail(future, new StreamClosedException(error), context);
                return;
            }
            if (connecting || isConnected()) {
                fail(future, new IllegalStateException("already " + (connecting ? "connecting" : "connected")), context);
                return;
            }
            connectFuture = future;
            connectContext = context;
            try {
                if (transport.connect(address)) {
                    tcpConnected();
                    if (!closed) {
                        updateInterest(); // writes transportReady() could not finish, or a TLS handshake's needs
                    }
                } else {
                    connecting = true;
                    updateInterest();
                }
            } catch (IOException | RuntimeException e) {
                close(e);
            }
        }, () -> fail(future, loopClosed(), context));
        return future;
    }

    private void finishConnect() throws IOException {
        if (transport.finishConnect()) {
            connecting = false;
            connected = true;
            tcpConnected();
        }
    }

    /**
     * Whether the channel is connected: the field once it is, else the channel's own state (a channel handed
     * over connected, or connected by its owner before any I/O). Loop thread.
     */
    private boolean isConnected() {
        return connected || (connected = transport.isConnected());
    }

    /** The connection is up: the transport may have a handshake to do before the stream is ready. */
    private void tcpConnected() throws IOException {
        if (transport.onConnected()) {
            transportReady();
        }
    }

    /**
     * The transport is ready for data (at once after the connect, or once a TLS handshake is done): completes
     * {@link #connect}'s future and sends the writes queued meanwhile. Loop thread.
     */
    void transportReady() throws IOException {
        CompletableFuture<IOStream> f = connectFuture;
        connectFuture = null;
        if (f != null) {
            complete(f, this, connectContext);
        }
        if (!writes.isEmpty()) {
            writes.flush(transport);
        }
    }

    // ================================================================== events

    /** The loop (through the transport) reports {@code events}. Loop thread. */
    void handleEvents(int events) {
        if (closed) {
            return;
        }
        inlineReads = 0; // called by the loop: a fresh stack
        inlineWrites = 0;
        try {
            if (connecting) {
                finishConnect();
                if (connecting || closed) {
                    return;
                }
            }
            events = transport.onEvents(events);
            if (closed) {
                return;
            }
            if ((events & IOLoop.READ) != 0) {
                drained = false; // the selector (or the transport: a handshake just done) says there is data
            }
            if ((events & IOLoop.READ) != 0) {
                if (read != null) {
                    readFromSocket();
                } else if (closeCallback != null && buffer.isEmpty()) {
                    // Idle, watching for the peer's close: read just enough to see it.
                    if (readToBuffer() < 0) {
                        close(null);
                    }
                }
            }
            if (!closed && (events & IOLoop.WRITE) != 0) {
                writes.flush(transport);
            }
        } catch (IOException | RuntimeException e) {
            closeQuietlyOrLoud(e);
        }
        if (!closed) {
            updateInterest();
        }
    }

    /** Registers for what the stream waits for now: READ while reading (or idle with a close callback), WRITE while writing. */
    void updateInterest() {
        int events;
        if (connecting) {
            events = IOLoop.WRITE; // the connect's outcome; reads and writes wait for it
        } else if (!isConnected()) {
            events = 0; // not connected yet: an unconnected socket polls as hung up, so nothing to wait for
        } else {
            events = read != null ? IOLoop.READ : 0;
            if (!writes.isEmpty()) {
                events |= IOLoop.WRITE;
            }
            if (events == 0 && closeCallback != null && buffer.isEmpty()) {
                events = IOLoop.READ;
            }
        }
        transport.interest(events);
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
            String busy = notIdle();
            if (busy != null) {
                fail(future, new IllegalStateException("IOStream is not idle; cannot convert to TLS: " + busy), context);
                return;
            }
            SSLIOStream tls;
            try {
                tls = new SSLIOStream(channel, loop, options, ctx, serverSide, serverHostname);
                tls.setHandshakeTimeout(handshakeTimeout); // on the loop thread: before the handshake starts
            } catch (RuntimeException e) {
                fail(future, e, context);
                return;
            }
            transport.deregister();
            closed = true; // handed over: this stream is done, but its channel lives on in the new one
            successor = tls;
            if (closeCallback != null) {
                tls.setCloseCallback(closeCallback);
                closeCallback = null;
            }
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

    /** What keeps this stream from being idle, or null if it is. Loop thread. */
    private String notIdle() {
        if (closed) {
            return "the stream is closed";
        }
        if (read != null) {
            return "a read is pending";
        }
        if (!writes.isEmpty() || !writes.noFutures()) {
            return "writes are pending (" + writes.unsent() + " bytes)";
        }
        if (connecting) {
            return "it is connecting";
        }
        if (!isConnected()) {
            return "it is not connected (connect first)";
        }
        if (!buffer.isEmpty()) {
            return buffer.size() + " bytes are buffered";
        }
        return null;
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
        onLoop(() -> {
            if (closed && successor != null) {
                successor.setCloseCallback(wrapped); // handed over by startTls: the connection lives on there
                return;
            }
            if (closed) {
                loop.addCallback(wrapped);
                return;
            }
            closeCallback = wrapped;
            updateInterest();
        }, null); // a closed loop: RejectedExecutionException, the callback could never run
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
        onLoop(() -> closeOnLoop(cause), () -> {
            synchronized (this) {
                closeOnLoop(cause);
            }
        });
    }

    private void closeQuietlyOrLoud(Throwable e) {
        if (isReset(e)) {
            LOG.log(System.Logger.Level.DEBUG, "connection reset: " + e);
        } else if (e instanceof UnsatisfiableReadException) {
            LOG.log(System.Logger.Level.INFO, "Unsatisfiable read, closing connection: " + e.getMessage());
        } else if (e instanceof javax.net.ssl.SSLException) {
            // A peer that does not speak TLS (a port scan, a plaintext client, garbage) is the peer's problem,
            // and a flood of them must not flood the log: DEBUG. The error stays in error() and the futures.
            LOG.log(System.Logger.Level.DEBUG, () -> "TLS error on " + channel + ", closing it: " + e);
        } else if (!(e instanceof StreamBufferFullException)) {
            LOG.log(System.Logger.Level.WARNING, "error on " + channel + ", closing it", e);
        }
        closeOnLoop(e);
    }

    private static boolean isReset(Throwable e) {
        String m = e.getMessage();
        return e instanceof java.net.SocketException
                || e instanceof java.nio.channels.ClosedChannelException
                || (e instanceof IOException && m != null
                        && (m.contains("reset") || m.contains("Broken pipe") || m.contains("aborted")));
    }

    private void closeOnLoop(Throwable cause) {
        if (closed) {
            if (successor != null) {
                successor.closeOnLoop(cause); // handed over by startTls: the same connection
            }
            return;
        }
        closed = true;
        error = cause;
        writes.completeWritten(); // writes whose bytes reached the kernel (a completion deferred by the nesting bound)
        transport.onClose(cause);
        // Data already buffered may still satisfy the pending read (a readUntilClose always is).
        PendingRead r = read;
        if (r != null) {
            try {
                if (!satisfyRead()) {
                    read = null;
                    fail(r.future, new StreamClosedException(cause), r.context);
                }
            } catch (IOException unsatisfiable) {
                read = null;
                fail(r.future, new StreamClosedException(cause != null ? cause : unsatisfiable), r.context);
            }
        }
        if (!loop.isClosed()) {
            transport.deregister();
        }
        closeTransportQuietly();
        if (!writes.noFutures() || connectFuture != null) {
            StreamClosedException closedError = new StreamClosedException(cause);
            writes.failAll(closedError);
            if (connectFuture != null) {
                fail(connectFuture, closedError, connectContext);
                connectFuture = null;
            }
        }
        writes.clear();
        if (closeCallback != null) {
            if (!loop.isClosed()) {
                loop.addCallback(closeCallback);
            }
            closeCallback = null;
        }
    }

    /** True once the stream closed (by either side). Any thread. */
    public boolean closed() {
        return closed;
    }

    /** What closed the stream, or null (open, or closed cleanly). Any thread. */
    public Throwable error() {
        return error;
    }

    /** True while a read is pending. Loop thread (a snapshot elsewhere). */
    public boolean reading() {
        return read != null;
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
        return buffer.size();
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
        onLoop(() -> {
            try {
                transport.setNoDelay(noDelay);
            } catch (IOException | UnsupportedOperationException e) {
                LOG.log(System.Logger.Level.DEBUG, "cannot set TCP_NODELAY on " + channel, e);
            }
        }, () -> { }); // a closed loop: moot
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + channel + (closed ? ", closed" : "") + "]";
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

    private void closeTransportQuietly() {
        try {
            transport.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "error closing " + channel, e);
        }
    }
}
