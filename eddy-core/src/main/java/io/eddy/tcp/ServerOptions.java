package io.eddy.tcp;

import io.eddy.iostream.StreamOptions;

import javax.net.ssl.SSLContext;
import java.util.Objects;

/**
 * How a {@link TCPServer} listens and what streams it makes.
 *
 * @param sslContext    TLS for every connection, or null for plain TCP
 * @param streamOptions options of every accepted stream
 * @param backlog       the listening sockets' backlog
 * @param reusePort     bind with SO_REUSEPORT, so that every loop of {@link TCPServer#start(int)} gets its
 *                      own listening socket and the kernel spreads connections over them
 */
public record ServerOptions(SSLContext sslContext, StreamOptions streamOptions, int backlog, boolean reusePort) {

    /**
     * @throws IllegalArgumentException if {@code backlog} is not positive
     */
    public ServerOptions {
        Objects.requireNonNull(streamOptions, "streamOptions");
        if (backlog <= 0) {
            throw new IllegalArgumentException("backlog must be positive: " + backlog);
        }
    }

    /** No TLS, {@link StreamOptions#defaults()}, backlog 128, no SO_REUSEPORT. */
    public static ServerOptions defaults() {
        return new ServerOptions(null, StreamOptions.defaults(), 128, false);
    }

    /** A copy with {@code sslContext} changed (null: plain TCP). */
    public ServerOptions withSslContext(SSLContext sslContext) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort);
    }

    /** A copy with {@code streamOptions} changed. */
    public ServerOptions withStreamOptions(StreamOptions streamOptions) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort);
    }

    /** A copy with {@code backlog} changed. */
    public ServerOptions withBacklog(int backlog) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort);
    }

    /** A copy with {@code reusePort} changed. */
    public ServerOptions withReusePort(boolean reusePort) {
        return new ServerOptions(sslContext, streamOptions, backlog, reusePort);
    }
}
