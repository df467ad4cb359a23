package io.eddy.ioloop.internal;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * TCP sockets on file descriptors, through libc: what a stream or server needs when it owns its socket
 * natively on the epoll backend (no {@code SocketChannel} per connection). Linux only; use only where
 * {@link NativeSupport#unavailableReason()} is null.
 *
 * <p>Every method is safe on any thread; each takes the caller's {@link LibC.Errno}. Failures are
 * {@link IOException}s whose message names the call and the C library's text for errno.
 */
public final class NativeSockets {

    /** A sockaddr's port: network byte order (made once: {@code withOrder} builds a new layout per call). */
    private static final ValueLayout.OfShort PORT = JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    public static final int AF_INET = 2;
    public static final int AF_INET6 = 10;
    static final int SOCK_STREAM = 1;
    static final int SOCK_NONBLOCK = 0x800;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SO_REUSEADDR = 2;
    static final int SO_ERROR = 4;
    static final int SO_KEEPALIVE = 9;
    static final int SO_REUSEPORT = 15;
    static final int IPPROTO_TCP = 6;
    static final int TCP_NODELAY = 1;
    static final int IPPROTO_IPV6 = 41;
    static final int IPV6_V6ONLY = 26;
    public static final int SHUT_WR = 1;
    static final int MSG_NOSIGNAL = 0x4000;

    public static final int EINPROGRESS = 115;
    public static final int ECONNRESET = 104;
    public static final int EPIPE = 32;
    public static final int EMFILE = 24;
    public static final int ENFILE = 23;
    static final int ECONNREFUSED = 111;

    /** Bytes of a {@code sockaddr_in6}, the larger of the two addresses. */
    public static final long SOCKADDR_SIZE = 28;
    /** Bytes of a {@code struct iovec}. */
    public static final long IOVEC_SIZE = 16;
    /** Bytes of a {@code struct msghdr} on a 64-bit Linux. */
    static final long MSGHDR_SIZE = 56;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);
    /** Critical with heap access: a heap buffer's bytes are passed in place, without a copy. */
    private static final Linker.Option CRITICAL_HEAP = Linker.Option.critical(true);

    private static final MethodHandle SOCKET = bind("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle SETSOCKOPT = bind("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle GETSOCKOPT = bind("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle BIND = bind("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle LISTEN = bind("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle CONNECT = bind("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle ACCEPT4 = bind("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    private static final MethodHandle GETSOCKNAME = bind("getsockname", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle GETPEERNAME = bind("getpeername", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle SHUTDOWN = bind("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle RECV = LINKER.downcallHandle(LINKER.defaultLookup().find("recv").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO, CRITICAL_HEAP);
    private static final MethodHandle SEND = LINKER.downcallHandle(LINKER.defaultLookup().find("send").orElseThrow(),
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO, CRITICAL_HEAP);
    // The same calls with native addresses as plain longs: no MemorySegment made per call on the data path.
    private static final MethodHandle RECV_AT = bind("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SEND_AT = bind("send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    private static final MethodHandle SENDMSG_AT = bind("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));

    private NativeSockets() {
    }

    private static MethodHandle bind(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, ERRNO, CRITICAL);
    }

    // ---------------------------------------------------------------- sockets

    /** A new non-blocking, close-on-exec TCP socket of {@code family} ({@link #AF_INET} or {@link #AF_INET6}). */
    public static int open(LibC.Errno e, int family) throws IOException {
        int fd = call(() -> (int) SOCKET.invokeExact(e.state, family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (fd < 0) {
            throw failure("socket", e.value());
        }
        return fd;
    }

    /** The family to open for {@code address}. */
    public static int familyOf(InetAddress address) {
        return address instanceof Inet6Address ? AF_INET6 : AF_INET;
    }

    /**
     * Starts a non-blocking connect. Returns true if it completed at once, false if it is in progress (the
     * socket becomes writable when it finishes; {@link #finishConnect} tells how).
     */
    public static boolean connect(LibC.Errno e, int fd, InetSocketAddress remote, SegmentAllocator scratch) throws IOException {
        MemorySegment addr = scratch.allocate(SOCKADDR_SIZE, 8);
        int len = encode(remote, addr);
        int r = call(() -> (int) CONNECT.invokeExact(e.state, fd, addr, len));
        if (r == 0) {
            return true;
        }
        int errno = e.value();
        if (errno == EINPROGRESS) {
            return false;
        }
        throw connectFailure(errno, remote);
    }

    /** After a connect's socket became writable: throws how it failed, if it did. */
    public static void finishConnect(LibC.Errno e, int fd, InetSocketAddress remote, SegmentAllocator scratch) throws IOException {
        int error = getIntOption(e, fd, SOL_SOCKET, SO_ERROR, scratch);
        if (error != 0) {
            throw connectFailure(error, remote);
        }
    }

    /** Binds and listens: a non-blocking listening socket on {@code local}. */
    public static int listen(LibC.Errno e, InetSocketAddress local, int backlog, boolean reusePort,
                             SegmentAllocator scratch) throws IOException {
        int fd = open(e, familyOf(local.getAddress()));
        try {
            setIntOption(e, fd, SOL_SOCKET, SO_REUSEADDR, 1, scratch);
            if (reusePort) {
                setIntOption(e, fd, SOL_SOCKET, SO_REUSEPORT, 1, scratch);
            }
            if (local.getAddress() instanceof Inet6Address) {
                setIntOption(e, fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, scratch);
            }
            MemorySegment addr = scratch.allocate(SOCKADDR_SIZE, 8);
            int len = encode(local, addr);
            if (call(() -> (int) BIND.invokeExact(e.state, fd, addr, len)) < 0) {
                throw failure("bind " + local, e.value());
            }
            if (call(() -> (int) LISTEN.invokeExact(e.state, fd, backlog)) < 0) {
                throw failure("listen", e.value());
            }
            return fd;
        } catch (IOException | RuntimeException failure) {
            LibC.close(e, fd);
            throw failure;
        }
    }

    /**
     * Accepts one connection, non-blocking and close-on-exec, writing the peer's address into
     * {@code peer} (at least {@link #SOCKADDR_SIZE} bytes). Returns its descriptor, or -1 when none is waiting
     * (EAGAIN) or the one waiting went away first (ECONNABORTED); throws for anything else (EMFILE…).
     */
    public static int accept(LibC.Errno e, int listenFd, MemorySegment peer, MemorySegment peerLength) throws IOException {
        peerLength.set(JAVA_INT, 0, (int) SOCKADDR_SIZE);
        int fd = call(() -> (int) ACCEPT4.invokeExact(e.state, listenFd, peer, peerLength, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd >= 0) {
            return fd;
        }
        int errno = e.value();
        if (errno == LibC.EAGAIN || errno == 103 /* ECONNABORTED */ || errno == LibC.EINTR) {
            return -1;
        }
        throw failure("accept", errno);
    }

    public static InetSocketAddress localAddress(LibC.Errno e, int fd, SegmentAllocator scratch) throws IOException {
        return name(e, fd, GETSOCKNAME, "getsockname", scratch);
    }

    public static InetSocketAddress remoteAddress(LibC.Errno e, int fd, SegmentAllocator scratch) throws IOException {
        return name(e, fd, GETPEERNAME, "getpeername", scratch);
    }

    private static InetSocketAddress name(LibC.Errno e, int fd, MethodHandle call, String what, SegmentAllocator scratch)
            throws IOException {
        MemorySegment addr = scratch.allocate(SOCKADDR_SIZE, 8);
        MemorySegment len = scratch.allocate(JAVA_INT);
        len.set(JAVA_INT, 0, (int) SOCKADDR_SIZE);
        if (call(() -> (int) call.invokeExact(e.state, fd, addr, len)) < 0) {
            throw failure(what, e.value());
        }
        return decode(addr);
    }

    public static void setNoDelay(LibC.Errno e, int fd, boolean on, SegmentAllocator scratch) throws IOException {
        setIntOption(e, fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0, scratch);
    }

    public static void setKeepAlive(LibC.Errno e, int fd, boolean on, SegmentAllocator scratch) throws IOException {
        setIntOption(e, fd, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0, scratch);
    }

    /** Shuts down the sending side (the peer reads end of stream once the data sent is in). */
    public static void shutdownOutput(LibC.Errno e, int fd) throws IOException {
        if (call(() -> (int) SHUTDOWN.invokeExact(e.state, fd, SHUT_WR)) < 0) {
            throw failure("shutdown", e.value());
        }
    }

    // ---------------------------------------------------------------- data

    /**
     * Reads into {@code buffer} (native or heap). Returns the bytes read, 0 if none are waiting (EAGAIN),
     * -1 at end of stream; throws on an error (ECONNRESET…).
     */
    public static long read(LibC.Errno e, int fd, MemorySegment buffer) throws IOException {
        long n;
        try {
            n = (long) RECV.invokeExact(e.state, fd, buffer, buffer.byteSize(), 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return received(e, n, buffer.byteSize());
    }

    /** Sends from {@code buffer} (native or heap): the bytes sent, 0 if the socket buffer is full. No SIGPIPE. */
    public static long write(LibC.Errno e, int fd, MemorySegment buffer) throws IOException {
        long n;
        try {
            n = (long) SEND.invokeExact(e.state, fd, buffer, buffer.byteSize(), MSG_NOSIGNAL);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return sent(e, n);
    }

    /** {@link #read} into native memory at {@code address}, {@code length} bytes. */
    public static long readAt(LibC.Errno e, int fd, long address, long length) throws IOException {
        long n;
        try {
            n = (long) RECV_AT.invokeExact(e.state, fd, address, length, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return received(e, n, length);
    }

    /** {@link #write} from native memory at {@code address}, {@code length} bytes. */
    public static long writeAt(LibC.Errno e, int fd, long address, long length) throws IOException {
        long n;
        try {
            n = (long) SEND_AT.invokeExact(e.state, fd, address, length, MSG_NOSIGNAL);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return sent(e, n);
    }

    /**
     * Sends the buffers a {@code struct msghdr} at native {@code msghdr} describes (its {@code msg_iov} and
     * {@code msg_iovlen} filled in), in one call: the bytes sent, 0 if the socket buffer is full. No SIGPIPE.
     */
    public static long sendmsgAt(LibC.Errno e, int fd, long msghdr) throws IOException {
        long n;
        try {
            n = (long) SENDMSG_AT.invokeExact(e.state, fd, msghdr, MSG_NOSIGNAL);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return sent(e, n);
    }

    /** A read's result: the bytes, -1 at end of stream, 0 for EAGAIN/EINTR; throws for an error. */
    private static long received(LibC.Errno e, long n, long asked) throws IOException {
        if (n > 0) {
            return n;
        }
        if (n == 0) {
            return asked == 0 ? 0 : -1;
        }
        int errno = e.value();
        if (errno == LibC.EAGAIN || errno == LibC.EINTR) {
            return 0;
        }
        throw failure("read", errno);
    }

    /** A send's result: the bytes, 0 for EAGAIN/EINTR (the socket buffer is full); throws for an error. */
    private static long sent(LibC.Errno e, long n) throws IOException {
        if (n >= 0) {
            return n;
        }
        int errno = e.value();
        if (errno == LibC.EAGAIN || errno == LibC.EINTR) {
            return 0;
        }
        throw failure("write", errno);
    }

    // ---------------------------------------------------------------- options and addresses

    static void setIntOption(LibC.Errno e, int fd, int level, int option, int value, SegmentAllocator scratch)
            throws IOException {
        MemorySegment v = scratch.allocate(JAVA_INT);
        v.set(JAVA_INT, 0, value);
        if (call(() -> (int) SETSOCKOPT.invokeExact(e.state, fd, level, option, v, 4)) < 0) {
            throw failure("setsockopt(" + level + ", " + option + ")", e.value());
        }
    }

    static int getIntOption(LibC.Errno e, int fd, int level, int option, SegmentAllocator scratch) throws IOException {
        MemorySegment v = scratch.allocate(JAVA_INT);
        MemorySegment len = scratch.allocate(JAVA_INT);
        len.set(JAVA_INT, 0, 4);
        if (call(() -> (int) GETSOCKOPT.invokeExact(e.state, fd, level, option, v, len)) < 0) {
            throw failure("getsockopt(" + level + ", " + option + ")", e.value());
        }
        return v.get(JAVA_INT, 0);
    }

    /** Writes {@code address} as a sockaddr_in or sockaddr_in6 into {@code out}; returns its length. */
    static int encode(InetSocketAddress address, MemorySegment out) throws UnknownHostException {
        InetAddress ip = address.getAddress();
        if (ip == null) {
            throw new UnknownHostException(address.getHostString());
        }
        out.fill((byte) 0);
        short port = (short) address.getPort();
        if (ip instanceof Inet4Address) {
            out.set(JAVA_SHORT, 0, (short) AF_INET);
            out.set(PORT, 2, port);
            MemorySegment.copy(ip.getAddress(), 0, out, JAVA_BYTE, 4, 4);
            return 16;
        }
        Inet6Address ip6 = (Inet6Address) ip;
        out.set(JAVA_SHORT, 0, (short) AF_INET6);
        out.set(PORT, 2, port);
        MemorySegment.copy(ip6.getAddress(), 0, out, JAVA_BYTE, 8, 16);
        out.set(JAVA_INT, 24, ip6.getScopeId());
        return 28;
    }

    /** Reads a sockaddr_in or sockaddr_in6. */
    public static InetSocketAddress decode(MemorySegment in) throws UnknownHostException {
        int family = in.get(JAVA_SHORT, 0);
        int port = Short.toUnsignedInt(in.get(PORT, 2));
        if (family == AF_INET) {
            byte[] ip = new byte[4];
            MemorySegment.copy(in, JAVA_BYTE, 4, ip, 0, 4);
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        }
        byte[] ip = new byte[16];
        MemorySegment.copy(in, JAVA_BYTE, 8, ip, 0, 16);
        int scope = in.get(JAVA_INT, 24);
        InetAddress address = scope != 0 ? Inet6Address.getByAddress(null, ip, scope) : InetAddress.getByAddress(ip);
        return new InetSocketAddress(address, port);
    }

    // ---------------------------------------------------------------- errors

    static IOException failure(String call, int errno) {
        String text = LibC.strerror(errno);
        return switch (errno) {
            case ECONNRESET, EPIPE -> new SocketException(capitalized(text) + " (" + call + ")");
            default -> new IOException(call + " failed: " + text + " (errno " + errno + ")");
        };
    }

    private static IOException connectFailure(int errno, InetSocketAddress remote) {
        String text = LibC.strerror(errno);
        return errno == ECONNREFUSED ? new ConnectException(text + ": " + remote)
                : new ConnectException("connect to " + remote + " failed: " + text + " (errno " + errno + ")");
    }

    private static String capitalized(String text) {
        return text.isEmpty() ? text : Character.toUpperCase(text.charAt(0)) + text.substring(1);
    }

    @FunctionalInterface
    private interface NativeCall<T> {
        T call() throws Throwable;
    }

    /** For the set-up calls; the data calls invoke their handles directly (no lambda, no boxing). */
    private static <T> T call(NativeCall<T> call) {
        try {
            return call.call();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error err) {
            throw err;
        }
        throw new IllegalStateException("native call failed", t);
    }
}
