package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResolverTest {

    private static final InetAddress V4 = InetAddress.ofLiteral("127.0.0.1");
    private static final InetAddress V6 = InetAddress.ofLiteral("::1");

    private static <T> T get(CompletableFuture<T> future) throws Exception {
        return future.get(10, TimeUnit.SECONDS);
    }

    private static Throwable failure(CompletableFuture<?> future) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> future.get(10, TimeUnit.SECONDS));
        return e.getCause();
    }

    /** A system resolver whose lookup answers {@code addresses} for any host. */
    private static Resolver answering(InetAddress... addresses) {
        return new SystemResolver(host -> addresses.clone());
    }

    @Test
    void theSystemResolverResolvesLocalhostToTheLoopbackAddress() throws Exception {
        List<InetSocketAddress> addresses = get(Resolver.system().resolve("localhost", 8080, null));

        assertTrue(addresses.contains(new InetSocketAddress(V4, 8080)), addresses.toString());
        assertTrue(addresses.stream().allMatch(a -> a.getAddress().isLoopbackAddress()), addresses.toString());
    }

    @Test
    void theLookupRunsOnAVirtualThreadNotTheCallingThread() throws Exception {
        AtomicReference<Thread> lookupThread = new AtomicReference<>();
        Resolver resolver = new SystemResolver(host -> {
            lookupThread.set(Thread.currentThread());
            return InetAddress.getAllByName(host);
        });

        get(resolver.resolve("localhost", 80, null));

        assertNotSame(Thread.currentThread(), lookupThread.get());
        assertTrue(lookupThread.get().isVirtual(), lookupThread.get().toString());
    }

    @Test
    void calledOnALoopThreadTheFutureCompletesOnThatLoopThread() throws Exception {
        try (IOLoop loop = IOLoop.create()) {
            AtomicReference<Thread> loopThread = new AtomicReference<>();
            AtomicReference<Thread> completedOn = new AtomicReference<>();

            List<InetSocketAddress> addresses = loop.runSync(() -> {
                loopThread.set(Thread.currentThread());
                return Resolver.system().resolve("localhost", 80, null).thenApply(result -> {
                    completedOn.set(Thread.currentThread());
                    return result;
                });
            });

            assertTrue(addresses.contains(new InetSocketAddress(V4, 80)));
            assertSame(loopThread.get(), completedOn.get());
        }
    }

    @Test
    void anUnknownHostFailsFastWithAnUnknownHostExceptionNamingTheHost() {
        Throwable e = failure(Resolver.system().resolve("no-such-host.invalid", 80, null));

        assertInstanceOf(UnknownHostException.class, e);
        assertTrue(e.getMessage().contains("no-such-host.invalid"), e.getMessage());
    }

    @Test
    void resultsAreFilteredByFamilyInTheOrderGivenWithoutDuplicates() throws Exception {
        Resolver resolver = answering(V6, V4, V6);

        assertEquals(List.of(new InetSocketAddress(V6, 1), new InetSocketAddress(V4, 1)), get(resolver.resolve("h", 1, null)));
        assertEquals(List.of(new InetSocketAddress(V4, 2)), get(resolver.resolve("h", 2, StandardProtocolFamily.INET)));
        assertEquals(List.of(new InetSocketAddress(V6, 3)), get(resolver.resolve("h", 3, StandardProtocolFamily.INET6)));
    }

    @Test
    void noAddressOfTheFamilyFailsWithAnUnknownHostExceptionNamingTheHost() {
        Throwable e = failure(answering(V4).resolve("only-v4", 80, StandardProtocolFamily.INET6));

        assertInstanceOf(UnknownHostException.class, e);
        assertTrue(e.getMessage().contains("only-v4") && e.getMessage().contains("IPv6"), e.getMessage());
    }

    @Test
    void ipLiteralsResolveAtOnceWithoutALookup() throws Exception {
        Resolver resolver = new SystemResolver(host -> {
            throw new AssertionError("looked up " + host);
        });

        CompletableFuture<List<InetSocketAddress>> v4 = resolver.resolve("127.0.0.1", 80, null);
        CompletableFuture<List<InetSocketAddress>> v6 = resolver.resolve("::1", 81, StandardProtocolFamily.INET6);
        CompletableFuture<List<InetSocketAddress>> wrongFamily = resolver.resolve("127.0.0.1", 82, StandardProtocolFamily.INET6);

        assertTrue(v4.isDone() && v6.isDone() && wrongFamily.isDone());
        assertEquals(List.of(new InetSocketAddress(V4, 80)), v4.getNow(null));
        assertEquals(List.of(new InetSocketAddress(V6, 81)), v6.getNow(null));
        assertInstanceOf(UnknownHostException.class, failure(wrongFamily));
    }

    @Test
    void badArgumentsThrowAtCallTimeNamingTheValue() {
        Resolver resolver = Resolver.system();

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> resolver.resolve("localhost", -1, null));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> resolver.resolve("localhost", 65536, null));
        assertTrue(e.getMessage().contains("65536"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> resolver.resolve("localhost", 80, StandardProtocolFamily.UNIX));
        assertTrue(e.getMessage().contains("UNIX"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> resolver.resolve("", 80, null));
        assertThrows(NullPointerException.class, () -> resolver.resolve(null, 80, null));
    }
}
