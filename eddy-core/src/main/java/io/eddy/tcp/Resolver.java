package io.eddy.tcp;

import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Turns a host name into socket addresses. Implementations must not block the calling thread.
 *
 * <pre>{@code
 * Resolver.system().resolve("localhost", 8888, null)
 *         .thenAccept(addresses -> ...);
 * }</pre>
 */
public interface Resolver {

    /**
     * The addresses of {@code host} with {@code port}, in preference order.
     *
     * @param family {@link java.net.StandardProtocolFamily#INET}, {@code INET6}, or null for both
     * @return fails with {@link java.net.UnknownHostException} when the name has no address of that family
     */
    CompletableFuture<List<InetSocketAddress>> resolve(String host, int port, ProtocolFamily family);

    /**
     * The operating system's resolver: {@link java.net.InetAddress#getAllByName} (hosts file, then DNS,
     * with the JDK's cache), run on a new virtual thread, never on the calling thread. Results keep the
     * order the JDK gives, filtered by family, without duplicates. An IP literal resolves to itself
     * at once, without a lookup. Called on a loop thread, the future completes on that loop thread;
     * otherwise on the lookup's thread. Thread-safe; one shared instance.
     *
     * <p>{@code resolve} throws {@link NullPointerException} for a null host,
     * {@link IllegalArgumentException} for an empty host, a port outside 0 to 65535 or a family other
     * than INET, INET6 or null; every lookup failure arrives through the future
     * ({@link java.net.UnknownHostException} naming the host).
     */
    static Resolver system() {
        return SystemResolver.INSTANCE;
    }
}
