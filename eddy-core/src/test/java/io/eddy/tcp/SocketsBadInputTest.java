package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static io.eddy.ioloop.BadInput.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad values given to {@link Sockets}: refused naming the parameter or the value, nothing left open or
 * registered, and the listening socket still accepts afterwards. (SocketsTest covers bindSockets' port,
 * backlog and family checks and an unbound server.)
 */
@org.junit.jupiter.api.Timeout(20)
class SocketsBadInputTest {

    private final List<AutoCloseable> toClose = new ArrayList<>();
    private IOLoop loop;
    private ServerSocketChannel server;

    @BeforeEach
    void open() throws Exception {
        loop = IOLoop.create();
        server = Sockets.bindSockets(0, "127.0.0.1", StandardProtocolFamily.INET, 16, false).getFirst();
        toClose.add(server);
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
        loop.close(true);
    }

    /** Registers an accept handler on {@link #server} and checks that a connection reaches it. */
    private void assertAccepts() throws Exception {
        CompletableFuture<InetSocketAddress> accepted = new CompletableFuture<>();
        Runnable remove = Sockets.addAcceptHandler(loop, server, (channel, address) -> {
            toClose.add(channel);
            accepted.complete(address);
        });
        try (SocketChannel client = SocketChannel.open(server.getLocalAddress())) {
            InetSocketAddress remote = loop.runSync(() -> accepted, Duration.ofSeconds(10));
            assertEquals(client.getLocalAddress(), remote);
        } finally {
            remove.run();
        }
    }

    @Test
    void nullArgumentsAreRefusedNamingTheParameter() throws Exception {
        assertFails(NullPointerException.class, () -> Sockets.addAcceptHandler(null, server, (c, a) -> { }), "loop");
        assertFails(NullPointerException.class, () -> Sockets.addAcceptHandler(loop, null, (c, a) -> { }), "server");
        assertFails(NullPointerException.class, () -> Sockets.addAcceptHandler(loop, server, null), "callback");
        assertEquals(0, loop.stats().handlers());
        assertAccepts();
    }

    @Test
    void aClosedServerIsRefusedSayingItIsClosed() throws Exception {
        ServerSocketChannel closed = Sockets.bindSockets(0, "127.0.0.1", null, 16, false).getFirst();
        closed.close();
        IllegalArgumentException e = assertFails(IllegalArgumentException.class,
                () -> Sockets.addAcceptHandler(loop, closed, (c, a) -> { }), "closed");
        assertFalse(e.getMessage().endsWith("null"), "no 'null' for a message: " + e.getMessage());
        assertEquals(0, loop.stats().handlers());
        assertAccepts();
    }

    @Test
    void aSecondHandlerForTheSameServerIsRefusedAndTheFirstStays() throws Exception {
        CompletableFuture<String> first = new CompletableFuture<>();
        Runnable remove = Sockets.addAcceptHandler(loop, server, (channel, address) -> {
            toClose.add(channel);
            first.complete("first");
        });
        assertFails(IllegalArgumentException.class, () -> Sockets.addAcceptHandler(loop, server, (c, a) -> { }),
                "already has a handler");
        try (SocketChannel client = SocketChannel.open(server.getLocalAddress())) {
            assertEquals("first", loop.runSync(() -> first, Duration.ofSeconds(10)));
        }
        remove.run();
        remove.run(); // idempotent
        assertAccepts();
    }

    @Test
    void aClosedLoopOrAForeignThreadIsRefusedAndTheServerStillAccepts() throws Exception {
        IOLoop closedLoop = IOLoop.create();
        closedLoop.close();
        assertFails(IllegalStateException.class, () -> Sockets.addAcceptHandler(closedLoop, server, (c, a) -> { }),
                "closed");
        IllegalStateException wrongThread = loop.runSync(() -> {
            CompletableFuture<IllegalStateException> f = new CompletableFuture<>();
            Thread.ofPlatform().start(() -> {
                try {
                    Sockets.addAcceptHandler(loop, server, (c, a) -> { });
                    f.completeExceptionally(new AssertionError("accepted from a foreign thread"));
                } catch (IllegalStateException e) {
                    f.complete(e);
                }
            });
            return f;
        }, Duration.ofSeconds(10));
        assertTrue(wrongThread.getMessage().contains("addCallback"), wrongThread.getMessage());
        assertAccepts();
    }

    @Test
    void aBacklogTooLargeOrAnAddressOfTheWrongFamilyIsHandled() throws Exception {
        List<ServerSocketChannel> huge = Sockets.bindSockets(0, "127.0.0.1", null, Integer.MAX_VALUE, false);
        toClose.addAll(huge);
        assertEquals(1, huge.size(), "the kernel caps the backlog; nothing to refuse");
        assertFails(IllegalArgumentException.class, () -> Sockets.bindSockets(0, "::1", StandardProtocolFamily.INET, 16, false),
                "::1", "INET");
        assertFails(IllegalArgumentException.class, () -> Sockets.bindSockets(0, "127.0.0.1", null, Integer.MIN_VALUE, false),
                "backlog", "-2147483648");
    }

    @Test
    void isValidIpRejectsHugeAndMalformedStringsWithoutThrowing() {
        assertFalse(Sockets.isValidIp("1".repeat(100_000)));
        assertFalse(Sockets.isValidIp("::1%"));
        assertFalse(Sockets.isValidIp("[::1]"));
        assertFalse(Sockets.isValidIp("1.2.3.4 "));
        assertFalse(Sockets.isValidIp("99999999999999999999.1.1.1"));
        assertTrue(Sockets.isValidIp("::ffff:1.2.3.4"));
    }
}
