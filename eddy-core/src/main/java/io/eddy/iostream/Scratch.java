package io.eddy.iostream;

import java.nio.ByteBuffer;

/**
 * Each loop thread's direct buffer for socket I/O: reads land here and only the bytes that arrived are
 * copied into the stream's own buffer, sized to its data (libuv's approach); a small {@code write(byte[])}
 * goes out from here. Direct, so the JDK needs no temporary buffer of its own. Nothing in it outlives the
 * call that filled it (no caller's code runs in between), so every stream on the thread shares it.
 *
 * <p>Threads: loop threads only, each with its own buffer.
 */
final class Scratch {

    private static final ThreadLocal<ByteBuffer> BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(64 * 1024));

    private Scratch() {
    }

    /** This thread's buffer (64 KiB, or larger once a stream asked for more). */
    static ByteBuffer get() {
        return BUFFER.get();
    }

    /** This thread's buffer, replaced by a larger one first if it holds fewer than {@code capacity} bytes. */
    static ByteBuffer atLeast(int capacity) {
        ByteBuffer scratch = BUFFER.get();
        if (scratch.capacity() < capacity) {
            scratch = ByteBuffer.allocateDirect(capacity);
            BUFFER.set(scratch);
        }
        return scratch;
    }
}
