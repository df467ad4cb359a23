package io.eddy.ioloop.internal;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Native TCP sockets: listen, accept, connect, read, write, gathering write, half-close, reset, refusal, IPv6. */
class NativeSocketsTest {

    private final Arena arena = Arena.ofConfined();
    private final LibC.Errno errno = new LibC.Errno(arena);
    private final List<Integer> fds = new ArrayList<>();
    private EpollPoller poller;
    private final ReadyEvents ready = new ReadyEvents();

    @BeforeEach
    void open() throws IOException {
        assertNull(NativeSupport.unavailableReason(), "the build runs the tests on Linux with the flags epoll needs");
        poller = new EpollPoller();
    }

    @AfterEach
    void close() throws IOException {
        for (int fd : fds) {
            LibC.close(errno, fd);
        }
        poller.close();
        arena.close();
    }

    private int track(int fd) {
        fds.add(fd);
        return fd;
    }

    /** Waits until {@code fd} reports one of {@code events}; returns what it reported. */
    private int await(int fd, int events) throws IOException {
        PollKey key = poller.registerFd(fd, events, null);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() - deadline < 0) {
                ready.clear();
                int n = poller.poll(TimeUnit.MILLISECONDS.toNanos(100), ready);
                for (int i = 0; i < n; i++) {
                    if (ready.key(i) == key) {
                        return ready.events(i);
                    }
                }
            }
            throw new AssertionError("fd " + fd + " not ready within 10 s");
        } finally {
            poller.deregister(key);
        }
    }

    private int[] connectedPair(InetAddress ip) throws IOException {
        int listener = track(NativeSockets.listen(errno, new InetSocketAddress(ip, 0), 16, false, arena));
        InetSocketAddress address = NativeSockets.localAddress(errno, listener, arena);
        assertEquals(ip, address.getAddress());
        int client = track(NativeSockets.open(errno, NativeSockets.familyOf(ip)));
        if (!NativeSockets.connect(errno, client, address, arena)) {
            await(client, Poller.WRITE);
            NativeSockets.finishConnect(errno, client, address, arena);
        }
        await(listener, Poller.READ);
        MemorySegment peer = arena.allocate(NativeSockets.SOCKADDR_SIZE, 8);
        MemorySegment length = arena.allocate(JAVA_INT);
        int server = track(NativeSockets.accept(errno, listener, peer, length));
        assertTrue(server >= 0, "a connection was waiting");
        assertEquals(NativeSockets.localAddress(errno, client, arena), NativeSockets.decode(peer), "accept's peer address");
        assertEquals(NativeSockets.localAddress(errno, client, arena), NativeSockets.remoteAddress(errno, server, arena));
        assertEquals(-1, NativeSockets.accept(errno, listener, peer, length), "no second connection: EAGAIN is -1");
        return new int[]{client, server};
    }

    @Test
    void bytesGoBothWaysOverIPv4AndIPv6() throws IOException {
        for (InetAddress ip : new InetAddress[]{InetAddress.getByName("127.0.0.1"), InetAddress.getByName("::1")}) {
            int[] p = connectedPair(ip);
            NativeSockets.setNoDelay(errno, p[0], true, arena);
            byte[] hello = ("hello over " + ip).getBytes(StandardCharsets.US_ASCII);
            assertEquals(hello.length, NativeSockets.write(errno, p[0], MemorySegment.ofArray(hello)), "sent from a heap array");
            await(p[1], Poller.READ);
            byte[] in = new byte[100];
            long n = NativeSockets.read(errno, p[1], MemorySegment.ofArray(in));
            assertArrayEquals(hello, java.util.Arrays.copyOf(in, (int) n), "read into a heap array");
            assertEquals(0, NativeSockets.read(errno, p[1], MemorySegment.ofArray(in)), "nothing more: 0, not end of stream");
        }
    }

    @Test
    void aGatheringWriteSendsEveryBufferInOrder() throws IOException {
        int[] p = connectedPair(InetAddress.getLoopbackAddress());
        NativeIO io = new NativeIO(arena, errno);
        String[] parts = {"one,", "two,", "three"};
        java.nio.ByteBuffer[] srcs = new java.nio.ByteBuffer[parts.length];
        for (int i = 0; i < parts.length; i++) { // direct, heap, direct: one sendmsg, by address and staged
            byte[] bytes = parts[i].getBytes(StandardCharsets.US_ASCII);
            srcs[i] = i == 1 ? java.nio.ByteBuffer.wrap(bytes) : java.nio.ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
        }
        assertEquals(13, io.write(p[0], srcs, parts.length));
        for (java.nio.ByteBuffer b : srcs) {
            assertFalse(b.hasRemaining(), "each buffer's position moved past what was sent");
        }
        await(p[1], Poller.READ);
        MemorySegment in = arena.allocate(64);
        long n = NativeSockets.read(errno, p[1], in);
        assertEquals("one,two,three", new String(in.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII));
    }

    @Test
    void directBuffersOfEveryKindAreReadAndWrittenInPlaceAndAClosedArenasAreRefused() throws IOException {
        int[] p = connectedPair(InetAddress.getLoopbackAddress());
        NativeIO io = new NativeIO(arena, errno);
        java.nio.ByteBuffer owner = java.nio.ByteBuffer.allocateDirect(64);
        owner.put(0, "..slice..".getBytes(StandardCharsets.US_ASCII));
        java.nio.ByteBuffer slice = owner.slice(2, 5); // a view whose index 0 is two bytes into its owner's memory
        try (Arena shared = Arena.ofShared()) {
            java.nio.ByteBuffer overSegment = shared.allocate(8).asByteBuffer().put("segment".getBytes(StandardCharsets.US_ASCII)).flip();
            assertEquals(5, io.write(p[0], slice));
            assertEquals(7, io.write(p[0], overSegment));
        }
        await(p[1], Poller.READ);
        java.nio.ByteBuffer in = java.nio.ByteBuffer.allocateDirect(64).position(3);
        java.nio.ByteBuffer into = in.slice(); // read through a view at an offset too
        assertEquals(12, io.read(p[1], into));
        assertEquals("slicesegment", StandardCharsets.US_ASCII.decode(into.flip()).toString());

        Arena closed = Arena.ofShared();
        java.nio.ByteBuffer freed = closed.allocate(8).asByteBuffer();
        closed.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> io.read(p[1], freed));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> io.write(p[0], freed));
        assertThrows(IllegalStateException.class, () -> io.write(p[0], new java.nio.ByteBuffer[]{slice.clear(), freed}, 2));
    }

    @Test
    void heapBuffersAtAnOffsetAreCopiedThroughTheStagingAreaInPieces() throws IOException {
        int[] p = connectedPair(InetAddress.getLoopbackAddress());
        NativeIO io = new NativeIO(arena, errno);
        byte[] data = new byte[200_000];
        new java.util.Random(7).nextBytes(data);
        java.nio.ByteBuffer out = java.nio.ByteBuffer.wrap(new byte[data.length + 3]).position(3).slice().put(data).flip();
        java.nio.ByteBuffer in = java.nio.ByteBuffer.allocate(data.length + 5).position(5).slice(); // arrayOffset 5
        while (in.hasRemaining()) {
            if (out.hasRemaining()) {
                int before = out.position();
                int n = io.write(p[0], out);
                assertTrue(n <= 64 * 1024, "at most the staging area per call: " + n);
                assertEquals(before + Math.max(n, 0), out.position());
            }
            await(p[1], Poller.READ);
            int n = io.read(p[1], in);
            assertTrue(n > 0 && n <= 64 * 1024, "read " + n);
        }
        assertArrayEquals(data, java.util.Arrays.copyOfRange(in.array(), 5, 5 + data.length));
    }

    @Test
    void halfCloseIsEndOfStreamAndResetIsAnError() throws IOException {
        int[] p = connectedPair(InetAddress.getLoopbackAddress());
        NativeSockets.shutdownOutput(errno, p[0]);
        await(p[1], Poller.READ);
        MemorySegment in = arena.allocate(16);
        assertEquals(-1, NativeSockets.read(errno, p[1], in), "the peer's shutdown is end of stream");
        assertEquals(1, NativeSockets.write(errno, p[1], arena.allocateFrom("x").asSlice(0, 1)), "our side still sends");

        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int fd = track(NativeSockets.open(errno, NativeSockets.AF_INET));
            InetSocketAddress address = (InetSocketAddress) server.getLocalSocketAddress();
            if (!NativeSockets.connect(errno, fd, address, arena)) {
                await(fd, Poller.WRITE);
                NativeSockets.finishConnect(errno, fd, address, arena);
            }
            try (Socket accepted = server.accept()) {
                accepted.setSoLinger(true, 0);
            } // RST
            int events = await(fd, Poller.READ);
            assertEquals(Poller.ERROR, events & Poller.ERROR, "a reset is ERROR on epoll");
            SocketException e = assertThrows(SocketException.class, () -> NativeSockets.read(errno, fd, in));
            assertTrue(e.getMessage().startsWith("Connection reset"), e.getMessage());
        }
    }

    @Test
    void aRefusedConnectFailsWithConnectException() throws IOException {
        InetSocketAddress closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = (InetSocketAddress) s.getLocalSocketAddress();
        }
        int fd = track(NativeSockets.open(errno, NativeSockets.AF_INET));
        InetSocketAddress target = closed;
        boolean done;
        try {
            done = NativeSockets.connect(errno, fd, target, arena);
        } catch (ConnectException refusedAtOnce) {
            assertTrue(refusedAtOnce.getMessage().contains("refused"), refusedAtOnce.getMessage());
            return;
        }
        assertFalse(done);
        int events = await(fd, Poller.WRITE);
        assertEquals(Poller.ERROR, events & Poller.ERROR);
        ConnectException e = assertThrows(ConnectException.class, () -> NativeSockets.finishConnect(errno, fd, target, arena));
        assertTrue(e.getMessage().contains("refused") && e.getMessage().contains(String.valueOf(target.getPort())), e.getMessage());
    }

    @Test
    void listeningOnAPortInUseNamesTheAddress() throws IOException {
        int first = track(NativeSockets.listen(errno, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16, false, arena));
        InetSocketAddress taken = NativeSockets.localAddress(errno, first, arena);
        IOException e = assertThrows(IOException.class, () -> NativeSockets.listen(errno, taken, 16, false, arena));
        assertTrue(e.getMessage().contains("bind") && e.getMessage().contains(String.valueOf(taken.getPort()))
                && e.getMessage().contains("in use"), e.getMessage());
    }

    @Test
    void aGatheringWriteWhoseHeapBufferOverflowsTheStagingAreaKeepsTheOrder() throws IOException {
        int[] p = connectedPair(InetAddress.getLoopbackAddress());
        NativeIO io = new NativeIO(arena, errno);
        byte[] big = new byte[70_000]; // more than the 64 KiB staging area: its tail must go before what follows
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i % 251);
        }
        java.nio.ByteBuffer heap = java.nio.ByteBuffer.wrap(big);
        java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(100);
        for (int i = 0; i < 100; i++) {
            direct.put(i, (byte) 0x7f);
        }
        java.nio.ByteBuffer[] srcs = {heap, direct};
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while ((heap.hasRemaining() || direct.hasRemaining()) && System.nanoTime() - deadline < 0) {
            io.write(p[0], srcs, 2);
        }
        java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
        MemorySegment in = arena.allocate(16_384);
        while (got.size() < big.length + 100 && System.nanoTime() - deadline < 0) {
            long n = NativeSockets.read(errno, p[1], in);
            if (n > 0) {
                got.write(in.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), 0, (int) n);
            } else {
                await(p[1], Poller.READ);
            }
        }
        byte[] expected = java.util.Arrays.copyOf(big, big.length + 100);
        java.util.Arrays.fill(expected, big.length, expected.length, (byte) 0x7f);
        assertArrayEquals(expected, got.toByteArray(), "every byte, in order");
    }
}
