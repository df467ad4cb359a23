package io.eddy.iostream;

import io.eddy.ioloop.Context;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * The write side of an {@link IOStream}: writes go to the transport at once when nothing is queued ahead of
 * them; what the kernel does not take is queued, with the futures of the writes that queued it, and flushed
 * when the transport is writable. Bytes are counted from the stream's start: a write's future waits for the
 * count of bytes written to reach the count accepted up to the end of that write, so futures complete in
 * order however the bytes are split between system calls.
 *
 * <p>Most writes never wait; the two deques are made by the first write that has to, so an idle connection
 * holds none.
 *
 * <p>Threads: the stream's loop thread only; {@link #unsent()} and {@link #isEmpty()} are snapshots elsewhere.
 */
final class WriteQueue {

    /** Each loop thread's array for gathering writes, filled and cleared within one {@link #flush}. */
    private static final ThreadLocal<ByteBuffer[]> GATHER = ThreadLocal.withInitial(() -> new ByteBuffer[16]);

    private final StreamCore core;
    private final Transport transport;
    private final int maxBytes;
    private ArrayDeque<ByteBuffer> buffers;
    private ArrayDeque<PendingWrite> futures;
    /** Bytes accepted by writes so far. */
    private long queued;
    /** Bytes handed to the kernel so far. */
    private long written;
    /** Writes completed inside write() since one last waited for the loop; see {@link IOStream#MAX_INLINE_COMPLETIONS}. */
    private int inline;

    /** @param maxBytes the most that may wait for the kernel: the stream's {@code maxWriteBufferSize} */
    WriteQueue(StreamCore core, Transport transport, int maxBytes) {
        this.core = core;
        this.transport = transport;
        this.maxBytes = maxBytes;
    }

    /** A write's future, due once {@code written} reaches {@code end}. */
    private record PendingWrite(long end, CompletableFuture<Void> future, Context context) {
    }

    /**
     * Sends {@code data}'s remaining bytes, or queues what the kernel does not take; {@code future} completes
     * once they are all written. Fails it if the stream is closed or the queue would pass {@code maxBytes}
     * (then nothing of it is queued).
     *
     * @param owned false if {@code data} is the caller's: it is read from its position, and that position
     *              is put back before anything can run the caller's code (a completion)
     */
    void write(ByteBuffer data, CompletableFuture<Void> future, Context context, boolean owned) {
        int position = data.position();
        if (core.closed) {
            Futures.fail(future, new StreamClosedException(core.error), context);
            return;
        }
        int size = data.remaining();
        long unsent = queued - written;
        if (unsent + size > maxBytes) {
            Futures.fail(future, new StreamBufferFullException("Reached maximum write buffer size: " + unsent
                    + " bytes queued + " + size + " > " + maxBytes), context);
            return;
        }
        queued += size;
        if (isEmpty() && !core.connecting() && core.isConnected()) {
            // Nothing ahead of it: hand it to the kernel straight from the caller's bytes.
            try {
                while (data.hasRemaining()) {
                    int n = transport.write(data);
                    if (n == 0) {
                        break;
                    }
                    written += n;
                }
            } catch (IOException e) {
                data.position(position);
                await(future, context);
                core.closeQuietlyOrLoud(e);
                return;
            }
            if (!data.hasRemaining()) {
                data.position(position);
                if (++inline > IOStream.MAX_INLINE_COMPLETIONS) {
                    // As for reads: a writer issuing each write from the last one's completion would nest
                    // a call per write. Its future (and any after it, in order) completes from the loop.
                    inline = 0;
                    await(future, context);
                    core.loop.addCallback(this::completeWritten);
                } else if (noFutures()) {
                    Futures.complete(future, null, context);
                } else {
                    await(future, context);
                    completeWritten();
                }
                if (!core.closed && transport.holdsBytes()) {
                    // A TLS transport may still hold its last record: WRITE until the kernel takes it. (Not for a
                    // plain stream: between a read's completion and the next read this would drop READ
                    // interest only to add it back: two epoll_ctl per message.)
                    core.updateInterest();
                }
                return;
            }
        }
        inline = 0; // this one waits for the loop
        add(owned ? data : copyOf(data));
        if (!owned) {
            data.position(position);
        }
        await(future, context);
        if (!core.connecting()) {
            core.updateInterest();
        }
    }

    /** The loop called the stream: the stack is fresh, the nesting count starts again. */
    void resetNesting() {
        inline = 0;
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

    /** Queues {@code data} (the queue's own buffer from now on) after what is queued already. */
    private void add(ByteBuffer data) {
        if (buffers == null) {
            buffers = new ArrayDeque<>(2);
        }
        buffers.add(data);
    }

    /** Makes {@code future} wait for every byte accepted so far. */
    private void await(CompletableFuture<Void> future, Context context) {
        if (futures == null) {
            futures = new ArrayDeque<>(2);
        }
        futures.add(new PendingWrite(queued, future, context));
    }

    /**
     * Writes what is queued, gathering up to 16 buffers per call, until done or the kernel is full; then
     * completes the futures whose bytes are all written.
     */
    void flush() throws IOException {
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
