package io.eddy.iostream;

import io.eddy.ioloop.Context;
import io.eddy.ioloop.IOLoop;

import java.io.IOException;
import java.net.SocketAddress;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;
import java.util.function.Function;
import javax.net.ssl.SSLException;

import static io.eddy.iostream.Futures.complete;
import static io.eddy.iostream.Futures.fail;

/**
 * What an {@link IOStream} does on its loop thread: its state (connecting, connected, closed), the
 * dispatch of the loop's events to the {@link Reads read side}, the {@link WriteQueue write side} and the
 * {@link Transport}, the readiness it asks for, and the connect, close and TLS hand-over sequences. The
 * public {@code IOStream} checks a call's arguments and hands it here, on the loop thread.
 *
 * <p>It owns the stream's parts: the transport (the channel's, or a layer over it), the read side and the
 * write side, which reach each other through it.
 *
 * <p>Threads: the loop thread only, with one exception: when the loop has closed, {@link #closeOnLoop}
 * runs on the thread that closes the stream (under the stream's lock). {@link #closed} and {@link #error}
 * are volatile: snapshots for any thread.
 */
final class StreamCore {

    private static final System.Logger LOG = System.getLogger("io.eddy.iostream");

    final IOStream stream;
    final IOLoop loop;
    final Transport transport;
    final Reads reads;
    final WriteQueue writes;

    /** Written on the loop thread only (or under the stream's lock once the loop has closed). */
    volatile boolean closed;
    volatile Throwable error;
    private boolean connecting;
    /** Set once the channel is connected (read through {@link #isConnected()}): no volatile read per message. */
    private boolean connected;
    private CompletableFuture<IOStream> connectFuture;
    private Context connectContext;
    private Runnable closeCallback;
    /** The TLS stream this one handed its channel to (startTls); closing this closes that. */
    private IOStream successor;
    /** The server's set of open streams this one is in (null: none), and its index there. */
    OpenStreamSet openSet;
    int openSlot;

    /**
     * @param socketTransport makes the transport on the socket: a JDK channel's, or a native descriptor's
     * @param layer           null, or what puts a layer (TLS) between the stream and the socket's transport
     */
    StreamCore(IOStream stream, Function<StreamCore, Transport> socketTransport, IOLoop loop, StreamOptions options,
               BiFunction<StreamCore, Transport, Transport> layer) {
        this.stream = stream;
        this.loop = loop;
        Transport socket = socketTransport.apply(this);
        this.transport = layer == null ? socket : layer.apply(this, socket);
        this.reads = new Reads(this, transport, options);
        this.writes = new WriteQueue(this, transport, options.maxWriteBufferSize());
    }

    // ================================================================== connect

