package io.eddy.tcp;

import io.eddy.iostream.SSLIOStream;
import io.eddy.iostream.StreamOptions;

import javax.net.ssl.SSLContext;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link TCPClient} connects and what stream it makes. Immutable; the withers return copies.
 *
 * <pre>{@code
 * ConnectOptions options = ConnectOptions.defaults()
 *         .withFamily(StandardProtocolFamily.INET)
 *         .withTimeout(Duration.ofSeconds(5));
 * }</pre>
 *
 * @param family        {@link StandardProtocolFamily#INET}, {@link StandardProtocolFamily#INET6}, or null for
 *                      any: passed to the {@link Resolver}, and only addresses of that family are tried
 * @param sslContext    TLS for the connection (the stream is then an {@link io.eddy.iostream.SSLIOStream}
 *                      that verified the server's certificate and host name), or null for plain TCP
 * @param streamOptions options of the connected stream
 * @param sourceAddress the local address (and port: 0 for any) every attempt's socket binds to before
 *                      connecting, or null to let the system choose
 * @param timeout       the deadline for the whole connect, resolving included, or null for none; when it
 *                      passes, the future fails with {@link java.util.concurrent.TimeoutException}
 * @param handshakeTimeout with TLS, how long the handshake may take (from its start) before the connect fails
 *                      with {@link io.eddy.iostream.StreamClosedException} caused by an
 *                      {@link javax.net.ssl.SSLHandshakeException}; null or zero for no limit
 */
public record ConnectOptions(ProtocolFamily family, SSLContext sslContext, StreamOptions streamOptions,
                             InetSocketAddress sourceAddress, Duration timeout, Duration handshakeTimeout) {

    /**
     * Checks the options.
     *
     * @throws NullPointerException     if {@code streamOptions} is null
     * @throws IllegalArgumentException naming the value, if {@code family} is neither null, INET nor INET6,
     *                                  {@code sourceAddress} is unresolved, or {@code timeout} is zero or
     *                                  negative, or {@code handshakeTimeout} is negative
     */
    public ConnectOptions {
        Objects.requireNonNull(streamOptions, "streamOptions");
        if (family != null && family != StandardProtocolFamily.INET && family != StandardProtocolFamily.INET6) {
            throw new IllegalArgumentException("family must be INET, INET6 or null (any): " + family);
        }
        if (sourceAddress != null && sourceAddress.isUnresolved()) {
            throw new IllegalArgumentException("sourceAddress must be resolved: " + sourceAddress);
        }
        if (timeout != null && (timeout.isZero() || timeout.isNegative())) {
            throw new IllegalArgumentException("timeout must be positive (or null for none): " + timeout);
        }
        if (handshakeTimeout != null && handshakeTimeout.isNegative()) {
            throw new IllegalArgumentException("handshakeTimeout must not be negative (null or zero: none): "
                    + handshakeTimeout);
        }
    }

    /** The options of SPEC's five fields, with the default handshake timeout (10 s). */
    public ConnectOptions(ProtocolFamily family, SSLContext sslContext, StreamOptions streamOptions,
                          InetSocketAddress sourceAddress, Duration timeout) {
        this(family, sslContext, streamOptions, sourceAddress, timeout, SSLIOStream.DEFAULT_HANDSHAKE_TIMEOUT);
    }

    /** Any family, no TLS, {@link StreamOptions#defaults()}, no source address, no timeout, a 10 s handshake timeout. */
    public static ConnectOptions defaults() {
        return new ConnectOptions(null, null, StreamOptions.defaults(), null, null);
    }

    /** A copy with {@code family} changed (INET, INET6, or null for any). */
    public ConnectOptions withFamily(ProtocolFamily family) {
        return new ConnectOptions(family, sslContext, streamOptions, sourceAddress, timeout, handshakeTimeout);
    }

    /** A copy with {@code sslContext} changed (null: plain TCP). */
    public ConnectOptions withSslContext(SSLContext sslContext) {
        return new ConnectOptions(family, sslContext, streamOptions, sourceAddress, timeout, handshakeTimeout);
    }

    /** A copy with {@code streamOptions} changed. */
    public ConnectOptions withStreamOptions(StreamOptions streamOptions) {
        return new ConnectOptions(family, sslContext, streamOptions, sourceAddress, timeout, handshakeTimeout);
    }

    /** A copy with {@code sourceAddress} changed (null: the system chooses). */
    public ConnectOptions withSourceAddress(InetSocketAddress sourceAddress) {
        return new ConnectOptions(family, sslContext, streamOptions, sourceAddress, timeout, handshakeTimeout);
    }

    /** A copy with {@code timeout} changed (null: none). */
    public ConnectOptions withTimeout(Duration timeout) {
        return new ConnectOptions(family, sslContext, streamOptions, sourceAddress, timeout, handshakeTimeout);
    }

    /** A copy with {@code handshakeTimeout} changed (null or zero: no limit). */
    public ConnectOptions withHandshakeTimeout(Duration handshakeTimeout) {
        return new ConnectOptions(family, sslContext, streamOptions, sourceAddress, timeout, handshakeTimeout);
    }
}
