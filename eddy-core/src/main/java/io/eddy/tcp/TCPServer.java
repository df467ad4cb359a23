package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.internal.LibC;
import io.eddy.ioloop.internal.LoopAccess;
import io.eddy.ioloop.internal.NativeIO;
import io.eddy.ioloop.PeriodicCallback;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.SSLIOStream;
import io.eddy.iostream.internal.OpenStreams;
import io.eddy.iostream.internal.StreamAccess;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

/**
 * A TCP server: accepts connections and hands each, as an {@link IOStream}, to a {@link StreamHandler}.
 *
 * <p>One loop: {@link #listen(int, String)} on {@link IOLoop#current()}. Many loops, one per core:
 * {@link #bind(int, String)} then {@link #start(int)}, which runs each loop on its own thread; with
 * {@link ServerOptions#reusePort()} every loop gets its own listening socket (SO_REUSEPORT: the kernel
 * spreads the connections), otherwise the loops share the bound sockets.
 *
 * <pre>{@code
 * TCPServer server = new TCPServer((stream, address) ->
 *         stream.readUntil("\n".getBytes()).thenCompose(stream::write));
 * server.listen(8888, "127.0.0.1");
 * IOLoop.current().start();
 * }</pre>
 *
 * <p>Threads: {@code listen}, {@code bind}, {@code start}, {@code addSockets}, {@code stop} and
 * {@code addresses} from any one thread at a time (typically the one setting the server up); the handler
 * runs on the loop thread that accepted the connection.
 */
public final class TCPServer {

    /**
     * The most loops {@link #start(int)} makes: each is a thread and a selector, and a count beyond this is
     * a mistake that would exhaust threads or file descriptors before serving anything.
     */
    public static final int MAX_LOOPS = 1024;

    private static final System.Logger LOG = System.getLogger("io.eddy.tcp");

    private final StreamHandler handler;
    private final ServerOptions options;
    private final List<ServerSocketChannel> bound = new ArrayList<>();
    private final List<ServerSocketChannel> sockets = new ArrayList<>();
    private final List<Acceptor> acceptors = new ArrayList<>();
    private final List<IOLoop> startedLoops = new ArrayList<>();
    private boolean stopped;

    /** A server with {@link ServerOptions#defaults()}. */
    public TCPServer(StreamHandler handler) {
        this(handler, ServerOptions.defaults());
    }

    /**
     * A server with {@code options}; with {@link ServerOptions#sslContext()} every connection is an
     * {@link SSLIOStream} (the handler may read and write at once: both wait for the handshake).
     */
    public TCPServer(StreamHandler handler, ServerOptions options) {
        this.handler = Objects.requireNonNull(handler, "handler");
        this.options = Objects.requireNonNull(options, "options");
    }

    /** Listens on {@code port} of every interface, on {@link IOLoop#current()}. */
    public void listen(int port) throws IOException {
        listen(port, null);
    }

