package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectableChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.eddy.ioloop.Channels.closeAll;
import static io.eddy.ioloop.Channels.socketPair;
import static io.eddy.ioloop.Channels.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IOLoopHandlerTest {

    private IOLoop loop;
    private SocketChannel[] pair;

    @BeforeEach
    void open() throws Exception {
        loop = IOLoop.create();
        pair = socketPair();
    }

    @AfterEach
    void close() throws Exception {
        loop.close(true);
        closeAll(pair[0], pair[1]);
    }

    /** Runs the loop for {@code n} iterations (a chain of callbacks keeps each poll from blocking). */
    private void runIterations(int n) {
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

    @Test
    void handlerReceivesTheRegisteredChannelAndReadEvent() throws Exception {
        AtomicReference<SelectableChannel> seen = new AtomicReference<>();
        AtomicInteger events = new AtomicInteger();
        loop.addHandler(pair[1], (ch, ev) -> {
            seen.set(ch);
            events.set(ev);
            ch.read(ByteBuffer.allocate(16));
            loop.stop();
        }, IOLoop.READ);
        write(pair[0], "x");
        loop.start();
        assertSame(pair[1], seen.get());
        assertEquals(IOLoop.READ, events.get());
        assertFalse(pair[1].isBlocking(), "the loop puts the channel in non-blocking mode");
    }

    @Test
    void addingAChannelTwiceFailsAndKeepsTheFirstHandler() throws Exception {
        List<String> calls = new ArrayList<>();
        loop.addHandler(pair[1], (ch, ev) -> {
            calls.add("first");
            ch.read(ByteBuffer.allocate(16));
            loop.stop();
        }, IOLoop.READ);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loop.addHandler(pair[1], (ch, ev) -> calls.add("second"), IOLoop.READ));
        assertTrue(e.getMessage().contains("already has a handler"), e.getMessage());
        write(pair[0], "x");
        loop.start();
        assertEquals(List.of("first"), calls);
    }

    @Test
    void addingAClosedChannelFails() throws Exception {
        pair[1].close();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loop.addHandler(pair[1], (ch, ev) -> { }, IOLoop.READ));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void unknownEventBitsAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loop.addHandler(pair[1], (ch, ev) -> { }, 0x100));
        assertTrue(e.getMessage().contains("0x100"), e.getMessage());
    }

    @Test
    void eventsAChannelCannotHaveAreRejected() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> loop.addHandler(server, (ch, ev) -> { }, IOLoop.WRITE));
            assertTrue(e.getMessage().contains("WRITE") && e.getMessage().contains("ServerSocketChannel"), e.getMessage());
        }
    }

    @Test
    void updateHandlerOnAnUnknownChannelFails() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> loop.updateHandler(pair[1], IOLoop.READ));
        assertTrue(e.getMessage().contains("no handler"), e.getMessage());
    }

    @Test
    void removeHandlerOnAnUnknownChannelDoesNothing() {
        loop.removeHandler(pair[1]);
        assertEquals(0, loop.stats().handlers());
    }

    @Test
    void updateHandlerChangesTheEvents() throws Exception {
        List<Integer> events = new ArrayList<>();
        loop.addHandler(pair[1], (ch, ev) -> {
            events.add(ev);
            if (events.size() == 1) {
                loop.updateHandler(ch, IOLoop.READ);
            } else {
                ch.read(ByteBuffer.allocate(16));
                loop.stop();
            }
        }, IOLoop.WRITE);
        loop.addCallback(() -> {
            try {
                write(pair[0], "x");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        loop.start();
        assertEquals(List.of(IOLoop.WRITE, IOLoop.READ), events);
    }

    @Test
    void aChannelWithNoneEventsIsNotReported() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        loop.addHandler(pair[1], (ch, ev) -> calls.incrementAndGet(), IOLoop.NONE);
        write(pair[0], "readable");
        runIterations(5);
        assertEquals(0, calls.get());
        assertEquals(1, loop.stats().handlers());
    }

    @Test
    void removingAHandlerDropsItsEventAlreadyPolled() throws Exception {
        SocketChannel[] other = socketPair();
        try {
            List<SocketChannel> called = new ArrayList<>();
            Handler<SocketChannel> handler = (ch, ev) -> {
                called.add(ch);
                ch.read(ByteBuffer.allocate(16));
                // Whichever runs first removes the other, whose event was polled in the same batch.
                loop.removeHandler(ch == pair[1] ? other[1] : pair[1]);
            };
            loop.addHandler(pair[1], handler, IOLoop.READ);
            loop.addHandler(other[1], handler, IOLoop.READ);
            write(pair[0], "a");
            write(other[0], "b");
            // Both are readable before the first poll, so one poll reports both.
            runIterations(3);
            assertEquals(1, called.size(), "the removed channel's handler must not run: " + called);
        } finally {
            closeAll(other[0], other[1]);
        }
    }

    @Test
    void aChannelClosedWhileRegisteredIsDropped() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        loop.addHandler(pair[1], (ch, ev) -> calls.incrementAndGet(), IOLoop.READ);
        pair[1].close();
        write(pair[0], "x");
        runIterations(3);
        assertEquals(0, calls.get());
        assertEquals(0, loop.stats().handlers());
        assertThrows(IllegalArgumentException.class, () -> loop.updateHandler(pair[1], IOLoop.READ));
    }

    @Test
    void aChannelCanBeAddedAgainRightAfterItsHandlerWasRemoved() throws Exception {
        List<String> calls = new ArrayList<>();
        loop.addHandler(pair[1], (ch, ev) -> calls.add("old"), IOLoop.READ);
        loop.addCallback(() -> {
            loop.removeHandler(pair[1]);
            loop.addHandler(pair[1], (ch, ev) -> {
                calls.add("new");
                ch.read(ByteBuffer.allocate(16));
                loop.stop();
            }, IOLoop.READ);
            try {
                write(pair[0], "x");
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        loop.start();
        assertEquals(List.of("new"), calls);
    }

    @Test
    void handlerCallsFromAForeignThreadWhileRunningFailNamingAddCallback() throws Exception {
        Thread t = loop.startInNewThread("loop");
        try {
            CompletableFuture<Void> started = loop.submit(() -> null);
            started.get(5, TimeUnit.SECONDS);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> loop.addHandler(pair[1], (ch, ev) -> { }, IOLoop.READ));
            assertTrue(e.getMessage().contains("addCallback"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> loop.updateHandler(pair[1], IOLoop.READ));
            assertThrows(IllegalStateException.class, () -> loop.removeHandler(pair[1]));
        } finally {
            loop.stop();
            t.join(5000);
        }
    }

    @Test
    void readOnAServerChannelMeansAConnectionCanBeAccepted() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            AtomicReference<SocketChannel> accepted = new AtomicReference<>();
            loop.addHandler(server, (ch, ev) -> {
                assertEquals(IOLoop.READ, ev);
                accepted.set(ch.accept());
                loop.stop();
            }, IOLoop.READ);
            try (SocketChannel client = SocketChannel.open(server.getLocalAddress())) {
                loop.start();
                assertTrue(accepted.get() != null && accepted.get().isConnected());
                accepted.get().close();
            }
        }
    }

    @Test
    void writeOnAConnectingChannelMeansTheConnectFinished() throws Exception {
        try (ServerSocketChannel server = ServerSocketChannel.open(); SocketChannel client = SocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            client.configureBlocking(false);
            List<Integer> events = new ArrayList<>();
            boolean immediate = client.connect(server.getLocalAddress());
            loop.addHandler(client, (ch, ev) -> {
                events.add(ev);
                if (events.size() == 1) {
                    assertTrue(immediate || ch.finishConnect());
                    // Still subscribed to WRITE: now it means writable, reported again at once.
                } else {
                    loop.stop();
                }
            }, IOLoop.WRITE);
            loop.start();
            assertEquals(List.of(IOLoop.WRITE, IOLoop.WRITE), events);
            assertTrue(client.isConnected());
        }
    }

    @Test
    void aRefusedConnectIsReportedAsWriteAndFinishConnectThrows() throws Exception {
        int freePort;
        try (ServerSocketChannel probe = ServerSocketChannel.open()) {
            probe.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            freePort = ((InetSocketAddress) probe.getLocalAddress()).getPort();
        }
        try (SocketChannel client = SocketChannel.open()) {
            client.configureBlocking(false);
            AtomicReference<Exception> failure = new AtomicReference<>();
            assertFalse(client.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), freePort)),
                    "a non-blocking connect is pending");
            loop.addHandler(client, (ch, ev) -> {
                try {
                    ch.finishConnect();
                } catch (java.io.IOException e) {
                    failure.set(e);
                }
                loop.removeHandler(ch);
                loop.stop();
            }, IOLoop.WRITE);
            loop.start();
            assertTrue(failure.get() instanceof java.net.ConnectException, String.valueOf(failure.get()));
        }
    }

    @Test
    void closeWithChannelsClosesEveryRegisteredChannel() throws Exception {
        loop.addHandler(pair[1], (ch, ev) -> { }, IOLoop.READ);
        loop.close(true);
        assertFalse(pair[1].isOpen());
        assertTrue(pair[0].isOpen());
    }

    @Test
    void closeWithoutChannelsLeavesThemOpen() throws Exception {
        loop.addHandler(pair[1], (ch, ev) -> { }, IOLoop.READ);
        loop.close();
        assertTrue(pair[1].isOpen());
        assertThrows(IllegalStateException.class, () -> loop.addHandler(pair[0], (ch, ev) -> { }, IOLoop.READ));
    }
}
