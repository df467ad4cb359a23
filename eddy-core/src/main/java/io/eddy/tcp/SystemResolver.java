package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/** {@link Resolver#system()}: {@link InetAddress#getAllByName} on a virtual thread. Thread-safe. */
final class SystemResolver implements Resolver {

    /** A blocking name lookup; replaceable so that tests can see where it runs. */
    @FunctionalInterface
    interface Lookup {
        /** All addresses of {@code host}; blocks. */
        InetAddress[] lookup(String host) throws UnknownHostException;
    }

    static final SystemResolver INSTANCE = new SystemResolver(InetAddress::getAllByName);

    private static final Executor VIRTUAL_THREAD = task -> Thread.ofVirtual().name("eddy-resolver").start(task);

    private final Lookup lookup;

    SystemResolver(Lookup lookup) {
        this.lookup = lookup;
    }

    @Override
    public CompletableFuture<List<InetSocketAddress>> resolve(String host, int port, ProtocolFamily family) {
        Objects.requireNonNull(host, "host");
        if (host.isBlank()) {
            throw new IllegalArgumentException("host is empty: \"" + host + "\"");
        }
        Sockets.checkPort(port);
        Sockets.checkFamily(family);
        if (Sockets.isValidIp(host)) {
            try {
                return CompletableFuture.completedFuture(select(host, port, family, Sockets.literal(host)));
            } catch (UnknownHostException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        Callable<List<InetSocketAddress>> task = () -> select(host, port, family, lookup.lookup(host));
        IOLoop loop = IOLoop.current(false);
        if (loop != null && loop.inLoopThread()) {
            return loop.runInExecutor(VIRTUAL_THREAD, task);
        }
        CompletableFuture<List<InetSocketAddress>> future = new CompletableFuture<>();
        VIRTUAL_THREAD.execute(() -> {
            try {
                future.complete(task.call());
            } catch (Throwable t) {
                future.completeExceptionally(t);
            }
        });
        return future;
    }

    private static List<InetSocketAddress> select(String host, int port, ProtocolFamily family,
                                                  InetAddress... addresses) throws UnknownHostException {
        Set<InetAddress> kept = new LinkedHashSet<>();
        for (InetAddress a : addresses) {
            if (Sockets.matches(a, family)) {
                kept.add(a);
            }
        }
        if (kept.isEmpty()) {
            throw new UnknownHostException("no " + Sockets.familyName(family) + " address for host " + host);
        }
        List<InetSocketAddress> result = new ArrayList<>(kept.size());
        for (InetAddress a : kept) {
            result.add(new InetSocketAddress(a, port));
        }
        return List.copyOf(result);
    }

    @Override
    public String toString() {
        return "Resolver.system()";
    }
}
