package io.eddy.ioloop.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteBuffer;

/**
 * The native address of a direct buffer, read without allocating (the JDK's {@code sun.nio.ch.DirectBuffer},
 * which the epoll backend has access to anyway), for the buffers whose memory is certain to outlive the call:
 * those of {@link ByteBuffer#allocateDirect} or a mapped file, and their views, which keep the memory
 * reachable. A buffer over an {@code Arena}'s segment can be freed by closing the arena: for those the caller
 * goes through {@code MemorySegment.ofBuffer}, which checks that the memory is still there.
 *
 * <p>Threads: any.
 */
final class DirectAddress {

    private static final Class<?> DIRECT_BUFFER;
    private static final MethodHandle ADDRESS;
    private static final MethodHandle ATTACHMENT;
    private static final MethodHandle CLEANER;

    static {
        try {
            DIRECT_BUFFER = Class.forName("sun.nio.ch.DirectBuffer");
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            ADDRESS = lookup.findVirtual(DIRECT_BUFFER, "address", MethodType.methodType(long.class))
                    .asType(MethodType.methodType(long.class, Object.class));
            ATTACHMENT = lookup.findVirtual(DIRECT_BUFFER, "attachment", MethodType.methodType(Object.class))
                    .asType(MethodType.methodType(Object.class, Object.class));
            Class<?> cleaner = Class.forName("jdk.internal.ref.Cleaner");
            CLEANER = lookup.findVirtual(DIRECT_BUFFER, "cleaner", MethodType.methodType(cleaner))
                    .asType(MethodType.methodType(Object.class, Object.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private DirectAddress() {
    }

    /**
     * The address of direct buffer {@code b}'s index 0, or 0 if its memory could be freed under the call
     * (not a buffer this class can vouch for: see the class description).
     */
    static long of(ByteBuffer b) {
        try {
            Object attachment = (Object) ATTACHMENT.invokeExact((Object) b);
            // A view's attachment is the buffer that allocated the memory; that one has the memory's cleaner.
            Object owner = attachment == null ? b : attachment;
            if (!DIRECT_BUFFER.isInstance(owner) || (Object) CLEANER.invokeExact(owner) == null) {
                return 0;
            }
            return (long) ADDRESS.invokeExact((Object) b);
        } catch (Throwable t) {
            throw new IllegalStateException("reading a direct buffer's address", t);
        }
    }
}
