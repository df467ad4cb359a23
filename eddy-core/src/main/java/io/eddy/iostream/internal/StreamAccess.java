package io.eddy.iostream.internal;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.SSLIOStream;
import io.eddy.iostream.StreamOptions;

import java.net.InetSocketAddress;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/**
 * What Eddy's servers and clients may do with streams beyond the public API: make streams that own their
 * socket natively on an epoll loop (no {@code SocketChannel}), and count open streams. Not exported; {@code IOStream} installs the
 * one implementation when it is initialised.
 *
 * <p>Threads: the loop's thread (or any one thread while it is not running), like {@link IOLoop#addHandler}.
 */
public abstract class StreamAccess {

    private static volatile StreamAccess instance;

    /** The implementation. */
    public static StreamAccess get() {
        StreamAccess a = instance;
        if (a == null) {
            try {
                Class.forName(IOStream.class.getName(), true, IOStream.class.getClassLoader()); // installs it
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
            a = instance;
        }
        return a;
    }

    /** Called once, by IOStream's class initialisation. */
    public static void install(StreamAccess access) {
        instance = access;
    }

    /** True if streams on {@code loop} can own native sockets (it runs on epoll). */
    public abstract boolean isNative(IOLoop loop);

    /** A stream on the accepted, connected socket {@code fd} (the stream owns it from now on). */
    public abstract IOStream accepted(IOLoop loop, int fd, InetSocketAddress remote, StreamOptions options);

    /** A TLS server stream on the accepted socket {@code fd}; its handshake starts on the loop's next iteration. */
    public abstract SSLIOStream acceptedTls(IOLoop loop, int fd, InetSocketAddress remote, StreamOptions options,
                                            SSLContext ctx, Duration handshakeTimeout);

    /** An empty set of open streams, for a server to count its connections in. */
    public abstract OpenStreams openStreams();

    /** A stream whose socket its {@link IOStream#connect} opens. */
    public abstract IOStream unconnected(IOLoop loop, StreamOptions options);

    /** A TLS client stream whose socket its {@link IOStream#connect} opens; the handshake follows the connect. */
    public abstract SSLIOStream unconnectedTls(IOLoop loop, StreamOptions options, SSLContext ctx, String serverHostname);
}
