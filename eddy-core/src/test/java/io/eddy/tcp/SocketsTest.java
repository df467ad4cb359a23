package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.VirtualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SocketsTest {

    private static final InetAddress V4 = InetAddress.ofLiteral("127.0.0.1");
    private static final InetAddress V6 = InetAddress.ofLiteral("::1");

    /** Everything a test opens; closed after it. */
    private final List<AutoCloseable> opened = new ArrayList<>();

    @AfterEach
    void closeEverything() throws Exception {
        for (AutoCloseable c : opened.reversed()) {
            c.close();
        }
    }

    private <T extends AutoCloseable> T open(T c) {
        opened.add(c);
        return c;
    }

    private List<ServerSocketChannel> bind(int port, String address, java.net.ProtocolFamily family) throws IOException {
        List<ServerSocketChannel> servers = Sockets.bindSockets(port, address, family, 128, false);
        servers.forEach(this::open);
        return servers;
    }

    private static InetSocketAddress local(ServerSocketChannel s) throws IOException {
        return (InetSocketAddress) s.getLocalAddress();
    }

    /** A blocking client connected to {@code address} at the port of {@code server}. */
    private SocketChannel connect(InetAddress address, ServerSocketChannel server) throws IOException {
        return open(SocketChannel.open(new InetSocketAddress(address, local(server).getPort())));
    }

    private IOLoop loop(IOLoop loop) {
        opened.add(() -> loop.close(true));
        return loop;
    }

    private static long openFileDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    // ---------------------------------------------------------------- bindSockets

    @Test
    void portZeroOnLocalhostGivesAnIpv4AndAnIpv6SocketOnTheSamePort() throws Exception {
        List<ServerSocketChannel> servers = bind(0, "localhost", null);

        assertEquals(2, servers.size(), servers.toString());
        assertEquals(V4, local(servers.get(0)).getAddress());
        assertEquals(V6, local(servers.get(1)).getAddress());
        int port = local(servers.get(0)).getPort();
        assertTrue(port > 0);
        assertEquals(port, local(servers.get(1)).getPort(), "the port the first socket got is reused");
        for (ServerSocketChannel s : servers) {
            assertFalse(s.isBlocking());
            assertTrue(s.getOption(StandardSocketOptions.SO_REUSEADDR));
        }
        connect(V4, servers.get(0));
        connect(V6, servers.get(1));
    }

    @Test
    void theFamilyRestrictsTheAddressesBound() throws Exception {
        List<ServerSocketChannel> v4 = bind(0, "localhost", StandardProtocolFamily.INET);
        List<ServerSocketChannel> v6 = bind(0, "LocalHost", StandardProtocolFamily.INET6);

        assertEquals(List.of(V4), v4.stream().map(s -> address(s)).toList());
        assertEquals(List.of(V6), v6.stream().map(s -> address(s)).toList());
    }

    private static InetAddress address(ServerSocketChannel s) {
        try {
            return local(s).getAddress();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void allInterfacesForBothFamiliesIsOneDualStackSocketThatAcceptsIpv4AndIpv6() throws Exception {
        for (String all : new String[] {null, ""}) {
            List<ServerSocketChannel> servers = bind(0, all, null);

            assertEquals(1, servers.size(), servers.toString());
            assertEquals(InetAddress.ofLiteral("::"), local(servers.get(0)).getAddress());
            connect(V4, servers.get(0));
            connect(V6, servers.get(0));
            assertEquals(2, acceptAll(servers.get(0), 2));
        }
    }

    private static int acceptAll(ServerSocketChannel server, int n) throws IOException {
        server.configureBlocking(true);
        for (int i = 0; i < n; i++) {
            server.accept().close();
        }
        return n;
    }

    @Test
    void allInterfacesForIpv4IsTheIpv4Wildcard() throws Exception {
        List<ServerSocketChannel> servers = bind(0, null, StandardProtocolFamily.INET);

        assertEquals(1, servers.size());
        assertEquals(InetAddress.ofLiteral("0.0.0.0"), local(servers.get(0)).getAddress());
    }

    @Test
    void aSpecificIpv6AddressLeavesTheSameIpv4PortFree() throws Exception {
        ServerSocketChannel v6 = bind(0, "::1", null).getFirst();
        int port = local(v6).getPort();

        ServerSocketChannel v4 = bind(port, "127.0.0.1", null).getFirst();

        assertEquals(port, local(v4).getPort());
    }

    @Test
    void reusePortLetsTwoSocketsBindTheSamePort() throws Exception {
        ServerSocketChannel first = open(Sockets.bindSockets(0, "127.0.0.1", null, 128, true).getFirst());
        int port = local(first).getPort();

        ServerSocketChannel second = open(Sockets.bindSockets(port, "127.0.0.1", null, 128, true).getFirst());

        assertEquals(port, local(second).getPort());
        assertTrue(second.getOption(StandardSocketOptions.SO_REUSEPORT));
    }

    @Test
    void aPortInUseFailsNamingAddressAndPortAndLeavesNothingOpen() throws Exception {
        // ::1 taken: bindSockets binds 127.0.0.1 first, then fails on ::1 and must close the first.
        ServerSocketChannel taken = bind(0, "::1", null).getFirst();
        int port = local(taken).getPort();
        long before = openFileDescriptors();

        BindException e = assertThrows(BindException.class, () -> Sockets.bindSockets(port, "localhost", null, 128, false));

        assertTrue(e.getMessage().contains("[0:0:0:0:0:0:0:1]:" + port), e.getMessage());
        assertEquals(before, openFileDescriptors(), "file descriptors left open");
        bind(port, "127.0.0.1", null); // free again
    }

    @Test
    void badArgumentsAreRejectedNamingTheValue() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Sockets.bindSockets(-1, "127.0.0.1", null, 128, false));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Sockets.bindSockets(65536, "127.0.0.1", null, 128, false));
        assertTrue(e.getMessage().contains("65536"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Sockets.bindSockets(0, "127.0.0.1", null, 0, false));
        assertTrue(e.getMessage().contains("backlog") && e.getMessage().contains("0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Sockets.bindSockets(0, "127.0.0.1", StandardProtocolFamily.UNIX, 128, false));
        assertTrue(e.getMessage().contains("UNIX"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Sockets.bindSockets(0, "127.0.0.1", StandardProtocolFamily.INET6, 128, false));
        assertTrue(e.getMessage().contains("127.0.0.1") && e.getMessage().contains("INET6"), e.getMessage());
    }

    @Test
    void addressesAreBoundOnceEachIpv4First() {
        InetAddress v4b = InetAddress.ofLiteral("127.0.0.2");

        assertEquals(List.of(V4, v4b, V6), Sockets.ordered(List.of(V6, V4, V6, v4b, V4), null));
        assertEquals(List.of(V6), Sockets.ordered(List.of(V6, V4, V6), StandardProtocolFamily.INET6));
    }

    // ---------------------------------------------------------------- addAcceptHandler

    /** A server on 127.0.0.1 with {@code backlog}, not registered anywhere. */
    private ServerSocketChannel server(int backlog) throws IOException {
        return open(Sockets.bindSockets(0, "127.0.0.1", StandardProtocolFamily.INET, backlog, false).getFirst());
    }

    @Test
    void theCallbackGetsEachConnectionNonBlockingWithItsRemoteAddress() throws Exception {
        IOLoop loop = loop(IOLoop.create());
        ServerSocketChannel server = server(128);
        SocketChannel client = connect(V4, server);
        List<SocketChannel> accepted = new ArrayList<>();
        List<InetSocketAddress> remotes = new ArrayList<>();

        Sockets.addAcceptHandler(loop, server, (channel, remote) -> {
            accepted.add(open(channel));
            remotes.add(remote);
            loop.stop();
        });
        loop.start();

        assertEquals(List.of(client.getLocalAddress()), remotes);
        assertFalse(accepted.getFirst().isBlocking());
    }

    @Test
    void oneEventAcceptsAtMost128Connections() throws Exception {
        IOLoop loop = loop(IOLoop.create());
        ServerSocketChannel server = server(256);
        for (int i = 0; i < 200; i++) {
            connect(V4, server);
        }
        List<Long> iterationOfEach = new ArrayList<>();

        Sockets.addAcceptHandler(loop, server, (channel, remote) -> {
            open(channel);
            iterationOfEach.add(loop.stats().iterations());
            if (iterationOfEach.size() == 200) {
                loop.stop();
            }
        });
        loop.callLater(Duration.ofSeconds(10), loop::stop); // a bound, in case it hangs
        loop.start();

        assertEquals(200, iterationOfEach.size());
        long first = iterationOfEach.getFirst();
        assertEquals(128, iterationOfEach.stream().filter(it -> it == first).count(), "accepted in the first event");
        assertTrue(iterationOfEach.get(128) > first, "the 129th waits for the next event");
    }

    @Test
    void theRemoverStopsAcceptingAndIsIdempotent() throws Exception {
        IOLoop loop = loop(IOLoop.create());
        ServerSocketChannel server = server(128);
        AtomicInteger accepted = new AtomicInteger();

        Runnable remove = Sockets.addAcceptHandler(loop, server, (channel, remote) -> accepted.incrementAndGet());
        assertEquals(1, loop.stats().handlers());
        remove.run();
        remove.run();
        connect(V4, server);
        runIterations(loop, 5);

        assertEquals(0, accepted.get());
        assertEquals(0, loop.stats().handlers());
    }

    @Test
    void removingFromTheCallbackStopsTheBatch() throws Exception {
        IOLoop loop = loop(IOLoop.create());
        ServerSocketChannel server = server(128);
        for (int i = 0; i < 3; i++) {
            connect(V4, server);
        }
        AtomicInteger accepted = new AtomicInteger();
        Runnable[] remove = new Runnable[1];

        remove[0] = Sockets.addAcceptHandler(loop, server, (channel, remote) -> {
            open(channel);
            accepted.incrementAndGet();
            remove[0].run();
        });
        runIterations(loop, 5);

        assertEquals(1, accepted.get());
    }

    @Test
    void aCallbackThatThrowsIsReportedAndTheOtherConnectionsAreStillAccepted() throws Exception {
        List<Throwable> reported = new ArrayList<>();
        IOLoop loop = loop(IOLoop.builder().exceptionHandler(reported::add).build());
        ServerSocketChannel server = server(128);
        for (int i = 0; i < 3; i++) {
            connect(V4, server);
        }
        AtomicInteger accepted = new AtomicInteger();
        IllegalStateException boom = new IllegalStateException("callback broke (expected in this test)");

        Sockets.addAcceptHandler(loop, server, (channel, remote) -> {
            open(channel);
            if (accepted.incrementAndGet() == 1) {
                throw boom;
            }
        });
        runIterations(loop, 5);

        assertEquals(3, accepted.get());
        assertEquals(List.of(boom), reported);
    }

    @Test
    void addAcceptHandlerRejectsAnUnboundServer() throws Exception {
        IOLoop loop = loop(IOLoop.create());
        ServerSocketChannel unbound = open(ServerSocketChannel.open());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Sockets.addAcceptHandler(loop, unbound, (c, a) -> { }));
        assertTrue(e.getMessage().contains("not bound"), e.getMessage());
    }

    /** Runs {@code loop} for {@code n} iterations (a chain of callbacks keeps each poll from blocking). */
    private static void runIterations(IOLoop loop, int n) {
        AtomicInteger left = new AtomicInteger(n);
        Runnable step = new Runnable() {
            @Override
            public void run() {
                if (left.decrementAndGet() <= 0) {
                    loop.stop();
                } else {
                    loop.addCallback(this);
                }
            }
        };
        loop.addCallback(step);
        loop.start();
    }

    // ---------------------------------------------------------------- accept failures

    /** Records the io.eddy.tcp log while open. */
    private static final class LogCapture extends Handler implements AutoCloseable {
        private final Logger logger = Logger.getLogger("io.eddy.tcp");
        final List<LogRecord> records = new ArrayList<>();

        LogCapture() {
            logger.addHandler(this);
        }

        @Override
        public synchronized void publish(LogRecord r) {
            records.add(r);
        }

        synchronized List<Level> levels() {
            return records.stream().map(LogRecord::getLevel).toList();
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
        }
    }

    /**
     * Runs a VirtualClock loop whose accept throws {@code failures} in turn (then accepts for real)
     * until the one waiting client is accepted; returns the loop times (ms) of the accept calls.
     */
    private List<Long> acceptTimesWithFailures(IOException... failures) throws Exception {
        IOLoop loop = loop(IOLoop.builder().clock(new VirtualClock()).build());
        ServerSocketChannel server = server(128);
        connect(V4, server);
        List<Long> callTimes = new ArrayList<>();
        AtomicInteger accepted = new AtomicInteger();
        AcceptHandler.Acceptor failing = s -> {
            callTimes.add(Duration.ofNanos(loop.time()).toMillis());
            if (callTimes.size() > 50) {
                loop.stop();
                throw new AssertionError("accept spins: " + callTimes);
            }
            if (callTimes.size() <= failures.length) {
                throw failures[callTimes.size() - 1];
            }
            return s.accept();
        };
        BiConsumer<SocketChannel, InetSocketAddress> callback = (channel, remote) -> {
            open(channel);
            accepted.incrementAndGet();
            loop.stop();
        };

        Sockets.addAcceptHandler(loop, server, callback, failing);
        loop.start();

        assertEquals(1, accepted.get(), "the waiting connection is accepted in the end");
        assertTrue(loop.stats().iterations() < 3L * callTimes.size() + 5, "iterations: " + loop.stats().iterations());
        return callTimes;
    }

    private static IOException emfile() {
        return new IOException("Too many open files (injected by the test)");
    }

    @Test
    void outOfFileDescriptorsStopsListeningAndRetriesWithABackOffUntilAcceptWorks() throws Exception {
        try (LogCapture log = new LogCapture()) {
            List<Long> times = acceptTimesWithFailures(emfile(), emfile(), emfile());

            // fail at 0; retry after 100 ms, 200 ms, 400 ms; the last accept of the batch finds no more
            assertEquals(List.of(0L, 100L, 300L, 700L, 700L), times);
            assertEquals(List.of(Level.WARNING, Level.INFO), log.levels(), "one warning for the whole episode");
            assertTrue(log.records.getFirst().getMessage().contains("127.0.0.1"), log.records.getFirst().getMessage());
        }
    }

    @Test
    void theBackOffDoublesUpToOneSecond() throws Exception {
        IOException[] failures = Stream.generate(SocketsTest::emfile).limit(6).toArray(IOException[]::new);

        List<Long> times = acceptTimesWithFailures(failures);

        assertEquals(List.of(0L, 100L, 300L, 700L, 1500L, 2500L, 3500L, 3500L), times);
    }

    @Test
    void oneOtherAcceptErrorIsLoggedAndTheNextConnectionIsTriedAtOnce() throws Exception {
        try (LogCapture log = new LogCapture()) {
            List<Long> times = acceptTimesWithFailures(new IOException("Protocol error (injected by the test)"));

            assertEquals(List.of(0L, 0L, 0L), times);
            assertEquals(List.of(Level.SEVERE), log.levels());
        }
    }

    @Test
    void twoOtherAcceptErrorsInARowBackOffLikeOutOfFileDescriptors() throws Exception {
        try (LogCapture log = new LogCapture()) {
            List<Long> times = acceptTimesWithFailures(new IOException("Protocol error (injected by the test)"), new IOException("Protocol error (injected by the test)"));

            assertEquals(List.of(0L, 0L, 100L, 100L), times);
            assertEquals(List.of(Level.SEVERE, Level.WARNING, Level.INFO), log.levels());
        }
    }

    @Test
    void removingDuringTheBackOffCancelsTheRetry() throws Exception {
        IOLoop loop = loop(IOLoop.builder().clock(new VirtualClock()).build());
        ServerSocketChannel server = server(128);
        connect(V4, server);
        AtomicInteger calls = new AtomicInteger();
        Runnable remove = Sockets.addAcceptHandler(loop, server, (channel, remote) -> open(channel), s -> {
            if (calls.incrementAndGet() > 10) {
                loop.stop(); // accept spins: virtual time would never advance
            }
            throw emfile();
        });

        loop.callLater(Duration.ofMillis(50), remove);
        loop.callLater(Duration.ofSeconds(10), loop::stop);
        loop.start();

        assertEquals(1, calls.get(), "accept is not retried after the remover ran");
        assertEquals(0, loop.stats().handlers());
        assertEquals(0, loop.stats().pendingTimeouts());
    }

    // ---------------------------------------------------------------- isValidIp

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "4.4.4.4", "0.0.0.0", "255.255.255.255", "::1", "::",
            "2620:0:1cfe:face:b00c::3", "::ffff:1.2.3.4", "fe80::1%eth0", "fe80::1%2", "FE80::ABCD"})
    void isValidIpAcceptsIpLiterals(String ip) {
        assertTrue(Sockets.isValidIp(ip), ip);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "\n", "\u0000", "127.0.0.1\u0000", "www.google.com", "localhost", "4.4.4.4<",
            " 127.0.0.1", "127.0.0.1 ", "a.b.c.d", "1.2.3.4.5", "1.2.3", "256.1.1.1", "1.2.3.-4", "01.2.3.4",
            "1..2.3", "1.2.3.4.", "[::1]", "::1%", "fe80::1% eth0", ":::1", "1:2:3:4:5:6:7:8:9", "12345::1",
            "١٢٧.0.0.1", "127.1", "example.invalid",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
    void isValidIpRejectsEverythingElse(String ip) {
        assertFalse(Sockets.isValidIp(ip), ip);
    }

    @Test
    void isValidIpRejectsNull() {
        assertFalse(Sockets.isValidIp(null));
    }
}
