package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.Timeout;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.internal.StreamAccess;
import io.eddy.iostream.StreamClosedException;

import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnknownHostException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;

/**
 * Opens TCP connections: resolves a host and connects to one of its addresses, as an {@link IOStream}.
 * Tornado's TCPClient.
 *
 * <pre>{@code
 * new TCPClient().connect("localhost", 8888)
 *         .thenCompose(stream -> stream.write("hello\n".getBytes())
 *                 .thenCompose(v -> stream.readUntil("\n".getBytes())));
 * }</pre>
 *
 * <p>Happy Eyeballs (RFC 6555, as Tornado does it): the resolved addresses are split into the
 * <em>primary</em> family (that of the first address) and the <em>secondary</em> family (the rest), each
 * in the resolver's order. The primary addresses are tried one after another, the next when one fails.
 * The secondary family starts 300 ms after the first primary attempt, or at once when an attempt
 * fails before that; from then on both families run side by side, one attempt in flight per family. The first connected stream wins; every other attempt is abandoned and its socket
 * closed, also one that connects later.
 *
 * <p>Errors arrive through the future: the resolver's failure (e.g. {@link UnknownHostException}); when
 * every address failed, the error of the attempt that failed last (an {@link IOException}: a refused
 * connection is a {@link ConnectException} naming the address, a failed
 * {@link ConnectOptions#sourceAddress() bind} a {@link BindException}); when
 * {@link ConnectOptions#timeout()} passes first, a {@link TimeoutException} (every attempt is then
 * closed). Cancelling the future closes the attempts too.
 *
 * <p>Threads: {@code connect} from any thread. It works on {@link IOLoop#current()} of the calling
 * thread, where all its state lives and the future completes (under the
 * {@link io.eddy.ioloop.Context} of the call). Immutable and thread-safe.
 */
public final class TCPClient {

    private static final System.Logger LOG = System.getLogger("io.eddy.tcp");

    /** How long the primary family runs alone: Tornado's {@code _INITIAL_CONNECT_TIMEOUT} (0.3 s). */
    static final Duration INITIAL_CONNECT_TIMEOUT = Duration.ofMillis(300);

    private final Resolver resolver;
    private final Connector connector;

    /** A client resolving with {@link Resolver#system()}. */
    public TCPClient() {
        this(Resolver.system());
    }

    /** A client resolving with {@code resolver}. */
    public TCPClient(Resolver resolver) {
        this(resolver, TCPClient::openStream);
    }

    /** A client whose attempts are made by {@code connector}: for tests. */
    TCPClient(Resolver resolver, Connector connector) {
        this.resolver = Objects.requireNonNull(resolver, "resolver");
        this.connector = Objects.requireNonNull(connector, "connector");
    }

    /** Connects to {@code port} of {@code host} with {@link ConnectOptions#defaults()}; see the class description. */
    public CompletableFuture<IOStream> connect(String host, int port) {
        return connect(host, port, ConnectOptions.defaults());
    }