    /**
     * Listens on {@code port} of {@code address} (null or empty: every interface), on
     * {@link IOLoop#current()}. Port 0 picks a free port: see {@link #addresses()}.
     *
     * @throws IllegalStateException once stopped (before anything is bound), or if the current loop is closed
     *                               (the sockets it bound are closed again)
     */
    public void listen(int port, String address) throws IOException {
        checkNotStopped();
        List<ServerSocketChannel> channels = Sockets.bindSockets(port, address, null, options.backlog(), options.reusePort());
        try {
            addSockets(channels);
        } catch (RuntimeException e) { // e.g. the current loop is closed: release what was bound
            for (ServerSocketChannel s : channels) {
                try {
                    s.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /**
     * Binds the listening sockets for a later {@link #start(int)}; returns them.
     *
     * @throws IllegalStateException once stopped
     */
    public List<ServerSocketChannel> bind(int port, String address) throws IOException {
        checkNotStopped();
        List<ServerSocketChannel> channels = Sockets.bindSockets(port, address, null, options.backlog(), options.reusePort());
        bound.addAll(channels);
        sockets.addAll(channels);
        return channels;
    }

    /**
     * Starts {@code loops} new loops, each on its own thread (0: one per core), that accept on the
     * sockets of {@link #bind}. Returns once they run.
     *
     * @throws IllegalArgumentException if {@code loops} is negative or more than {@link #MAX_LOOPS}
     * @throws IllegalStateException    if nothing was bound, or once started or stopped
     */
    public void start(int loops) throws IOException {
        if (loops < 0 || loops > MAX_LOOPS) {
            throw new IllegalArgumentException("loops must be 0 (one per core) to " + MAX_LOOPS + ": " + loops);
        }
        checkNotStopped();
        if (bound.isEmpty()) {
            throw new IllegalStateException("start() needs sockets: call bind() first");
        }
        if (!startedLoops.isEmpty()) {
            throw new IllegalStateException("start() was called already");
        }
        int count = loops == 0 ? Runtime.getRuntime().availableProcessors() : loops;
        boolean ownSockets = options.reusePort() && bound.stream().allMatch(TCPServer::hasReusePort);
        for (int i = 0; i < count; i++) {
            IOLoop loop = IOLoop.create();
            List<ServerSocketChannel> channels = bound;
            if (i > 0 && ownSockets) {
                channels = new ArrayList<>();
                for (ServerSocketChannel s : bound) {
                    InetSocketAddress at = (InetSocketAddress) s.getLocalAddress();
                    channels.addAll(Sockets.bindSockets(at.getPort(), at.getAddress().getHostAddress(),
                            null, options.backlog(), true));
                }
                sockets.addAll(channels);
            }
            for (ServerSocketChannel s : channels) {
                acceptors.add(new Acceptor(loop, s));
            }
            startedLoops.add(loop);
        }
        for (int i = 0; i < startedLoops.size(); i++) {
            startedLoops.get(i).startInNewThread("eddy-tcp-" + i);
        }
    }

    private static boolean hasReusePort(ServerSocketChannel s) {
        try {
            return s.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT)
                    && s.getOption(StandardSocketOptions.SO_REUSEPORT);
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Accepts on {@code channels} with {@link IOLoop#current()}. All or nothing: if one of them is refused
     * (closed, unbound, null), none is added. Call on that loop's thread, or before it runs.
     *
     * @throws IllegalStateException once stopped
     */
    public void addSockets(List<ServerSocketChannel> channels) {
        Objects.requireNonNull(channels, "channels");
        checkNotStopped();
        IOLoop loop = IOLoop.current();
        List<Acceptor> added = new ArrayList<>(channels.size());
        try {
            for (ServerSocketChannel s : channels) {
                added.add(new Acceptor(loop, s));
            }
        } catch (RuntimeException e) {
            for (Acceptor a : added) {
                a.remover.run(); // the ones before the refused socket: no handler left behind
            }
            throw e;
        }
        for (Acceptor a : added) {
            sockets.add(a.socket);
            acceptors.add(a);
        }
    }

    /** The addresses the server listens on, with the real ports. */
    public List<InetSocketAddress> addresses() {
        List<InetSocketAddress> out = new ArrayList<>();
        for (ServerSocketChannel s : sockets) {
            try {
                out.add((InetSocketAddress) s.getLocalAddress());
            } catch (IOException closed) {
                // stopped: no longer listening there
            }
        }
        return out;
    }

    /**
     * Stops listening: closes the listening sockets. Open connections go on; the loops {@link #start}
     * made stop, and close, once their connections are gone. Idempotent.
     */
    public void stop() {
        if (stopped) {
            return;
        }
        stopped = true;
        for (Acceptor a : acceptors) {
            a.stop();
        }
        for (IOLoop loop : startedLoops) {
            loop.addCallback(() -> stopWhenIdle(loop));
        }
    }

    private void stopWhenIdle(IOLoop loop) {
        PeriodicCallback[] check = new PeriodicCallback[1];
        check[0] = new PeriodicCallback(loop, () -> {
            if (openStreams(loop) == 0) {
                check[0].stop();
                loop.shutdown();
            }
        }, Duration.ofMillis(100), 0);
        if (openStreams(loop) == 0) {
            loop.shutdown();
        } else {
            check[0].start();
        }
    }

    private int openStreams(IOLoop loop) {
        int open = 0;
        for (Acceptor a : acceptors) {
            if (a.loop == loop) {
                open += a.openStreams();
            }
        }
        return open;
    }

    private void checkNotStopped() {
        if (stopped) {
            throw new IllegalStateException("the server was stopped");
        }
    }

    /** One listening socket on one loop, and the streams it accepted. */
    private final class Acceptor {
        final IOLoop loop;
        final ServerSocketChannel socket;
        final Runnable remover;
        /** Accepted streams still open (each leaves as it closes). Loop thread only. */
        final OpenStreams streams = StreamAccess.get().openStreams();

        Acceptor(IOLoop loop, ServerSocketChannel socket) {
            this.loop = loop;
            this.socket = socket;
            NativeIO io = LoopAccess.get().nativeIO(loop);
            this.remover = io != null ? Sockets.addNativeAcceptHandler(loop, socket, io, this::accepted)
                    : Sockets.addAcceptHandler(loop, socket, this::accepted);
        }

        /** On an epoll loop: the connection as a native stream, no SocketChannel. */
        private void accepted(int fd, InetSocketAddress address) {
            StreamAccess streams = StreamAccess.get();
            IOStream stream;
            try {
                stream = options.sslContext() == null
                        ? streams.accepted(loop, fd, address, options.streamOptions())
                        : streams.acceptedTls(loop, fd, address, options.streamOptions(), options.sslContext(),
                        options.handshakeTimeout());
            } catch (RuntimeException | Error e) {
                LibC.closeQuietly(fd); // no stream owns it (a TLS context that cannot make an engine, say)
                throw e;
            }
            serve(stream, address);
        }

        private void accepted(SocketChannel channel, InetSocketAddress address) {
            IOStream stream;
            if (options.sslContext() == null) {
                stream = new IOStream(channel, loop, options.streamOptions());
            } else {
                SSLIOStream tls = new SSLIOStream(channel, loop, options.streamOptions(), options.sslContext(), true, null);
                tls.setHandshakeTimeout(options.handshakeTimeout());
                stream = tls;
            }
            serve(stream, address);
        }

        private void serve(IOStream stream, InetSocketAddress address) {
            streams.add(stream);
            try {
                CompletionStage<?> result = handler.handleStream(stream, address);
                if (result != null) {
                    loop.addFuture(result, (value, error) -> {
                        if (error != null) {
                            throw Rethrow.unchecked(error);
                        }
                    });
                }
            } catch (Exception e) {
                // Nobody serves the stream now: close it (else its socket stays open, unwatched, until the
                // process ends), then report like a callback's exception (the loop's handlers and the Context's).
                stream.close(e);
                loop.addCallback(() -> {
                    throw Rethrow.unchecked(e);
                });
            }
        }

        int openStreams() {
            return streams.size();
        }

        void stop() {
            Runnable close = () -> {
                remover.run();
                try {
                    socket.close();
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.DEBUG, "error closing " + socket, e);
                }
            };
            if (loop.inLoopThread() || !loop.isRunning()) {
                close.run();
            } else {
                loop.addCallback(close);
            }
        }
    }

    /** Throws a checked exception without declaring it, so the loop reports the original. */
    private static final class Rethrow {
        private Rethrow() {
        }

        static RuntimeException unchecked(Throwable t) {
            Rethrow.<RuntimeException>sneaky(t);
            throw new AssertionError("unreachable");
        }

        @SuppressWarnings("unchecked")
        private static <T extends Throwable> void sneaky(Throwable t) throws T {
            throw (T) t;
        }
    }
}
