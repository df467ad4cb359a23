package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.VirtualClock;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.StreamOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TCPClientTest {

    /** Loopback addresses for fake attempts: the fake connector never touches the network. */
    private static final InetSocketAddress V6 = new InetSocketAddress("::1", 9);
    private static final InetSocketAddress V6_OTHER = new InetSocketAddress("::1", 10);
    private static final InetSocketAddress V4 = new InetSocketAddress("127.0.0.1", 9);
    private static final Duration GUARD = Duration.ofSeconds(10);
    private static final long HAPPY_EYEBALLS_NANOS = TCPClient.INITIAL_CONNECT_TIMEOUT.toNanos();

    private final List<AutoCloseable> opened = new ArrayList<>();

    @AfterEach
    void closeEverything() throws Exception {
        Collections.reverse(opened);
        for (AutoCloseable c : opened) {
            c.close();
        }
        IOLoop.clearCurrent();
    }

    private <T extends AutoCloseable> T open(T resource) {
        opened.add(resource);
        return resource;
    }

    private IOLoop realLoop() {
        IOLoop loop = IOLoop.create();
        opened.add(() -> loop.close(true));
        return loop;
    }

    /** A loop whose time jumps to the next timer when idle. */
    private IOLoop virtualLoop() {
        IOLoop loop = IOLoop.builder().clock(new VirtualClock()).build();
        opened.add(() -> loop.close(true));
        return loop;
    }

    private ServerSocketChannel listener() throws IOException {
        return open(ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0)));
    }

    private static InetSocketAddress addressOf(ServerSocketChannel server) throws IOException {
        return (InetSocketAddress) server.getLocalAddress();
    }

    /** A resolver answering {@code addresses} for any host, and remembering the family it was asked for. */
    private static final class FixedResolver implements Resolver {
        final List<InetSocketAddress> addresses;
        final List<ProtocolFamily> families = new ArrayList<>();

        FixedResolver(InetSocketAddress... addresses) {
            this.addresses = List.of(addresses);
        }

        @Override
        public CompletableFuture<List<InetSocketAddress>> resolve(String host, int port, ProtocolFamily family) {
            families.add(family);
            return CompletableFuture.completedFuture(addresses);
        }
    }

    private record Attempt(InetSocketAddress address, long startedAt, CompletableFuture<IOStream> future) {
    }

    /** A connector that records every attempt (address, loop time) and delegates to {@code behaviour}. */
    private static final class Recorder implements Connector {
        final List<Attempt> attempts = new ArrayList<>();
        final Connector behaviour;

        Recorder(Connector behaviour) {
            this.behaviour = behaviour;
        }

        @Override
        public CompletableFuture<IOStream> connect(InetSocketAddress address, ConnectOptions options, IOLoop loop) {
            assertTrue(loop.inLoopThread(), "attempts start on the loop thread");
            CompletableFuture<IOStream> future = behaviour.connect(address, options, loop);
            attempts.add(new Attempt(address, loop.time(), future));
            return future;
        }

        List<InetSocketAddress> addresses() {
            return attempts.stream().map(Attempt::address).toList();
        }

        Attempt attempt(InetSocketAddress address) {
            return attempts.stream().filter(a -> a.address.equals(address)).findFirst().orElseThrow();
        }
    }

    /** A connector answering per address with {@code outcomes}; an unknown address hangs. */
    private static Recorder fake(Map<InetSocketAddress, Function<IOLoop, CompletableFuture<IOStream>>> outcomes) {
        return new Recorder((address, options, loop) ->
                outcomes.getOrDefault(address, l -> new CompletableFuture<>()).apply(loop));
    }

    /** A stream standing in for a connected one (its channel is never connected). */
    private IOStream token(IOLoop loop) {
        try {
            return open(new IOStream(SocketChannel.open(), loop, StreamOptions.defaults()));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Runs {@code fn} on the loop until its future completes. The guard keeps a broken test from hanging: on a
     * VirtualClock loop it fires (virtual time) only once nothing else is left to happen.
     */
    private static <T> T run(IOLoop loop, Callable<? extends CompletionStage<? extends T>> fn) throws Exception {
        return loop.runSync(fn, GUARD);
    }

    /** Runs {@code connect} on the loop and returns how the future it returns fails. */
    private static Throwable failure(IOLoop loop, Callable<CompletableFuture<IOStream>> connect) {
        return assertThrows(Exception.class, () -> run(loop, connect));
    }

    // ------------------------------------------------------------------ real connections

    @Test
    void connectsToAServerOnTheIpv4Loopback() throws Exception {
        IOLoop loop = realLoop();
        ServerSocketChannel server = listener();

        IOStream stream = open(run(loop, () -> new TCPClient().connect("127.0.0.1", addressOf(server).getPort())));

        assertEquals(addressOf(server), stream.remoteAddress());
        assertSame(loop, stream.loop());
        try (SocketChannel accepted = server.accept()) {
            assertEquals(stream.localAddress(), accepted.getRemoteAddress());
        }
    }

    @Test
    void theConnectedStreamCarriesAnEchoRoundTrip() throws Exception {
        IOLoop loop = realLoop();
        TCPServer server = new TCPServer((stream, address) ->
                stream.readUntil("\n".getBytes()).thenCompose(stream::write));
        loop.makeCurrent();
        server.listen(0, "127.0.0.1");
        opened.add(server::stop);
        int port = server.addresses().getFirst().getPort();

        byte[] echoed = run(loop, () -> new TCPClient().connect("127.0.0.1", port).thenCompose(stream -> {
            open(stream);
            return stream.write("hello, eddy\n".getBytes()).thenCompose(v -> stream.readUntil("\n".getBytes()));
        }));

        assertEquals("hello, eddy\n", new String(echoed, StandardCharsets.US_ASCII));
    }

    @Test
    void aRefusedIpv6AttemptLetsTheIpv4OneWinAtOnceNotAfter300ms() throws Exception {
        IOLoop loop = virtualLoop();
        ServerSocketChannel server = listener();
        int port = addressOf(server).getPort();
        InetSocketAddress v6 = new InetSocketAddress("::1", port); // nobody listens there
        InetSocketAddress v4 = new InetSocketAddress("127.0.0.1", port);
        Recorder recorder = new Recorder(TCPClient::openStream);
        TCPClient client = new TCPClient(new FixedResolver(v6, v4), recorder);

        IOStream stream = open(run(loop, () -> client.connect("localhost", port)));

        assertEquals(v4, stream.remoteAddress());
        assertTrue(loop.time() < HAPPY_EYEBALLS_NANOS, "won at " + loop.time() + " ns, not at the 300 ms timer");
        assertEquals(List.of(v6, v4), recorder.addresses());
        assertEquals(0, recorder.attempt(v4).startedAt(), "the IPv4 attempt started on the IPv6 failure");
        Throwable refused = recorder.attempt(v6).future().handle((s, e) -> e).join();
        assertInstanceOf(IOException.class, refused);
    }

    @Test
    void aRefusedConnectionFailsWithAConnectExceptionNamingTheAddress() throws Exception {
        IOLoop loop = realLoop();
        InetSocketAddress closed;
        try (ServerSocketChannel s = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            closed = addressOf(s);
        }
        Throwable error = failure(loop, () -> new TCPClient().connect("127.0.0.1", closed.getPort()));

        ConnectException refused = assertInstanceOf(ConnectException.class, error);
        assertTrue(refused.getMessage().startsWith("cannot connect to 127.0.0.1:" + closed.getPort() + ": "),
                refused.getMessage());
    }

    @Test
    void theSourceAddressIsTheLocalAddressOfTheConnectedStream() throws Exception {
        IOLoop loop = realLoop();
        ServerSocketChannel server = listener();
        InetSocketAddress source;
        try (SocketChannel probe = SocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            source = (InetSocketAddress) probe.getLocalAddress(); // a port free a moment ago
        }
        ConnectOptions options = ConnectOptions.defaults().withSourceAddress(source);

        IOStream stream = open(run(loop, () -> new TCPClient().connect("127.0.0.1", addressOf(server).getPort(),
                options)));

        assertEquals(source, stream.localAddress());
        try (SocketChannel accepted = server.accept()) {
            assertEquals(source, accepted.getRemoteAddress());
        }
    }

    @Test
    void aSourceAddressInUseFailsWithABindExceptionNamingIt() throws Exception {
        IOLoop loop = realLoop();
        ServerSocketChannel server = listener();
        InetSocketAddress busy = addressOf(listener());
        ConnectOptions options = ConnectOptions.defaults().withSourceAddress(busy);

        Throwable error = failure(loop, () -> new TCPClient().connect("127.0.0.1", addressOf(server).getPort(), options));

        BindException bind = assertInstanceOf(BindException.class, error);
        assertTrue(bind.getMessage().contains(busy.toString()), bind.getMessage());
    }

    @Test
    void cancellingARealAttemptClosesItsStreamAtOnce() throws Exception {
        IOLoop loop = realLoop();
        ServerSocketChannel server = listener();
        IOStream stream = open(TCPClient.newStream(addressOf(server), ConnectOptions.defaults(), loop));

        boolean closedByTheCancel = run(loop, () -> {
            CompletableFuture<IOStream> attempt = TCPClient.connecting(stream, addressOf(server));
            assertTrue(attempt.cancel(false), "the connect is still in progress");
            return CompletableFuture.completedFuture(stream.closed());
        });

        assertTrue(closedByTheCancel, "closed by the cancel itself, not by a later connect");
        try (SocketChannel accepted = server.accept()) {
            accepted.socket().setSoTimeout(10_000);
            assertEquals(-1, accepted.socket().getInputStream().read(), "the server sees the client close");
        }
    }

    @Test
    void connectCalledOffTheLoopThreadRunsItsAttemptsOnTheLoop() throws Exception {
        IOLoop loop = IOLoop.create();
        Thread loopThread = loop.startInNewThread("client-loop");
        opened.add(() -> loop.shutdown().get(10, TimeUnit.SECONDS));
        ServerSocketChannel server = listener();
        AtomicReference<Thread> attemptThread = new AtomicReference<>();
        TCPClient client = new TCPClient(new FixedResolver(addressOf(server)), (address, options, l) -> {
            attemptThread.set(Thread.currentThread());
            return TCPClient.openStream(address, options, l);
        });

        loop.makeCurrent();
        IOStream stream = open(client.connect("localhost", addressOf(server).getPort()).get(10, TimeUnit.SECONDS));

        assertSame(loopThread, attemptThread.get());
        assertSame(loop, stream.loop());
        assertEquals(addressOf(server), stream.remoteAddress());
    }

    // ------------------------------------------------------------------ Happy Eyeballs (fake attempts, virtual time)

    @Test
    void aHangingPrimaryLetsTheSecondaryStartAt300msAndWinAndTheLoserIsCancelled() throws Exception {
        IOLoop loop = virtualLoop();
        IOStream winner = token(loop);
        Recorder recorder = fake(Map.of(V4, l -> CompletableFuture.completedFuture(winner)));
        TCPClient client = new TCPClient(new FixedResolver(V6, V4), recorder);

        IOStream stream = run(loop, () -> client.connect("localhost", 80));

        assertSame(winner, stream);
        assertEquals(List.of(V6, V4), recorder.addresses());
        assertEquals(0, recorder.attempt(V6).startedAt());
        assertEquals(HAPPY_EYEBALLS_NANOS, recorder.attempt(V4).startedAt(), "the secondary family starts at 300 ms");
        assertTrue(recorder.attempt(V6).future().isCancelled(), "the hanging loser is abandoned");
        assertFalse(winner.closed());
    }

    @Test
    void aLoserThatConnectedTooIsClosed() throws Exception {
        IOLoop loop = virtualLoop();
        IOStream v6Stream = token(loop);
        IOStream v4Stream = token(loop);
        CompletableFuture<IOStream> v6Attempt = new CompletableFuture<>();
        Recorder recorder = fake(Map.of(
                V6, l -> v6Attempt,
                V4, l -> {
                    // Both connect in the same iteration: the IPv6 one is delivered first and wins.
                    v6Attempt.complete(v6Stream);
                    return CompletableFuture.completedFuture(v4Stream);
                }));
        TCPClient client = new TCPClient(new FixedResolver(V6, V4), recorder);

        IOStream stream = run(loop, () -> client.connect("localhost", 80));

        assertSame(v6Stream, stream);
        assertFalse(v6Stream.closed());
        assertTrue(v4Stream.closed(), "the connected loser is closed");
    }

    @Test
    void primaryAddressesAreTriedOneAfterAnotherAndAFailureStartsTheSecondaryAtOnce() throws Exception {
        IOLoop loop = virtualLoop();
        IOStream winner = token(loop);
        Recorder recorder = fake(Map.of(
                V6, l -> CompletableFuture.failedFuture(new ConnectException("refused (fake)")),
                V6_OTHER, l -> CompletableFuture.completedFuture(winner)));
        TCPClient client = new TCPClient(new FixedResolver(V6, V6_OTHER, V4), recorder);

        IOStream stream = run(loop, () -> client.connect("localhost", 80));

        assertSame(winner, stream);
        assertEquals(List.of(V6, V6_OTHER, V4), recorder.addresses(), "next primary and the secondary, both on the failure");
        assertEquals(0, recorder.attempt(V4).startedAt());
        assertEquals(0, loop.time());
        assertTrue(recorder.attempt(V4).future().isCancelled(), "the secondary attempt in flight is abandoned");
    }

    @Test
    void whenEveryAddressFailsTheFutureFailsWithTheLastError() throws Exception {
        IOLoop loop = virtualLoop();
        ConnectException first = new ConnectException("first (fake)");
        ConnectException second = new ConnectException("second (fake)");
        ConnectException last = new ConnectException("last (fake)");
        Recorder recorder = fake(Map.of(
                V6, l -> CompletableFuture.failedFuture(first),
                V6_OTHER, l -> CompletableFuture.failedFuture(second),
                V4, l -> CompletableFuture.failedFuture(last)));
        TCPClient client = new TCPClient(new FixedResolver(V6, V6_OTHER, V4), recorder);

        Throwable error = failure(loop, () -> client.connect("localhost", 80));

        assertSame(last, error);
        assertEquals(List.of(V6, V6_OTHER, V4), recorder.addresses());
        assertEquals(0, loop.time(), "no waiting for the 300 ms timer");
    }

    @Test
    void theTimeoutFailsWithTimeoutExceptionAndAbandonsEveryAttempt() throws Exception {
        IOLoop loop = virtualLoop();
        Recorder recorder = fake(Map.of()); // every attempt hangs
        TCPClient client = new TCPClient(new FixedResolver(V6, V4), recorder);

        Throwable error = failure(loop, () -> client.connect("localhost", 80,
                ConnectOptions.defaults().withTimeout(Duration.ofSeconds(1))));

        assertInstanceOf(TimeoutException.class, error);
        assertEquals("connecting to localhost:80 timed out after PT1S", error.getMessage());
        assertEquals(Duration.ofSeconds(1).toNanos(), loop.time());
        assertEquals(List.of(V6, V4), recorder.addresses());
        assertTrue(recorder.attempts.stream().allMatch(a -> a.future().isCancelled()), "every attempt is abandoned");
    }

    @Test
    void aResolverThatNeverAnswersTimesOut() throws Exception {
        IOLoop loop = virtualLoop();
        TCPClient client = new TCPClient((host, port, family) -> new CompletableFuture<>(), fake(Map.of()));

        Throwable error = failure(loop, () -> client.connect("localhost", 80,
                ConnectOptions.defaults().withTimeout(Duration.ofMillis(50))));

        assertInstanceOf(TimeoutException.class, error);
        assertEquals("connecting to localhost:80 timed out after PT0.05S", error.getMessage());
        assertEquals(Duration.ofMillis(50).toNanos(), loop.time());
    }

    @Test
    void cancellingTheFutureAbandonsTheAttemptsAndTheSecondaryNeverStarts() throws Exception {
        IOLoop loop = virtualLoop();
        Recorder recorder = fake(Map.of());
        TCPClient client = new TCPClient(new FixedResolver(V6, V4), recorder);

        Throwable error = failure(loop, () -> {
            CompletableFuture<IOStream> future = client.connect("localhost", 80);
            loop.callLater(Duration.ofMillis(100), () -> future.cancel(false));
            return future;
        });
        run(loop, () -> {
            CompletableFuture<Void> later = new CompletableFuture<>();
            loop.callLater(Duration.ofSeconds(1), () -> later.complete(null));
            return later;
        });

        assertInstanceOf(CancellationException.class, error);
        assertEquals(List.of(V6), recorder.addresses(), "the 300 ms timer was cancelled with the future");
        assertTrue(recorder.attempt(V6).future().isCancelled());
    }

    @Test
    void theFamilyOptionKeepsOnlyAddressesOfThatFamily() throws Exception {
        IOLoop loop = virtualLoop();
        IOStream winner = token(loop);
        Recorder recorder = fake(Map.of(V4, l -> CompletableFuture.completedFuture(winner)));
        FixedResolver resolver = new FixedResolver(V6, V4); // ignores the family it is asked for
        TCPClient client = new TCPClient(resolver, recorder);

        IOStream stream = run(loop, () -> client.connect("localhost", 80,
                ConnectOptions.defaults().withFamily(StandardProtocolFamily.INET)));

        assertSame(winner, stream);
        assertEquals(List.of(StandardProtocolFamily.INET), resolver.families);
        assertEquals(List.of(V4), recorder.addresses());
        assertEquals(0, loop.time());
    }

    // ------------------------------------------------------------------ resolver failures

    @Test
    void aResolverFailureFailsTheFuture() throws Exception {
        IOLoop loop = virtualLoop();
        UnknownHostException unknown = new UnknownHostException("nowhere.invalid (fake)");
        Recorder recorder = fake(Map.of());
        TCPClient client = new TCPClient((host, port, family) -> CompletableFuture.failedFuture(unknown), recorder);

        Throwable error = failure(loop, () -> client.connect("nowhere.invalid", 80));

        assertSame(unknown, error);
        assertTrue(recorder.attempts.isEmpty());
    }

    @Test
    void aResolverAnsweringNoAddressFailsWithUnknownHostException() throws Exception {
        IOLoop loop = virtualLoop();
        TCPClient client = new TCPClient(new FixedResolver(), fake(Map.of()));

        Throwable error = failure(loop, () -> client.connect("empty.invalid", 80));

        UnknownHostException unknown = assertInstanceOf(UnknownHostException.class, error);
        assertTrue(unknown.getMessage().contains("empty.invalid"), unknown.getMessage());
    }

    // ------------------------------------------------------------------ arguments and options

    @Test
    void badArgumentsFailAtCallTime() {
        TCPClient client = new TCPClient(new FixedResolver(V4), fake(Map.of()));

        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> client.connect("localhost", 0));
        assertTrue(zero.getMessage().contains("0"), zero.getMessage());
        IllegalArgumentException big = assertThrows(IllegalArgumentException.class, () -> client.connect("localhost", 65536));
        assertTrue(big.getMessage().contains("65536"), big.getMessage());
        assertThrows(IllegalArgumentException.class, () -> client.connect("", 80));
        assertThrows(NullPointerException.class, () -> client.connect(null, 80));
        assertThrows(NullPointerException.class, () -> client.connect("localhost", 80, null));
        assertThrows(NullPointerException.class, () -> new TCPClient(null));
    }

    @Test
    void connectOptionsDefaultsAndWithers() throws Exception {
        ConnectOptions d = ConnectOptions.defaults();
        assertNull(d.family());
        assertNull(d.sslContext());
        assertEquals(StreamOptions.defaults(), d.streamOptions());
        assertNull(d.sourceAddress());
        assertNull(d.timeout());

        SSLContext ssl = SSLContext.getInstance("TLS");
        StreamOptions streams = StreamOptions.defaults();
        InetSocketAddress source = new InetSocketAddress("127.0.0.1", 0);
        ConnectOptions all = d.withFamily(StandardProtocolFamily.INET6).withSslContext(ssl).withStreamOptions(streams)
                .withSourceAddress(source).withTimeout(Duration.ofSeconds(3));
        assertEquals(new ConnectOptions(StandardProtocolFamily.INET6, ssl, streams, source, Duration.ofSeconds(3)), all);
    }

    @Test
    void connectOptionsRejectBadValuesNamingThem() {
        ConnectOptions d = ConnectOptions.defaults();
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> d.withTimeout(Duration.ZERO));
        assertTrue(zero.getMessage().contains("timeout") && zero.getMessage().contains("PT0S"), zero.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> d.withTimeout(Duration.ofSeconds(-1)));
        assertTrue(negative.getMessage().contains("PT-1S"), negative.getMessage());
        NullPointerException streams = assertThrows(NullPointerException.class, () -> d.withStreamOptions(null));
        assertTrue(streams.getMessage().contains("streamOptions"), streams.getMessage());
        IllegalArgumentException unix = assertThrows(IllegalArgumentException.class,
                () -> d.withFamily(StandardProtocolFamily.UNIX));
        assertTrue(unix.getMessage().contains("UNIX"), unix.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> d.withSourceAddress(InetSocketAddress.createUnresolved("localhost", 0)));
    }
}