    /**
     * Connects to {@code port} of {@code host} (a name or an IP literal) with {@code options}, on
     * {@link IOLoop#current()}; see the class description. With a {@link ConnectOptions#sslContext()} the
     * stream is an {@link io.eddy.iostream.SSLIOStream}: the first connection to succeed does the TLS
     * handshake (within the same timeout), and the server's certificate must be valid for {@code host}; a
     * failed handshake fails the future with its {@link javax.net.ssl.SSLException}.
     *
     * @return the connected stream, on the loop of the calling thread
     * @throws NullPointerException     if {@code host} or {@code options} is null
     * @throws IllegalArgumentException if {@code host} is empty or {@code port} is outside 1 to 65535
     */
    public CompletableFuture<IOStream> connect(String host, int port, ConnectOptions options) {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(options, "options");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("host must not be empty");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port must be 1 to 65535: " + port);
        }
        return new Connect(IOLoop.current(), host, port, options).start();
    }

    /** Connection attempts to every address of one host, on one loop. All fields: loop thread. */
    private final class Connect {

        private final IOLoop loop;
        private final String host;
        private final int port;
        private final ConnectOptions options;
        /** The overall deadline on the loop's clock; meaningful only with a timeout. */
        private final long deadline;
        private final CompletableFuture<IOStream> result = new CompletableFuture<>();
        private final List<CompletableFuture<IOStream>> inFlight = new ArrayList<>(2);
        private final ArrayDeque<InetSocketAddress> primary = new ArrayDeque<>();
        private final ArrayDeque<InetSocketAddress> secondary = new ArrayDeque<>();
        private boolean secondaryStarted;
        /** Addresses not yet tried plus attempts in flight. */
        private int remaining;
        private Throwable lastError;
        private Timeout secondaryTimer;
        private Timeout deadlineTimer;
        /** The first attempt that connected (plain; with TLS, still in its handshake until the result). */
        private IOStream winner;

        Connect(IOLoop loop, String host, int port, ConnectOptions options) {
            this.loop = loop;
            this.host = host;
            this.port = port;
            this.options = options;
            this.deadline = options.timeout() == null ? 0 : deadlineAfter(loop.time(), options.timeout());
        }

        CompletableFuture<IOStream> start() {
            // However the future completes (won, failed, timed out, cancelled by the caller): clean up.
            result.whenComplete((stream, error) -> onLoop(this::finish));
            onLoop(this::begin);
            return result;
        }

        private void onLoop(Runnable action) {
            if (loop.inLoopThread()) {
                action.run();
                return;
            }
            try {
                loop.addCallback(action);
            } catch (RejectedExecutionException closed) {
                result.completeExceptionally(closed);
            }
        }

        private void begin() {
            if (result.isDone()) {
                return;
            }
            if (options.timeout() != null) {
                deadlineTimer = loop.callAt(deadline, this::timedOut);
            }
            CompletableFuture<List<InetSocketAddress>> resolving;
            try {
                resolving = Objects.requireNonNull(resolver.resolve(host, port, options.family()),
                        "the resolver returned a null future");
            } catch (RuntimeException e) {
                fail(e);
                return;
            }
            loop.addFuture(resolving, this::resolved);
        }

        private void resolved(List<InetSocketAddress> addresses, Throwable error) {
            if (result.isDone()) {
                return;
            }
            if (error != null) {
                fail(error);
                return;
            }
            ProtocolFamily wanted = options.family();
            ProtocolFamily first = null;
            for (InetSocketAddress a : addresses == null ? List.<InetSocketAddress>of() : addresses) {
                if (a == null) { // thrown here, it would leave the future pending forever
                    fail(new NullPointerException("the resolver returned a null address for " + host + ": " + addresses));
                    return;
                }
                ProtocolFamily f = familyOf(a);
                if (wanted != null && f != wanted) {
                    continue;
                }
                if (first == null) {
                    first = f;
                }
                (f == first ? primary : secondary).add(a);
            }
            remaining = primary.size() + secondary.size();
            if (remaining == 0) {
                fail(new UnknownHostException(host + ": the resolver found no "
                        + (wanted == null ? "" : wanted + " ") + "address"));
                return;
            }
            LOG.log(System.Logger.Level.DEBUG, () -> "connecting to " + host + ":" + port + ": primary "
                    + primary + ", secondary " + secondary);
            tryNext(primary);
            if (!secondary.isEmpty()) {
                secondaryTimer = loop.callLater(INITIAL_CONNECT_TIMEOUT, this::startSecondary);
            }
        }

        /** Starts the secondary family, unless it started already: at {@link #INITIAL_CONNECT_TIMEOUT} or the first failure. */
        private void startSecondary() {
            if (secondaryStarted || result.isDone() || winner != null) {
                return;
            }
            secondaryStarted = true;
            if (secondaryTimer != null) {
                secondaryTimer.cancel();
                secondaryTimer = null;
            }
            tryNext(secondary);
        }

        /** Starts an attempt on the next address of {@code family}; fails once every address failed. */
        private void tryNext(ArrayDeque<InetSocketAddress> family) {
            if (result.isDone() || winner != null) {
                return; // done, or a connection won and does its TLS handshake: no more attempts
            }
            InetSocketAddress address = family.poll();
            if (address == null) {
                if (remaining == 0) {
                    fail(lastError != null ? lastError
                            : new ConnectException("connecting to " + host + ":" + port + " failed"));
                }
                return;
            }
            CompletableFuture<IOStream> attempt;
            try {
                attempt = Objects.requireNonNull(connector.connect(address, options, loop),
                        "the connector returned a null future");
            } catch (RuntimeException e) {
                attempt = CompletableFuture.failedFuture(e);
            }
            inFlight.add(attempt);
            CompletableFuture<IOStream> a = attempt;
            loop.addFuture(attempt, (stream, error) -> attemptDone(family, address, a, stream, error));
        }

        private void attemptDone(ArrayDeque<InetSocketAddress> family, InetSocketAddress address,
                                 CompletableFuture<IOStream> attempt, IOStream stream, Throwable error) {
            inFlight.remove(attempt);
            remaining--;
            if (error != null) {
                if (result.isDone() || winner != null) {
                    return; // abandoned (cancelled), or too late to matter
                }
                LOG.log(System.Logger.Level.DEBUG, () -> "connecting to " + address + " failed: " + error);
                lastError = error;
                tryNext(family);
                startSecondary();
                return;
            }
            if (stream == null) {
                return;
            }
            if (result.isDone() || winner != null) {
                stream.close(); // a loser that connected after the winner, or after a timeout or cancel
                return;
            }
            winner = stream;
            if (options.sslContext() == null) {
                result.complete(stream);
                return;
            }
            abandonOthers(); // the handshake decides now; the other attempts must not fail the connect

            // TLS on the winning connection, within the same timeout, checking the certificate against host.
            stream.startTls(false, options.sslContext(), host, options.handshakeTimeout()).whenComplete((tls, e) -> {
                if (e != null) {
                    fail(handshakeError(e, host, port));
                } else if (!result.complete(tls)) {
                    tls.close(); // timed out or cancelled meanwhile
                }
            });
        }

        private void timedOut() {
            deadlineTimer = null;
            fail(new TimeoutException("connecting to " + host + ":" + port + " timed out after "
                    + options.timeout()));
        }

        private void fail(Throwable error) {
            result.completeExceptionally(error);
        }

        /** The future completed: stop the timers and abandon the attempts still in flight. */
        private void finish() {
            abandonOthers();
            if (deadlineTimer != null) {
                deadlineTimer.cancel();
                deadlineTimer = null;
            }
            if (winner != null && result.isCompletedExceptionally()) {
                winner.close(); // a TLS handshake cut short (closing the plain stream closes its TLS successor)
            }
        }

        /** Stops the secondary timer and cancels the attempts in flight (which closes their sockets). */
        private void abandonOthers() {
            if (secondaryTimer != null) {
                secondaryTimer.cancel();
                secondaryTimer = null;
            }
            List<CompletableFuture<IOStream>> abandoned = new ArrayList<>(inFlight);
            inFlight.clear();
            for (CompletableFuture<IOStream> attempt : abandoned) {
                attempt.cancel(false);
            }
        }
    }

    private static long deadlineAfter(long now, Duration timeout) {
        long nanos;
        try {
            nanos = timeout.toNanos();
        } catch (ArithmeticException overflow) {
            return Long.MAX_VALUE;
        }
        long deadline = now + nanos;
        return deadline < now ? Long.MAX_VALUE : deadline;
    }

    private static ProtocolFamily familyOf(InetSocketAddress address) {
        return address.getAddress() instanceof Inet6Address ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
    }

    /**
     * The real {@link Connector}: {@link #newStream} connecting with {@link #connecting}. The future fails
     * with the {@link IOException} that made the attempt fail; cancelling it closes the stream.
     */
    static CompletableFuture<IOStream> openStream(InetSocketAddress address, ConnectOptions options, IOLoop loop) {
        IOStream stream;
        try {
            stream = newStream(address, options, loop);
        } catch (IOException e) {
            return CompletableFuture.failedFuture(e);
        }
        return connecting(stream, address);
    }

    /**
     * A stream on a new channel of the family of {@code address}, bound to
     * {@link ConnectOptions#sourceAddress()} if set; not connected yet.
     *
     * @throws IOException the failure to open or bind the channel (a {@link BindException} naming the source)
     */
    static IOStream newStream(InetSocketAddress address, ConnectOptions options, IOLoop loop) throws IOException {
        if (address.isUnresolved()) {
            throw new UnknownHostException("unresolved address: " + address);
        }
        StreamAccess streams = StreamAccess.get();
        if (options.sourceAddress() == null && streams.isNative(loop)) {
            return streams.unconnected(loop, options.streamOptions()); // its connect opens a native socket
        }
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open(familyOf(address));
            InetSocketAddress source = options.sourceAddress();
            if (source != null) {
                try {
                    channel.bind(source);
                } catch (IOException | RuntimeException e) {
                    BindException bind = new BindException("cannot bind to " + source + " to connect to "
                            + address + ": " + e.getMessage());
                    bind.initCause(e);
                    throw bind;
                }
            }
            return new IOStream(channel, loop, options.streamOptions());
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            if (e instanceof IOException io) {
                throw io;
            }
            SocketException failed = new SocketException("cannot open a socket to connect to " + address + ": " + e);
            failed.initCause(e);
            throw failed;
        }
    }

    /**
     * Connects {@code stream} to {@code address}. The future fails with the {@link IOException} that made
     * the connect fail (unwrapped from the stream's {@link StreamClosedException}); cancelling it closes
     * the stream, and a stream that connects after the cancel is closed then.
     */
    static CompletableFuture<IOStream> connecting(IOStream stream, InetSocketAddress address) {
        CompletableFuture<IOStream> attempt = new CompletableFuture<>();
        stream.connect(address).whenComplete((s, error) -> {
            if (error == null) {
                if (!attempt.complete(s)) {
                    s.close(); // cancelled meanwhile
                }
            } else {
                attempt.completeExceptionally(connectError(address, error));
            }
        });
        attempt.whenComplete((s, error) -> {
            if (attempt.isCancelled()) {
                stream.close();
            }
        });
        return attempt;
    }

    /**
     * The handshake's {@link javax.net.ssl.SSLException} (or other IOException) from under the stream's
     * close; a server that just closed the connection becomes an SSLHandshakeException naming it.
     */
    private static Throwable handshakeError(Throwable error, String host, int port) {
        Throwable e = error;
        if (e instanceof CompletionException && e.getCause() != null) {
            e = e.getCause();
        }
        if (e instanceof StreamClosedException closed) {
            if (closed.getCause() instanceof IOException cause) {
                return cause;
            }
            javax.net.ssl.SSLHandshakeException ended = new javax.net.ssl.SSLHandshakeException(
                    "TLS handshake with " + host + ":" + port + " failed: the server closed the connection");
            ended.initCause(closed);
            return ended;
        }
        return e;
    }

    /** The IOException under the stream's {@link StreamClosedException}; a refusal names the address. */
    private static Throwable connectError(InetSocketAddress address, Throwable error) {
        Throwable e = error;
        if (e instanceof CompletionException && e.getCause() != null) {
            e = e.getCause();
        }
        if (e instanceof StreamClosedException && e.getCause() instanceof IOException cause) {
            e = cause;
        }
        if (e instanceof ConnectException refused) {
            ConnectException named = new ConnectException("cannot connect to "
                    + Sockets.hostPort(address.getAddress(), address.getPort()) + ": " + refused.getMessage());
            named.initCause(refused);
            return named;
        }
        return e;
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel == null) {
            return;
        }
        try {
            channel.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "error closing " + channel, e);
        }
    }
}
