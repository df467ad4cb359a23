package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;

/**
 * A TLS stream over {@link SSLEngine}: Tornado's SSLIOStream. Reads and writes are plaintext, with the
 * same rules as {@link IOStream}; the stream encrypts and decrypts on the loop thread.
 *
 * <p>Handshake: on a connected channel it starts on the loop's next iteration, otherwise once
 * {@link #connect(SocketAddress)} has connected; {@code connect}'s future completes only after it.
 * Reads and writes issued before it is done wait for it. Delegated engine tasks run inline on the loop
 * thread. The client side verifies the server's certificate and that it matches {@code serverHostname}
 * (endpoint identification "HTTPS"). TLS 1.3 and 1.2 are enabled (those of them the context enables by
 * default). A failed handshake closes the stream with the {@link SSLException} as {@link #error()}; every
 * pending future then fails with {@link StreamClosedException} caused by it.
 *
 * <p>Writes: a write's future completes once its bytes are encrypted and handed to the kernel, except
 * that the last TLS record produced (at most about 16 KiB of ciphertext) may still be held by the stream;
 * it is flushed as soon as the socket is writable. The peer's close_notify or end of stream closes the
 * stream like a plain end of stream. Closing sends no close_notify.
 *
 * <p>Threads: as {@link IOStream}: any method from any thread, futures complete on the loop thread. The
 * TLS work itself (engine, record buffers, handshake) is a layer under the stream's buffering, on the loop
 * thread only.
 */
public class SSLIOStream extends IOStream {

    /** How long a handshake may take unless {@link #setHandshakeTimeout} says otherwise: 10 seconds. */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    /** The TLS layer over this stream's socket: engine, record buffers, handshake. */
    private final TlsTransport tls;

    /**
     * A TLS stream on {@code channel} (put in non-blocking mode) and {@code loop}. If the channel is connected
     * already, the handshake starts on the loop's next iteration; otherwise after {@link #connect}. Any thread.
     *
     * @param serverSide     true to act as the TLS server (the context must hold a key)
     * @param serverHostname client side: the name the server's certificate must match, also sent as SNI
     *                       (unless an IP address); ignored on the server side
     * @throws NullPointerException if {@code ctx} is null, or {@code serverHostname} is null on the client side
     */
    public SSLIOStream(SocketChannel channel, IOLoop loop, StreamOptions options, SSLContext ctx,
                       boolean serverSide, String serverHostname) {
        super(channel, loop, options,
                (core, below) -> new TlsTransport(below, core, newEngine(portOf(channel), ctx, serverSide, serverHostname)));
        tls = (TlsTransport) core.transport;
        if (channel.isConnected()) {
            // If the loop closes before it starts the handshake, the stream closes: waitForHandshake fails.
            handOff(tls::startHandshakeOnLoop, () -> close(loopClosed()));
        }
    }

    /**
     * A TLS stream on a native socket (see {@link NativeStreams}). If {@code connected}, the handshake starts on
     * the loop's next iteration; otherwise after {@link #connect}. {@code port}: the peer's, or -1.
     */
    @SuppressWarnings("this-escape") // as the public constructor
    SSLIOStream(Function<StreamCore, Transport> socketTransport, boolean connected, int port, IOLoop loop,
                StreamOptions options, SSLContext ctx, boolean serverSide, String serverHostname) {
        super(null, socketTransport, loop, options, (core, below) -> new TlsTransport(below, core,
                newEngine(port, ctx, serverSide, serverHostname)));
        tls = (TlsTransport) core.transport;
        if (connected) {
            handOff(tls::startHandshakeOnLoop, () -> close(loopClosed()));
        }
    }

    /** The peer's port of a connected channel (it keys the client's session cache), else -1. */
    private static int portOf(SocketChannel channel) {
        try {
            return channel.getRemoteAddress() instanceof InetSocketAddress a ? a.getPort() : -1;
        } catch (IOException e) {
            return -1;
        }
    }

    /** An engine for one connection: client side verifies the certificate and host name; TLS 1.3 and 1.2 only. */
    private static SSLEngine newEngine(int port, SSLContext ctx, boolean serverSide, String serverHostname) {
        Objects.requireNonNull(ctx, "ctx");
        SSLEngine engine;
        if (serverSide) {
            engine = ctx.createSSLEngine();
            engine.setUseClientMode(false);
        } else {
            Objects.requireNonNull(serverHostname, "serverHostname");
            engine = ctx.createSSLEngine(serverHostname, port);
            engine.setUseClientMode(true);
            SSLParameters params = engine.getSSLParameters();
            params.setEndpointIdentificationAlgorithm("HTTPS");
            engine.setSSLParameters(params);
        }
        List<String> protocols = new ArrayList<>();
        for (String p : engine.getEnabledProtocols()) {
            if (p.equals("TLSv1.3") || p.equals("TLSv1.2")) {
                protocols.add(p);
            }
        }
        if (protocols.isEmpty()) {
            throw new IllegalArgumentException("the SSLContext enables neither TLSv1.3 nor TLSv1.2: "
                    + String.join(", ", engine.getEnabledProtocols()));
        }
        engine.setEnabledProtocols(protocols.toArray(String[]::new));
        return engine;
    }

    /**
     * Completes with this stream once the TLS handshake is done (at once if it is); fails with
     * {@link StreamClosedException} (caused by the {@link SSLException}, if that was the reason) if the stream
     * closes first. Each call returns a new dependent future of the one handshake. Any thread; completes on
     * the loop thread.
     */
    public CompletableFuture<SSLIOStream> waitForHandshake() {
        CompletableFuture<SSLIOStream> f = new CompletableFuture<>();
        tls.handshake().whenComplete((v, e) -> {
            if (e == null) {
                f.complete(this);
            } else {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    /**
     * Limits how long the handshake may take, counted from its start: if it has not finished by then, the
     * stream closes with an {@link SSLHandshakeException} saying so as its {@link #error()}, so a peer that
     * sends part of a handshake (or nothing) and goes quiet does not hold the connection. The default is
     * {@link #DEFAULT_HANDSHAKE_TIMEOUT}. Applies to a handshake under way too (from when it started); no
     * effect once it is done. Any thread.
     *
     * @param timeout the limit; null or zero for none
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public void setHandshakeTimeout(Duration timeout) {
        if (timeout != null && timeout.isNegative()) {
            throw new IllegalArgumentException("handshake timeout must not be negative (null or zero: none): " + timeout);
        }
        Duration limit = timeout == null || timeout.isZero() ? null : timeout;
        onLoop(() -> tls.setHandshakeTimeout(limit), () -> { }); // a closed loop: moot, no handshake will run
    }

    /**
     * The engine's current TLS session (protocol, cipher suite, peer certificates once the handshake is
     * done). Loop thread (a snapshot elsewhere).
     */
    public SSLSession session() {
        return tls.engine().getSession();
    }
}
