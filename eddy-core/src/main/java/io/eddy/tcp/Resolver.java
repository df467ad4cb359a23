package io.eddy.tcp;

import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Turns a host name into socket addresses. Implementations must not block the calling thread.
 */
public interface Resolver {

    /**
     * The addresses of {@code host} with {@code port}, in preference order.
     *
     * @param family {@link java.net.StandardProtocolFamily#INET}, {@code INET6}, or null for both
     * @return fails with {@link java.net.UnknownHostException} when the name has no address of that family
     */
    CompletableFuture<List<InetSocketAddress>> resolve(String host, int port, ProtocolFamily family);
}
