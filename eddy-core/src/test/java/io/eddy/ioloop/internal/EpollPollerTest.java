package io.eddy.ioloop.internal;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What only the epoll backend can show: the ERROR bit (a reset peer, a refused connect, HUP once both
 * directions are shut), READ on a listening socket as acceptable, no stale event for a descriptor whose
 * number is reused within one batch, wake-ups from other threads. The build grants the flags the backend
 * needs (eddy-core's pom), on Linux, where the project is tested.
 */
class EpollPollerTest {

    private static final long WAIT = TimeUnit.SECONDS.toNanos(10);

    private EpollPoller poller;
    private ServerSocketChannel listener;
    private final List<SocketChannel> channels = new ArrayList<>();
    private final ReadyEvents ready = new ReadyEvents();

    @BeforeEach
    void open() throws IOException {
        assertNull(NativeSupport.unavailableReason(), "the build runs the tests on Linux with the flags epoll needs");
        poller = new EpollPoller();
        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @AfterEach
    void close() throws IOException {
        for (SocketChannel c : channels) {
            c.close();
        }
        if (listener != null) {
            listener.close();
        }
        if (poller != null) {
            poller.close();
        }
    }

    /** A connected pair: {client, server side}. */
    private SocketChannel[] pair() throws IOException {
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        SocketChannel server = listener.accept();
        channels.add(client);
        channels.add(server);
        return new SocketChannel[]{client, server};
    }

    /** Polls until {@code key} is reported, and returns its events. */
    private int pollFor(PollKey key) throws IOException {
        long deadline = System.nanoTime() + WAIT;
        while (System.nanoTime() - deadline < 0) {
            ready.clear();
            int n = poller.poll(TimeUnit.MILLISECONDS.toNanos(100), ready);
            for (int i = 0; i < n; i++) {
                if (ready.key(i) == key) {
                    return ready.events(i);
                }
            }
        }
        throw new AssertionError("no event for " + key.channel() + " within 10 s");
    }

    @Test
    void readableAndWritableAreReadAndWrite() throws IOException {
        SocketChannel[] p = pair();
        PollKey key = poller.register(p[1], Poller.READ | Poller.WRITE, "attachment");
        assertSame("attachment", key.attachment());
        assertEquals(Poller.WRITE, pollFor(key), "nothing to read yet, room to write");

        p[0].write(ByteBuffer.wrap(new byte[]{42}));
        assertEquals(Poller.READ | Poller.WRITE, pollFor(key));

        poller.modify(key, Poller.READ);
        assertEquals(Poller.READ, pollFor(key));
    }

    @Test
    void aListeningSocketIsReadableWhenAConnectionWaits() throws IOException {
        listener.configureBlocking(false);
        PollKey key = poller.register(listener, Poller.READ, null);
        SocketChannel client = SocketChannel.open(listener.getLocalAddress());
        channels.add(client);
        assertEquals(Poller.READ, pollFor(key));
        SocketChannel accepted = listener.accept();
        assertTrue(accepted != null, "the READ meant a connection could be accepted");
        channels.add(accepted);
    }

    @Test
    void aResetPeerIsReportedAsError() throws IOException {
        SocketChannel[] p = pair();
        PollKey key = poller.register(p[1], Poller.READ, null);
        p[0].setOption(StandardSocketOptions.SO_LINGER, 0);
        p[0].close(); // RST
        int events = pollFor(key);
        assertEquals(Poller.ERROR, events & Poller.ERROR, "error and hang-up in 0x" + Integer.toHexString(events));
    }

    @Test
    void aRegistrationWithNoInterestIsNotReportedEvenResetAndIsOnceInterestReturns() throws IOException {
        SocketChannel[] p = pair();
        PollKey key = poller.register(p[1], Poller.READ, null);
        poller.modify(key, 0); // paused: out of the kernel's set (epoll would report a reset on every poll)
        p[0].setOption(StandardSocketOptions.SO_LINGER, 0);
        p[0].close();
        ready.clear();
        for (int i = 0; i < 3; i++) {
            int n = poller.poll(TimeUnit.MILLISECONDS.toNanos(20), ready);
            for (int j = 0; j < n; j++) {
                assertTrue(ready.key(j) != key, "a paused registration reported 0x" + Integer.toHexString(ready.events(j)));
            }
        }
        poller.modify(key, Poller.READ);
        assertEquals(Poller.ERROR, pollFor(key) & Poller.ERROR, "the reset, once it listens again");
    }

    @Test
    void hangUpAfterThePeersCloseOnceOurSideIsShutToo() throws IOException {
        SocketChannel[] p = pair();
        PollKey key = poller.register(p[1], Poller.READ, null);
        p[0].close(); // FIN: readable (end of stream), not yet a hang-up
        int first = pollFor(key);
        assertEquals(Poller.READ, first & (Poller.READ | Poller.ERROR), "0x" + Integer.toHexString(first));
        p[1].shutdownOutput();
        int events = pollFor(key);
        assertEquals(0x010, events & Poller.ERROR, "HUP (no error) once both directions are shut: 0x" + Integer.toHexString(events));
    }

    @Test
    void aRefusedConnectIsWriteAndError() throws IOException {
        InetSocketAddress closedPort;
        try (ServerSocketChannel s = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            closedPort = (InetSocketAddress) s.getLocalAddress();
        }
        SocketChannel c = SocketChannel.open();
        channels.add(c);
        c.configureBlocking(false);
        c.connect(closedPort);
        PollKey key = poller.register(c, Poller.WRITE, null);
        int events = pollFor(key);
        assertEquals(Poller.ERROR, events & Poller.ERROR, "0x" + Integer.toHexString(events));
        assertThrows(java.net.ConnectException.class, c::finishConnect);
    }

    @Test
    void aRemovedOrClosedRegistrationIsDeadAndItsNumberCanBeReusedWithinOneBatch() throws IOException {
        SocketChannel[] a = pair();
        SocketChannel[] b = pair();
        PollKey keyA = poller.register(a[1], Poller.WRITE, "a");
        PollKey keyB = poller.register(b[1], Poller.WRITE, "b");
        ready.clear();
        long deadline = System.nanoTime() + WAIT;
        int n = 0;
        while (n < 2 && System.nanoTime() - deadline < 0) {
            n += poller.poll(TimeUnit.MILLISECONDS.toNanos(100), ready);
        }
        assertEquals(2, n, "both writable in one batch");

        // As a handler of the batch's first event might: close A, then open and register a new channel,
        // which the kernel gives A's old descriptor number.
        int oldFd = NativeSupport.fdOf(a[1]);
        poller.deregister(keyA);
        a[1].close();
        SocketChannel[] c = pair();
        SocketChannel reused = NativeSupport.fdOf(c[0]) == oldFd ? c[0] : c[1];
        PollKey keyC = poller.register(reused, Poller.WRITE, "c");

        for (int i = 0; i < 2; i++) {
            PollKey k = ready.key(i);
            assertNotEquals(keyC, k, "the batch was polled before C existed");
            if (k == keyA) {
                assertFalse(k.isLive(), "A's event is dropped");
            } else {
                assertSame(keyB, k);
                assertTrue(k.isLive());
            }
        }
        assertEquals(Poller.WRITE, pollFor(keyC), "the new registration gets its own events");
        assertNull(poller.find(a[1]), "a closed channel has no registration");
        assertSame(keyB, poller.find(b[1]));
    }

    @Test
    void aChannelClosedWithoutRemovingIsForgottenAndItsNumberServesTheNextOne() throws IOException {
        SocketChannel[] a = pair();
        PollKey keyA = poller.register(a[1], Poller.READ, "a");
        int oldFd = NativeSupport.fdOf(a[1]);
        a[1].close(); // no deregister: the kernel dropped it from the epoll set
        assertFalse(keyA.isLive());
        assertNull(poller.find(a[1]));

        SocketChannel[] c = pair();
        SocketChannel reused = NativeSupport.fdOf(c[0]) == oldFd ? c[0] : c[1];
        PollKey keyC = poller.register(reused, Poller.WRITE, "c");
        assertEquals(Poller.WRITE, pollFor(keyC));
        poller.deregister(keyA); // late removal of the closed one must not remove C's registration
        assertEquals(Poller.WRITE, pollFor(keyC), "C is still registered");
    }

    @Test
    void aDescriptorRemovedJustBeforeItsCloseLeavesTheSetWithTheCloseAndItsNumberCanBeAddedAgain() throws IOException {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            LibC.Errno errno = new LibC.Errno(arena);
            int fd = connectedNativeSocket(errno, arena);
            PollKey old = poller.registerFd(fd, Poller.WRITE, "old");
            assertEquals(Poller.WRITE, pollFor(old));
            poller.deregisterBeforeClose(old); // no EPOLL_CTL_DEL: the close below takes it out of the set
            assertFalse(old.isLive());
            LibC.close(errno, fd);

            int again = connectedNativeSocket(errno, arena);
            try {
                assertEquals(fd, again, "the kernel hands out the lowest free number: the one just closed");
                // Were the old descriptor still in the epoll set, this ADD would fail with EEXIST.
                PollKey next = poller.registerFd(again, Poller.WRITE, "new");
                assertEquals(Poller.WRITE, pollFor(next));
                poller.deregister(next);
            } finally {
                LibC.close(errno, again);
            }
        }
    }

    @Test
    void aClosedSocketsEntryThatTheKernelKeepsDoesNotReachTheNextRegistrationInItsSlot() throws IOException {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            LibC.Errno errno = new LibC.Errno(arena);
            int oldFd = connectedNativeSocket(errno, arena);
            int newFd = -1;
            try {
                SocketChannel oldPeer = accepted();
                PollKey old = poller.registerFd(oldFd, Poller.READ, "old");
                // Removed as just before a close, and the close not done: as when a child process between fork
                // and exec holds a copy of the descriptor, the socket and its epoll entry live on.
                poller.deregisterBeforeClose(old);

                newFd = connectedNativeSocket(errno, arena);
                SocketChannel newPeer = accepted();
                PollKey next = poller.registerFd(newFd, Poller.READ, "new"); // the slot the old one freed

                oldPeer.write(ByteBuffer.wrap(new byte[]{1})); // the stale entry is readable now
                ready.clear();
                int n = poller.poll(TimeUnit.SECONDS.toNanos(1), ready);
                for (int i = 0; i < n; i++) {
                    assertNotSame(next, ready.key(i), "the old socket's event reached the new registration");
                }
                newPeer.write(ByteBuffer.wrap(new byte[]{2}));
                assertEquals(Poller.READ, pollFor(next) & Poller.READ);
                poller.deregister(next);
            } finally {
                if (newFd >= 0) {
                    LibC.close(errno, newFd);
                }
                LibC.close(errno, oldFd);
            }
        }
    }

    /** A native socket (the caller closes it) connecting to the listener; loopback: connected by the time it is accepted. */
    private int connectedNativeSocket(LibC.Errno errno, java.lang.foreign.Arena arena) throws IOException {
        InetSocketAddress to = (InetSocketAddress) listener.getLocalAddress();
        int fd = NativeSockets.open(errno, NativeSockets.familyOf(to.getAddress()));
        try {
            NativeSockets.connect(errno, fd, to, arena);
        } catch (IOException | RuntimeException e) {
            LibC.close(errno, fd);
            throw e;
        }
        return fd;
    }

    /** The server side of the connection the listener has (or is about to have) waiting. */
    private SocketChannel accepted() throws IOException {
        SocketChannel server = listener.accept(); // blocking: the connect above completed on loopback
        channels.add(server);
        return server;
    }

    @Test
    void wakeupFromAnotherThreadEndsAnEndlessPoll() throws Exception {
        CountDownLatch polling = new CountDownLatch(1);
        Thread waker = Thread.ofPlatform().start(() -> {
            try {
                polling.await();
            } catch (InterruptedException e) {
                return;
            }
            poller.wakeup();
        });
        polling.countDown();
        ready.clear();
        assertEquals(0, poller.poll(-1, ready), "woken, with no channel event");
        waker.join();

        poller.wakeup(); // a wake-up before the poll makes it return at once
        assertEquals(0, poller.poll(-1, ready));
    }

    @Test
    void anEventAChannelCannotHaveIsRefusedAsOnNio() throws IOException {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> poller.register(listener, Poller.WRITE, null));
        assertTrue(e.getMessage().contains("WRITE"), e.getMessage());
    }
}
