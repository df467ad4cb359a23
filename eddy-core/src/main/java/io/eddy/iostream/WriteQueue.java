package io.eddy.iostream;

import io.eddy.ioloop.Context;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * A stream's outgoing bytes that the kernel has not taken yet, and the futures of the writes that queued
 * them. Bytes are counted from the stream's start: a write's future waits for the count of bytes written to
 * reach the count queued up to the end of that write, so futures complete in order however the bytes are
 * split between system calls.
 *
 * <p>Most writes never get here (the stream hands them to the kernel at once); the two deques are made by
 * the first write that has to wait, so an idle connection holds none.
 *
 * <p>Threads: the stream's loop thread only; {@link #unsent()} and {@link #isEmpty()} are snapshots elsewhere.
 */
final class WriteQueue {

    /** Each loop thread's array for gathering writes, filled and cleared within one {@link #flush}. */
    private static final ThreadLocal<ByteBuffer[]> GATHER = ThreadLocal.withInitial(() -> new ByteBuffer[16]);

    private ArrayDeque<ByteBuffer> buffers;
    private ArrayDeque<PendingWrite> futures;
    /** Bytes accepted by writes so far. */
    private long queued;
    /** Bytes handed to the kernel so far. */
    private long written;

    /** A write's future, due once {@code written} reaches {@code end}. */
    private record PendingWrite(long end, CompletableFuture<Void> future, Context context) {
    }

    /** True if no bytes wait for the kernel. */
    boolean isEmpty() {
        return buffers == null || buffers.isEmpty();
    }

    /** True if no write's future waits. */
    boolean noFutures() {
        return futures == null || futures.isEmpty();
    }

    /** Bytes accepted and not yet handed to the kernel (after a close: what was dropped). */
    long unsent() {
        return queued - written;
    }

    /** Counts {@code size} bytes of a new write as accepted (before they are sent or queued). */
    void accept(int size) {
        queued += size;
    }

    /** Counts {@code n} bytes as handed to the kernel outside {@link #flush} (a write sent at once). */
    void sent(long n) {
        written += n;
    }

    /** Queues {@code data} (the queue's own buffer from now on) after what is queued already. */
    void add(ByteBuffer data) {
        if (buffers == null) {
            buffers = new ArrayDeque<>(2);
        }
        buffers.add(data);
    }

    /** Makes {@code future} wait for every byte accepted so far. */
    void await(CompletableFuture<Void> future, Context context) {
        if (futures == null) {
            futures = new ArrayDeque<>(2);
        }
        futures.add(new PendingWrite(queued, future, context));
    }

    /**
     * Writes what is queued, gathering up to 16 buffers per call, until done or the kernel is full; then
     * completes the futures whose bytes are all written.
     */
    void flush(Transport transport) throws IOException {
        ByteBuffer[] gather = GATHER.get();
        while (!isEmpty()) {
            int count = 0;
            for (ByteBuffer b : buffers) {
                gather[count++] = b;
                if (count == gather.length) {
                    break;
                }
            }
            long n;
            try {
                n = transport.write(gather, count);
            } finally {
                Arrays.fill(gather, 0, count, null);
            }
            if (n <= 0) {
                break;
            }
            written += n;
            while (!isEmpty() && !buffers.peek().hasRemaining()) {
                buffers.poll();
            }
        }
        completeWritten();
    }

    /** Completes, in order, the futures whose bytes are all written. */
    void completeWritten() {
        while (!noFutures() && futures.peek().end() <= written) {
            PendingWrite w = futures.poll();
            Futures.complete(w.future(), null, w.context());
        }
    }

    /** The stream closed: fails every waiting future with {@code error}, in order. */
    void failAll(StreamClosedException error) {
        while (!noFutures()) {
            PendingWrite w = futures.poll();
            Futures.fail(w.future(), error, w.context());
        }
    }

    /** The stream closed: drops the queued bytes (they stay counted in {@link #unsent()}). */
    void clear() {
        if (buffers != null) {
            buffers.clear();
        }
    }

    /** A heap copy of {@code data}'s remaining bytes (advancing its position). */
    static ByteBuffer copyOf(ByteBuffer data) {
        ByteBuffer copy = ByteBuffer.allocate(data.remaining());
        copy.put(data).flip();
        return copy;
    }
}
