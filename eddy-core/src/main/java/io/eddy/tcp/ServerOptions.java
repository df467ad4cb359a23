package io.eddy.tcp;

import io.eddy.iostream.SSLIOStream;
import io.eddy.iostream.StreamOptions;

import javax.net.ssl.SSLContext;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link TCPServer} listens and what streams it makes.
 *
 * @param sslContext    TLS for every connection, or null for plain TCP
 * @param streamOptions options of every accepted stream
 * @param backlog       the listening sockets' backlog: connections the kernel holds until they are accepted
 *                      (it caps the value at its own maximum, Linux's {@code net.core.somaxconn});
 *                      {@link #DEFAULT_BACKLOG} by default
 * @param reusePort     bind with SO_REUSEPORT, so that every loop of {@link TCPServer#start(int)} gets its
 *                      own listening socket and the kernel spreads connections over them
 * @param handshakeTimeout with TLS, how long a connection's handshake may take before the connection is
 *                      closed (a peer that sends part of a ClientHello, or nothing, and goes quiet); null or
 *                      zero for no limit
 */
public record ServerOptions(SSLContext sslContext, StreamOptions streamOptions, int backlog, boolean reusePort,
                            Duration handshakeTimeout) {

    /**
     * The default backlog: the system's maximum, {@code /proc/sys/net/core/somaxconn} on Linux (4,096 since
     * Linux 5.4), else 4,096. SPEC (and Tornado) say 128, but a burst of more connections than the backlog
     * while the loop is busy overflows the accept queue; Linux then answers with SYN cookies, and a connection
     * rebuilt from a cookie can silently lose the bytes its client sent before the overflow cleared (a TLS
     * ClientHello trickled a byte at a time arrived without its first byte). A larger queue costs nothing until
     * it is used. Netty makes the same choice.
     */
    public static final int DEFAULT_BACKLOG = systemMaxBacklog();

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

    /**
     * No TLS, {@link StreamOptions#defaults()}, backlog {@link #DEFAULT_BACKLOG}, no SO_REUSEPORT, a 10 s
     * handshake timeout.
     */
    public static ServerOptions defaults() {
        return new ServerOptions(null, StreamOptions.defaults(), DEFAULT_BACKLOG, false);
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

    private static int systemMaxBacklog() {
        int fallback = 4096;
        // Line by line: Files.readString stops after the first read of a /proc file, which can be one byte.
        try (BufferedReader in = Files.newBufferedReader(Path.of("/proc/sys/net/core/somaxconn"))) {
            String line = in.readLine();
            int max = line == null ? 0 : Integer.parseInt(line.strip());
            return max > 0 ? max : fallback;
        } catch (IOException | NumberFormatException | SecurityException e) {
            return fallback; // not Linux, or /proc is hidden
        }
    }
}