    /** Starts connecting to {@code address}; {@code future} completes once the transport is ready. */
    void connect(SocketAddress address, CompletableFuture<IOStream> future, Context context) {
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
            stream.close(e);
        }
    }

    private void finishConnect() throws IOException {
        if (transport.finishConnect()) {
            connecting = false;
            connected = true;
            tcpConnected();
        }
    }

    /** True while a connect is under way: reads and writes wait for it. */
    boolean connecting() {
        return connecting;
    }

    /**
     * Whether the channel is connected: the field once it is, else the channel's own state (a channel handed
     * over connected, or connected by its owner before any I/O).
     */
    boolean isConnected() {
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
     * the connect's future and sends the writes queued meanwhile.
     */
    void transportReady() throws IOException {
        CompletableFuture<IOStream> f = connectFuture;
        connectFuture = null;
        if (f != null) {
            complete(f, stream, connectContext);
        }
        if (!writes.isEmpty()) {
            writes.flush();
        }
    }

    // ================================================================== events

    /** The loop (through the transport) reports {@code events}, or a transport acts as if it had. */
    void handleEvents(int events) {
        if (closed) {
            return;
        }
        reads.resetNesting(); // called by the loop: a fresh stack
        writes.resetNesting();
        try {
            if (connecting) {
                finishConnect();
                if (connecting || closed) {
                    return;
                }
            }
            int socketEvents = events;
            events = transport.onEvents(events);
            if (closed) {
                return;
            }
            if ((events & IOLoop.READ) != 0) {
                reads.onReadable(closeCallback != null);
            }
            if (!closed && (events & IOLoop.WRITE) != 0) {
                writes.flush();
            }
            if (!closed && (socketEvents & IOLoop.ERROR) != 0) {
                onSocketError(socketEvents);
            }
        } catch (IOException | RuntimeException e) {
            closeQuietlyOrLoud(e);
        }
        if (!closed) {
            updateInterest();
        }
    }

    /**
     * The epoll backend reports a socket's error or hang-up (java.nio never does). Reads and writes had their
     * turn first (data that arrived before is delivered). An error (a reset) closes the stream with it. A
     * hang-up needs nothing here: the pending read gets the data, then the end of stream; with nothing pending
     * the interest goes to none, which takes the socket out of the epoll set until a read wants it again.
     */
    private void onSocketError(int events) {
        if ((events & 0x008) != 0) {
            closeQuietlyOrLoud(new java.net.SocketException("Connection reset (the socket reported an error)"));
        }
    }

    /**
     * Registers for what the stream waits for now: READ while reading (or idle with a close callback), WRITE
     * while writing. If the loop cannot watch the socket, the stream closes with the reason.
     */
    void updateInterest() {
        int events;
        if (connecting) {
            events = IOLoop.WRITE; // the connect's outcome; reads and writes wait for it
        } else if (!isConnected()) {
            events = 0; // not connected yet: an unconnected socket polls as hung up, so nothing to wait for
        } else {
            events = reads.pending() ? IOLoop.READ : 0;
            if (!writes.isEmpty()) {
                events |= IOLoop.WRITE;
            }
            if (events == 0 && closeCallback != null && reads.bufferEmpty()) {
                events = IOLoop.READ;
            }
        }
        try {
            transport.interest(events);
        } catch (RuntimeException e) {
            // The loop cannot watch the socket (epoll_ctl refused: ENOMEM, ENOSPC past max_user_watches, a
            // descriptor that is no socket any more): no event would ever complete what waits, so close with why.
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            String why = root == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + root.getMessage() + ")";
            closeQuietlyOrLoud(new IOException("cannot watch the socket for events: " + why, e));
        }
    }

    // ================================================================== TLS hand-over

    /** What keeps this stream from being idle, or null if it is. */
    String notIdle() {
        if (closed) {
            return "the stream is closed";
        }
        if (reads.pending()) {
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
        if (!reads.bufferEmpty()) {
            return reads.buffered() + " bytes are buffered";
        }
        return null;
    }

    /** Hands the connection to {@code tls} (startTls): this stream is done, but its channel lives on there. */
    void handOver(IOStream tls) {
        transport.deregister();
        closed = true;
        successor = tls;
        if (openSet != null) {
            openSet.replace(this, tls.core);
        }
        if (closeCallback != null) {
            tls.setCloseCallback(closeCallback);
            closeCallback = null;
        }
    }

    // ================================================================== close

    /** Sets the close callback, or runs it soon if closed already (on the successor, if handed over). */
    void setCloseCallback(Runnable callback) {
        if (closed && successor != null) {
            successor.setCloseCallback(callback); // handed over by startTls: the connection lives on there
            return;
        }
        if (closed) {
            loop.addCallback(callback);
            return;
        }
        closeCallback = callback;
        updateInterest();
    }

    /** Closes after {@code e}, logging it at a level that says whose problem it is. */
    void closeQuietlyOrLoud(Throwable e) {
        if (isReset(e)) {
            LOG.log(System.Logger.Level.DEBUG, "connection reset: " + e);
        } else if (e instanceof UnsatisfiableReadException) {
            LOG.log(System.Logger.Level.INFO, "Unsatisfiable read, closing connection: " + e.getMessage());
        } else if (e instanceof SSLException) {
            // A peer that does not speak TLS (a port scan, a plaintext client, garbage) is the peer's problem,
            // and a flood of them must not flood the log: DEBUG. The error stays in error() and the futures.
            LOG.log(System.Logger.Level.DEBUG, () -> "TLS error on " + stream + ", closing it: " + e);
        } else if (!(e instanceof StreamBufferFullException)) {
            LOG.log(System.Logger.Level.WARNING, "error on " + stream + ", closing it", e);
        }
        closeOnLoop(e);
    }

    private static boolean isReset(Throwable e) {
        String m = e.getMessage();
        return e instanceof SocketException
                || e instanceof ClosedChannelException
                || (e instanceof IOException && m != null
                        && (m.contains("reset") || m.contains("Broken pipe") || m.contains("aborted")));
    }

    /**
     * Closes the stream with {@code cause} (null: cleanly): fails what is pending, closes the transport, and
     * queues the close callback. Idempotent. Once the loop has closed, skips what needs the loop.
     */
    void closeOnLoop(Throwable cause) {
        if (closed) {
            if (successor != null) {
                successor.core.closeOnLoop(cause); // handed over by startTls: the same connection
            }
            return;
        }
        closed = true;
        error = cause;
        if (openSet != null && !loop.isClosed()) { // after the loop closed, any thread: the set is moot
            openSet.remove(this);
        }
        writes.completeWritten(); // writes whose bytes reached the kernel (a completion deferred by the nesting bound)
        transport.onClose(cause);
        reads.onClose(cause); // data already buffered may still satisfy the pending read
        if (!loop.isClosed()) {
            transport.deregister();
        }
        try {
            transport.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "error closing " + stream, e);
        }
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
}
