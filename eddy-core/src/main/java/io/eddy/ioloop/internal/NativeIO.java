package io.eddy.ioloop.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One epoll loop's native scratch for moving a socket's bytes: the loop thread's errno capture, a staging
 * area for the heap buffers of a gathering write, the iovec array and msghdr of {@code sendmsg}. Made once
 * per loop and freed with it, so a connection holds none of it.
 *
 * <p>Direct buffers are read and written in place, by address ({@link DirectAddress}: no allocation; a buffer
 * over an arena's memory goes through a checked {@code MemorySegment} instead). Heap buffers are copied through
 * the staging area (up to its 64 KiB per call), as the JDK's channels copy them through a direct buffer.
 *
 * <p>Loop thread only.
 */
public final class NativeIO {

    /** Buffers per gathering write. */
    public static final int MAX_GATHER = 16;
    private static final int STAGING_SIZE = 64 * 1024;

    final LibC.Errno errno;
    private final MemorySegment staging;
    private final long stagingAddress;
    private final MemorySegment iovecs;
    private final long iovecsAddress;
    private final MemorySegment msghdr;
    private final long msghdrAddress;

    private final MemorySegment small;
    private final MemorySegment peer;
    private final MemorySegment peerLength;

    NativeIO(Arena arena, LibC.Errno errno) {
        this.errno = errno;
        this.staging = arena.allocate(STAGING_SIZE, 8);
        this.stagingAddress = staging.address();
        this.iovecs = arena.allocate(NativeSockets.IOVEC_SIZE * MAX_GATHER, 8);
        this.iovecsAddress = iovecs.address();
        MemorySegment msghdr = arena.allocate(NativeSockets.MSGHDR_SIZE, 8);
        msghdr.fill((byte) 0);
        msghdr.set(JAVA_LONG, 16, iovecsAddress); // msg_iov; msg_iovlen is set per call
        this.msghdrAddress = msghdr.address();
        this.msghdr = msghdr;
        this.small = arena.allocate(256, 8);
        this.peer = arena.allocate(NativeSockets.SOCKADDR_SIZE, 8);
        this.peerLength = arena.allocate(4, 4);
    }

    /** Reads from {@code fd} into {@code dst}'s remaining bytes: as {@link NativeSockets#read}; advances its position. */
    public int read(int fd, ByteBuffer dst) throws IOException {
        long address = dst.isDirect() ? DirectAddress.of(dst) : 0;
        long n;
        if (address != 0) {
            n = NativeSockets.readAt(errno, fd, address + dst.position(), dst.remaining());
        } else if (dst.hasArray()) { // through the staging area: no segment object per call
            n = NativeSockets.readAt(errno, fd, stagingAddress, Math.min(dst.remaining(), STAGING_SIZE));
            if (n > 0) {
                MemorySegment.copy(staging, JAVA_BYTE, 0, dst.array(), dst.arrayOffset() + dst.position(), (int) n);
            }
        } else {
            n = NativeSockets.read(errno, fd, MemorySegment.ofBuffer(dst)); // an arena's memory: checked
        }
        if (n > 0) {
            dst.position(dst.position() + (int) n);
        }
        return (int) n;
    }

    /** Writes {@code src}'s remaining bytes to {@code fd}: as {@link NativeSockets#write}; advances its position. */
    public int write(int fd, ByteBuffer src) throws IOException {
        long address = src.isDirect() ? DirectAddress.of(src) : 0;
        long n;
        if (address != 0) {
            n = NativeSockets.writeAt(errno, fd, address + src.position(), src.remaining());
        } else if (src.hasArray()) { // through the staging area: no segment object per call
            int length = Math.min(src.remaining(), STAGING_SIZE);
            MemorySegment.copy(src.array(), src.arrayOffset() + src.position(), staging, JAVA_BYTE, 0, length);
            n = NativeSockets.writeAt(errno, fd, stagingAddress, length);
        } else {
            n = NativeSockets.write(errno, fd, MemorySegment.ofBuffer(src)); // read-only, or an arena's memory: checked
        }
        if (n > 0) {
            src.position(src.position() + (int) n);
        }
        return (int) n;
    }

    /**
     * Gathering write of {@code srcs[0, count)} (at most {@link #MAX_GATHER}) in one {@code sendmsg}; heap
     * buffers are copied into the staging area first, as far as it reaches. Advances the buffers' positions by
     * what was sent; returns that count (0 if the socket buffer is full).
     */
    public long write(int fd, ByteBuffer[] srcs, int count) throws IOException {
        if (count == 1) {
            return write(fd, srcs[0]);
        }
        int iov = 0;
        long staged = 0;
        for (int i = 0; i < count && iov < MAX_GATHER; i++) {
            ByteBuffer b = srcs[i];
            int length = b.remaining();
            if (length == 0) {
                continue;
            }
            long base = b.isDirect() ? DirectAddress.of(b) : 0;
            boolean cut = false;
            if (base != 0) {
                base += b.position();
            } else { // a heap buffer, or memory an arena may free: copied (checked) into the staging area
                int room = (int) (STAGING_SIZE - staged);
                if (room == 0) {
                    break;
                }
                cut = length > room;
                length = Math.min(length, room);
                if (b.hasArray()) {
                    MemorySegment.copy(b.array(), b.arrayOffset() + b.position(), staging, JAVA_BYTE, staged, length);
                } else {
                    MemorySegment.copy(MemorySegment.ofBuffer(b), 0, staging, staged, length);
                }
                base = stagingAddress + staged;
                staged += length;
            }
            long entry = iov * NativeSockets.IOVEC_SIZE;
            iovecs.set(JAVA_LONG, entry, base);
            iovecs.set(JAVA_LONG, entry + 8, length);
            iov++;
            if (cut) {
                break; // the rest of this buffer goes next time: nothing after it may go before it
            }
        }
        if (iov == 0) {
            return 0;
        }
        msghdr.set(JAVA_LONG, 24, iov); // msg_iovlen
        long n = NativeSockets.sendmsgAt(errno, fd, msghdrAddress);
        long left = n;
        for (int i = 0; i < count && left > 0; i++) {
            ByteBuffer b = srcs[i];
            int taken = (int) Math.min(left, b.remaining());
            b.position(b.position() + taken);
            left -= taken;
        }
        return n;
    }

    /**
     * Accepts a connection on listening socket {@code fd}: its descriptor (non-blocking, close-on-exec), or -1
     * when none is waiting; {@link #acceptedPeer()} is then its peer. Throws for EMFILE and the like.
     */
    public int accept(int fd) throws IOException {
        return NativeSockets.accept(errno, fd, peer, peerLength);
    }

    /** The peer of the connection {@link #accept} returned last. */
    public InetSocketAddress acceptedPeer() throws IOException {
        return NativeSockets.decode(peer);
    }

    /**
     * Scratch memory for one set-up call (a socket address, an option's value): valid until the next call
     * of this method. Loop thread.
     */
    public SegmentAllocator scratch() {
        return SegmentAllocator.slicingAllocator(small);
    }

    /** The errno capture of the loop thread, for the other native calls a transport makes. */
    public LibC.Errno errno() {
        return errno;
    }
}
