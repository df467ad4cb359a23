package io.eddy.iostream;

import io.eddy.ioloop.internal.FdHandler;
import io.eddy.ioloop.internal.LibC;
import io.eddy.ioloop.internal.LoopAccess;
import io.eddy.ioloop.internal.NativeIO;
import io.eddy.ioloop.internal.NativeSockets;
import io.eddy.ioloop.internal.PollKey;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;

/**
 * A {@link Transport} on a socket the stream owns natively, on an epoll loop: a file descriptor read and
 * written through libc, with no {@code SocketChannel} (and none of its locks, state checks and ~0.7 KB of JDK
 * objects) per connection. It registers the descriptor with the loop itself and is its handler.
 *
 * <p>The descriptor is closed exactly once, after its registration is removed, so that its number, which the
 * kernel may hand out again at once, never reaches this handler. A transport made for connecting opens its
 * socket in {@link #connect}.
 *
 * <p>Threads: as {@link Transport}. {@link #handle} is called by the loop, on its thread.
 */
final class NativeTransport implements Transport, FdHandler {

    private static final LoopAccess LOOPS = LoopAccess.get();

    private final StreamCore core;
    /** The loop's native scratch: errno and buffers of the loop thread. */
    private final NativeIO io;
    /** The socket; -1 before a connect opened one and once closed. Taken with {@link #take()} to close it once. */
    private volatile int fd;
    private PollKey key;
    /** Events registered with the loop; -1 while not registered. */
    private int registered = -1;
    private boolean connected;
    /** The descriptor is closed right after it is deregistered: its close takes it out of the epoll set. */
    private boolean closing;
    /** The address being connected to, for the connect's error message; null otherwise (held by nobody). */
    private InetSocketAddress connectingTo;

    /** A transport on the connected socket {@code fd} (accepted), or, with -1, one that {@link #connect}s. */
    NativeTransport(StreamCore core, NativeIO io, int fd) {
        this.core = core;
        this.io = io;
        this.fd = fd;
        this.connected = fd >= 0;
    }

    /** The descriptor, for a hand-over to a TLS stream (see {@link #handOver}); -1 once closed. */
    int fd() {
        return fd;
    }

    /** Asked of the kernel (getpeername), not kept: an idle connection holds no address objects. */
    @Override
    public InetSocketAddress remoteAddress() {
        int socket = fd;
        if (!connected || socket < 0) {
            return null;
        }
        try (Arena arena = Arena.ofConfined()) { // any thread: its own errno capture and memory
            return stillOurs(socket, NativeSockets.remoteAddress(new LibC.Errno(arena), socket, arena));
        } catch (IOException e) {
            return null; // the peer is gone
        }
    }

    @Override
    public InetSocketAddress localAddress() {
        int socket = fd;
        if (socket < 0) {
            return null;
        }
        // Any thread: its own errno capture and memory, not the loop's.
        try (Arena arena = Arena.ofConfined()) {
            return stillOurs(socket, NativeSockets.localAddress(new LibC.Errno(arena), socket, arena));
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * {@code address}, asked of {@code socket} on some thread, if the descriptor was still this stream's during
     * the call: the loop forgets it before closing it, so if it is still here, the call asked the right socket;
     * otherwise the number may have named another connection by then, and the answer is null (closed).
     */
    private InetSocketAddress stillOurs(int socket, InetSocketAddress address) {
        return fd == socket ? address : null;
    }

    /**
     * Gives the descriptor away (to the transport of a stream that takes the connection over): this one
     * deregisters and forgets it, so its close closes nothing.
     */
    int handOver() {
        deregister();
        return take();
    }

    /** Undoes {@link #handOver} when the stream that was to take the descriptor could not be made. */
    void takeBack(int handed) {
        fd = handed;
    }

    /** The descriptor, now owned by the caller alone (-1 if none): whoever closes it takes it first. */
    private int take() {
        return (int) FD.getAndSet(this, -1);
    }

    private static final java.lang.invoke.VarHandle FD;

    static {
        try {
            FD = java.lang.invoke.MethodHandles.lookup().findVarHandle(NativeTransport.class, "fd", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @Override
    public void handle(SelectableChannel none, int events) {
        core.handleEvents(events);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return io.read(fd, dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return io.write(fd, src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int count) throws IOException {
        return io.write(fd, srcs, Math.min(count, NativeIO.MAX_GATHER));
    }

    @Override
    public boolean hasMore() {
        return false; // the kernel holds what is left, and epoll reports it
    }

    @Override
    public boolean holdsBytes() {
        return false;
    }

    @Override
    public boolean connect(SocketAddress address) throws IOException {
        if (!(address instanceof InetSocketAddress inet) || inet.isUnresolved()) {
            throw new IllegalArgumentException("a native stream connects to a resolved InetSocketAddress, not " + address);
        }
        if (fd >= 0) {
            throw new IllegalStateException("already connected or connecting");
        }
        connectingTo = inet;
        fd = NativeSockets.open(io.errno(), NativeSockets.familyOf(inet.getAddress()));
        connected = NativeSockets.connect(io.errno(), fd, inet, io.scratch());
        if (connected) {
            connectingTo = null;
        }
        return connected;
    }

    @Override
    public boolean finishConnect() throws IOException {
        if (connected) {
            return true;
        }
        NativeSockets.finishConnect(io.errno(), fd, connectingTo, io.scratch());
        try {
            NativeSockets.remoteAddress(io.errno(), fd, io.scratch());
        } catch (IOException notYet) {
            return false; // no error, but no peer either (ENOTCONN): still connecting
        }
        connectingTo = null;
        connected = true;
        return true;
    }

    @Override
    public boolean isConnected() {
        return connected;
    }

    @Override
    public boolean onConnected() {
        return true;
    }

    @Override
    public void setNoDelay(boolean on) throws IOException {
        NativeSockets.setNoDelay(io.errno(), fd, on, io.scratch());
    }

    @Override
    public void shutdownOutput() throws IOException {
        NativeSockets.shutdownOutput(io.errno(), fd);
    }

    @Override
    public void interest(int events) {
        if (events == registered || fd < 0) {
            return;
        }
        if (key == null) {
            if (events == 0) {
                return; // lazy: not registered until there is something to wait for
            }
            key = LOOPS.addFd(core.loop, fd, this, events);
        } else {
            LOOPS.modifyFd(core.loop, key, events);
        }
        registered = events;
    }

    @Override
    public int onEvents(int events) {
        return events;
    }

    @Override
    public void deregister() {
        if (key != null) {
            if (!core.loop.isClosed()) {
                LOOPS.removeFd(core.loop, key, closing);
            }
            key = null;
            registered = -1;
        }
    }

    @Override
    public void onClose(Throwable cause) {
        closing = true; // the stream closes the descriptor right after deregistering it
    }

    @Override
    public void close() {
        if (fd < 0) {
            return;
        }
        closing = true;
        deregister(); // first: the number may be reused the moment it is closed
        int closing = take();
        if (closing >= 0) {
            LibC.closeQuietly(closing);
        }
    }

    @Override
    public void closeDescriptor() {
        // The loop closes with its channels and has removed the registration already.
        key = null;
        registered = -1;
        int closing = take();
        if (closing >= 0) {
            LibC.closeQuietly(closing);
        }
    }

    @Override
    public String toString() {
        return "socket fd " + fd + (connectingTo != null ? " connecting to " + connectingTo : "");
    }
}
