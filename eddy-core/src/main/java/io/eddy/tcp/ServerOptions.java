package io.eddy.tcp;

import io.eddy.iostream.SSLIOStream;
import io.eddy.iostream.StreamOptions;

import javax.net.ssl.SSLContext;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link TCPServer} listens and what streams it makes.
 *
 * @param sslContext    TLS for every connection, or null for plain TCP
 * @param streamOptions options of every accepted stream
 * @param backlog       the listening sockets' backlog
 * @param reusePort     bind with SO_REUSEPORT, so that every loop of {@link TCPServer#start(int)} gets its
 *                      own listening socket and the kernel spreads connections over them
 * @param handshakeTimeout with TLS, how long a connection's handshake may take before the connection is
 *                      closed (a peer that sends part of a ClientHello, or nothing, and goes quiet); null or
 *                      zero for no limit
 */
public record ServerOptions(SSLContext sslContext, StreamOptions streamOptions, int backlog, boolean reusePort,
                            Duration handshakeTimeout) {

    /**
     * @throws IllegalArgumentException if {@code backlog} is not positive, or {@code handshakeTimeout} negative
     */
    public ServerOptions {
        Objects.requireNonNull(streamOptions, "streamOptions");
        if (backlog <= 0) {
            throw new IllegalArgumentException("backlog must be positive: " + backlog);
        }
        if (handshakeTimeout != null && handshakeTimeout.isNegative()) {
            throw new IllegalArgumentException("handshakeTimeout must not be negative (null or zero: none): "
                    + handshakeTimeout);
        }
    }

    /** The options of SPEC's four fields, with the default handshake timeout (10 s). */
    public ServerOptions(SSLContext sslContext, StreamOptions streamOptions, int backlog, boolean reusePort) {
        this(sslContext, streamOptions, backlog, reusePort, SSLIOStream.DEFAULT_HANDSHAKE_TIMEOUT);
    }

    /** No TLS, {@link StreamOptions#defaults()}, backlog 128, no SO_REUSEPORT, a 10 s handshake timeout. */
    public static ServerOptions defaults() {
        return new ServerOptions(null, StreamOptions.defaults(), 128, false);
    }

    /** A copy with {@code sslContext} changed (null: plain TCP). */
    public ServerOptions withSslContext(SSLContext sslContext) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort, handshakeTimeout);
    }

    /** A copy with {@code streamOptions} changed. */
    public ServerOptions withStreamOptions(StreamOptions streamOptions) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort, handshakeTimeout);
    }

    /** A copy with {@code backlog} changed. */
    public ServerOptions withBacklog(int backlog) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort, handshakeTimeout);
    }

    /** A copy with {@code reusePort} changed. */
    public ServerOptions withReusePort(boolean reusePort) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort, handshakeTimeout);
    }

    /** A copy with {@code handshakeTimeout} changed (null or zero: no limit). */
    public ServerOptions withHandshakeTimeout(Duration handshakeTimeout) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort, handshakeTimeout);
    }
}
