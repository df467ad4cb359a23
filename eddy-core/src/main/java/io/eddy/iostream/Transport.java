package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;

/**
 * What an {@link IOStream} needs from the connection under it: moving bytes, connecting, and being told by
 * the loop when the socket is ready. The stream keeps buffering, matching, futures and the public contract;
 * a transport only moves bytes and watches readiness.
 *
 * <p>{@link ChannelTransport} is a JDK {@link java.nio.channels.SocketChannel} on the loop's handler API. A
 * layer such as {@link TlsTransport} wraps another transport and is itself one: it transforms the bytes and
 * adds its own needs (a handshake, records to flush) to the readiness it asks for, and passes the rest down.
 *
 * <p>Events flow up, calls flow down: the bottom transport hands the loop's readiness events to
 * {@link StreamCore#handleEvents}, which passes them through {@link #onEvents} of the top transport (each
 * layer passing them down first, then acting on what comes back) before it reads and writes.
 *
 * <p>Threads: the stream's loop thread only, except that {@link #onClose} and {@link #close} also run on the
 * thread that closes a stream whose loop has closed (the stream then calls nothing else). Not thread-safe.
 */
sealed interface Transport permits ChannelTransport, NativeTransport, TlsTransport {

    // ---- bytes

    /** Reads into {@code dst}: the bytes read, 0 if none are there now, -1 at end of stream. */
    int read(ByteBuffer dst) throws IOException;

    /** Writes from {@code src}: the bytes taken, 0 if the transport cannot take any now. */
    int write(ByteBuffer src) throws IOException;

    /** Gathering write of {@code srcs[0, count)}: the bytes taken, 0 if none now. */
    long write(ByteBuffer[] srcs, int count) throws IOException;

    /**
     * True if a read may deliver more without the socket becoming readable (bytes or an end of stream the
     * transport holds): the stream must not wait for READ before reading again.
     */
    boolean hasMore();

    /** True while the transport holds written bytes the kernel has not taken: the stream keeps WRITE interest. */
    boolean holdsBytes();

    // ---- connection

    /** Starts connecting to {@code remote}; true if connected at once, else {@link #finishConnect} on WRITE. */
    boolean connect(SocketAddress remote) throws IOException;

    /** Finishes a connect begun by {@link #connect}: true once connected; throws if it failed. */
    boolean finishConnect() throws IOException;

    /** True if the connection under it is up (connected by {@link #connect} or before the stream was made). */
    boolean isConnected();

    /**
     * The connection is up. True if the stream may read and write now; false if the transport has more to do
     * first (a TLS handshake), and will call {@link StreamCore#transportReady} once it has.
     */
    boolean onConnected() throws IOException;

    /** The peer's address, or null if not connected or unknown. Any thread. */
    InetSocketAddress remoteAddress();

    /** The local address, or null if unbound, closed or unknown. Any thread. */
    InetSocketAddress localAddress();

    /** Sets TCP_NODELAY. */
    void setNoDelay(boolean on) throws IOException;

    /** Half-closes: the peer reads an end of stream, this side may still read. */
    void shutdownOutput() throws IOException;

    // ---- readiness

    /**
     * Asks the loop for {@code events} ({@link IOLoop#READ}, {@link IOLoop#WRITE}, or both, or none): what
     * the stream waits for. A layer adds what it waits for itself. Registers lazily and only on a change, so
     * calling this per message costs nothing when the interest stays the same.
     */
    void interest(int events);

    /**
     * The loop reported {@code events} (or the stream acts as if it had). A layer acts on them first (drives
     * its handshake, flushes what it holds); returns the events the stream should act on.
     */
    int onEvents(int events) throws IOException;

    /** Stops watching readiness; the connection stays open (it may be handed to another stream). */
    void deregister();

    // ---- end

    /** The stream is closing with {@code cause} (null: cleanly): last flush, release buffers. Before {@link #close}. */
    void onClose(Throwable cause);

    /** Closes the connection. */
    void close() throws IOException;
}
