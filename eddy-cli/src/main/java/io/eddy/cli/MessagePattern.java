package io.eddy.cli;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The bytes the load client sends, so that every echoed byte can be checked without keeping a copy:
 * message {@code seq} of a connection is a slice of one fixed random block, starting at an offset that
 * moves with {@code seq}. A lost, repeated, reordered or altered message no longer matches.
 *
 * <p>Immutable; the block is shared by all connections. {@link #view} is per connection (not thread-safe).
 */
final class MessagePattern {

    private static final int OFFSETS = 4096;

    private final byte[] block;
    private final int size;

    /** A pattern for messages of {@code size} bytes. */
    MessagePattern(int size) {
        this.size = size;
        block = new byte[size + OFFSETS];
        new SplittableRandom(42).nextBytes(block);
    }

    int size() {
        return size;
    }

    /** Where message {@code seq} of connection {@code id} starts in the block. */
    private static int offset(int id, long seq) {
        return (int) Math.floorMod(seq * 7919 + id * 104729L, OFFSETS);
    }

    /** A reusable buffer over the block, for {@link #message}. */
    ByteBuffer view() {
        return ByteBuffer.wrap(block);
    }

    /** Sets {@code view} (from {@link #view}) to message {@code seq} of connection {@code id}. */
    ByteBuffer message(ByteBuffer view, int id, long seq) {
        int from = offset(id, seq);
        view.limit(from + size).position(from);
        return view;
    }

    /**
     * The index of the first byte of {@code received[0..size)} that differs from message {@code seq} of
     * connection {@code id}, or -1 if all match.
     */
    int mismatch(byte[] received, int id, long seq) {
        int from = offset(id, seq);
        return Arrays.mismatch(received, 0, size, block, from, from + size);
    }
}
