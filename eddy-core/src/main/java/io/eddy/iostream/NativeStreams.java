package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.internal.LoopAccess;
import io.eddy.ioloop.internal.NativeIO;
import io.eddy.iostream.internal.OpenStreams;
import io.eddy.iostream.internal.StreamAccess;

import java.net.InetSocketAddress;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/**
 * Streams on native sockets ({@link NativeTransport}), for Eddy's servers and clients on epoll loops, and
 * the servers' sets of open streams ({@link OpenStreamSet}); they reach both through {@link StreamAccess}.
 * Threads: as {@link StreamAccess}.
 */
final class NativeStreams extends StreamAccess {

    private static final LoopAccess LOOPS = LoopAccess.get();

    static void install() {
        StreamAccess.install(new NativeStreams());
    }

    @Override
    public boolean isNative(IOLoop loop) {
        return !loop.isClosed() && LOOPS.nativeIO(loop) != null; // a closed loop: the channel path fails it cleanly
    }

    @Override
    public IOStream accepted(IOLoop loop, int fd, InetSocketAddress remote, StreamOptions options) {
        NativeIO io = io(loop);
        return new IOStream(null, core -> new NativeTransport(core, io, fd), loop, options, null);
    }

    @Override
    public SSLIOStream acceptedTls(IOLoop loop, int fd, InetSocketAddress remote, StreamOptions options,
                                   SSLContext ctx, Duration handshakeTimeout) {
        NativeIO io = io(loop);
        SSLIOStream tls = new SSLIOStream(core -> new NativeTransport(core, io, fd), true, remote.getPort(), loop,
                options, ctx, true, null);
        tls.setHandshakeTimeout(handshakeTimeout);
        return tls;
    }

    @Override
    public OpenStreams openStreams() {
        return new OpenStreamSet();
    }

    @Override
    public IOStream unconnected(IOLoop loop, StreamOptions options) {
        NativeIO io = io(loop);
        return new IOStream(null, core -> new NativeTransport(core, io, -1), loop, options, null);
    }

    @Override
    public SSLIOStream unconnectedTls(IOLoop loop, StreamOptions options, SSLContext ctx, String serverHostname) {
        NativeIO io = io(loop);
        return new SSLIOStream(core -> new NativeTransport(core, io, -1), false, -1, loop, options, ctx, false,
                serverHostname);
    }

    /** startTls on a native stream: the new TLS stream takes the descriptor over. Loop thread. */
    static SSLIOStream tlsOver(IOStream plain, SSLContext ctx, boolean serverSide, String serverHostname) {
        NativeTransport socket = (NativeTransport) plain.core.transport;
        NativeIO io = io(plain.loop());
        boolean connected = socket.isConnected();
        InetSocketAddress remote = socket.remoteAddress();
        int fd = socket.handOver();
        try {
            return new SSLIOStream(core -> new NativeTransport(core, io, fd), connected,
                    remote == null ? -1 : remote.getPort(), plain.loop(), plain.options(), ctx, serverSide, serverHostname);
        } catch (RuntimeException | Error e) {
            socket.takeBack(fd); // the plain stream stays usable, as on a JDK channel
            throw e;
        }
    }

    private static NativeIO io(IOLoop loop) {
        NativeIO io = LOOPS.nativeIO(loop);
        if (io == null) {
            throw new IllegalStateException("native streams need the epoll backend; " + loop + " runs " + loop.backend());
        }
        return io;
    }
}
