package io.eddy.ioloop.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few libc calls of the epoll backend, bound through {@code java.lang.foreign} (no JNI, nothing to ship).
 * Linux only; load this class only after {@link NativeSupport#unavailableReason()} said yes.
 *
 * <p>Every call that can fail takes an {@link Errno} first, where the call's {@code errno} is captured
 * (the JVM may run code between the call and a later read of errno that changes it). Calls that never
 * block are linked as {@linkplain Linker.Option#critical critical}: no thread-state transition, about the
 * cost of a JNI-free function call. {@code epoll_wait} can block, so it is linked normally.
 */
public final class LibC {

    public static final int EPOLLIN = 0x001;
    public static final int EPOLLOUT = 0x004;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLRDHUP = 0x2000;

    static final int EPOLL_CTL_ADD = 1;
    static final int EPOLL_CTL_DEL = 2;
    static final int EPOLL_CTL_MOD = 3;
    static final int EPOLL_CLOEXEC = 0x80000;
    static final int EFD_CLOEXEC = 0x80000;
    static final int EFD_NONBLOCK = 0x800;

    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    static final int ENOENT = 2;
    static final int EBADF = 9;
    static final int EEXIST = 17;

    /** {@code struct epoll_event}: packed on x86_64 (12 bytes), naturally aligned elsewhere (16 bytes). */
    static final StructLayout EPOLL_EVENT = "amd64".equals(System.getProperty("os.arch"))
            || "x86_64".equals(System.getProperty("os.arch"))
            ? MemoryLayout.structLayout(JAVA_INT.withName("events"), JAVA_LONG.withByteAlignment(4).withName("data"))
            : MemoryLayout.structLayout(JAVA_INT.withName("events"), MemoryLayout.paddingLayout(4),
            JAVA_LONG.withName("data"));
    static final long EVENT_SIZE = EPOLL_EVENT.byteSize();
    static final long EVENTS_OFFSET = EPOLL_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("events"));
    static final long DATA_OFFSET = EPOLL_EVENT.byteOffset(MemoryLayout.PathElement.groupElement("data"));
    static final ValueLayout.OfLong DATA = JAVA_LONG.withByteAlignment(4);

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final Linker.Option CRITICAL = Linker.Option.critical(false);

    private static final MethodHandle EPOLL_CREATE1 = bind("epoll_create1",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT), CAPTURE_ERRNO, CRITICAL);
    private static final MethodHandle EPOLL_CTL = bind("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), CAPTURE_ERRNO, CRITICAL);
    private static final MethodHandle EPOLL_WAIT = bind("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle EVENTFD = bind("eventfd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE_ERRNO, CRITICAL);
    private static final MethodHandle READ = bind("read",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), CAPTURE_ERRNO, CRITICAL);
    private static final MethodHandle WRITE = bind("write",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), CAPTURE_ERRNO, CRITICAL);
    private static final MethodHandle CLOSE = bind("close",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT), CAPTURE_ERRNO, CRITICAL);
    private static final MethodHandle CLOSE_NO_ERRNO = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CRITICAL);
    private static final MethodHandle STRERROR = bind("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

    private LibC() {
    }

    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    /**
     * Where one thread's calls leave their {@code errno}. Owned by one thread at a time (the loop's); the
     * memory lives as long as the arena it was allocated in.
     */
    public static final class Errno {
        final MemorySegment state;

        public Errno(Arena arena) {
            this.state = arena.allocate(CAPTURE);
        }

        /** The errno of the last failed call made with this capture. */
        public int value() {
            return (int) ERRNO.get(state, 0L);
        }
    }

    static int epollCreate1(Errno e, int flags) {
        try {
            return (int) EPOLL_CREATE1.invokeExact(e.state, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int epollCtl(Errno e, int epfd, int op, int fd, MemorySegment event) {
        try {
            return (int) EPOLL_CTL.invokeExact(e.state, epfd, op, fd, event);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int epollWait(Errno e, int epfd, MemorySegment events, int maxEvents, int timeoutMillis) {
        try {
            return (int) EPOLL_WAIT.invokeExact(e.state, epfd, events, maxEvents, timeoutMillis);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static int eventfd(Errno e, int initval, int flags) {
        try {
            return (int) EVENTFD.invokeExact(e.state, initval, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long read(Errno e, int fd, MemorySegment buf, long count) {
        try {
            return (long) READ.invokeExact(e.state, fd, buf, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long write(Errno e, int fd, MemorySegment buf, long count) {
        try {
            return (long) WRITE.invokeExact(e.state, fd, buf, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int close(Errno e, int fd) {
        try {
            return (int) CLOSE.invokeExact(e.state, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Closes {@code fd}, ignoring the outcome (Linux frees the descriptor even when close reports an error).
     * Needs no errno capture, so it works on any thread, also after the loop that owned the descriptor closed.
     */
    public static void closeQuietly(int fd) {
        try {
            int ignored = (int) CLOSE_NO_ERRNO.invokeExact(fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The C library's text for {@code errno}, e.g. "Too many open files". */
    public static String strerror(int errno) {
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return text.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("native call failed", t);
    }
}
