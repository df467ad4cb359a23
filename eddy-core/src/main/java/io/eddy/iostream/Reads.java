package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;

import java.io.IOException;
import java.nio.ByteBuffer;

import static io.eddy.iostream.Futures.complete;
import static io.eddy.iostream.Futures.fail;

/**
 * The read side of an {@link IOStream}: the one pending read, the {@link ReadBuffer} it is served from, and
 * the transport reads that fill the buffer. The transport is read only while a read needs more (flow
 * control: what is not needed stays in the kernel), or, while the stream is idle with a close callback,
 * just enough to notice the peer closing. Reads stop as soon as the pending read is satisfied.
 *
 * <p>The per-message path: a read issued on the loop thread reuses one {@link PendingRead}; a read with
 * nothing buffered takes its bytes straight from the {@link Scratch} buffer (BYTES) or the caller's buffer
 * (INTO); and after a transport read that came back short, or that completed its read, the stream counts
 * as drained and the next read waits for the selector instead of trying a read that would most likely
 * return EAGAIN (level-triggered: the selector reports at once if data is there).
 *
 * <p>Threads: the stream's loop thread only; {@link #pending()} and {@link #buffered()} are snapshots
 * elsewhere.
 */
final class Reads {

    private final StreamCore core;
    private final Transport transport;
    private final ReadBuffer buffer;
    private final int chunkSize;
    private PendingRead read;
    /** Reused for reads issued on the loop thread while none is pending. */
    private PendingRead spare;
    /** Reads begun so far: tells a read the stream is serving from one its completion began. */
    private int begun;
    /** Reads begun since the stream last waited for the loop; see {@link IOStream#MAX_INLINE_COMPLETIONS}. */
    private int inline;
    /**
     * No READ event came since the last transport read, and that read came back short or completed the
     * pending read: the next read waits for the selector.
     */
    private boolean drained;

    Reads(StreamCore core, Transport transport, StreamOptions options) {
        this.core = core;
        this.transport = transport;
        this.buffer = new ReadBuffer(options.maxBufferSize());
        this.chunkSize = options.readChunkSize();
    }

    /** True while a read is pending. */
    boolean pending() {
        return read != null;
    }

    /** Bytes buffered, not yet delivered to a read. */
    int buffered() {
        return buffer.size();
    }

    boolean bufferEmpty() {
        return buffer.isEmpty();
    }

    /**
     * A read to start: the reused one on the loop thread with no read pending, else a new one. Any thread.
     * ({@code loop} is the caller's: the stream's loop, passed rather than kept, for one field less per stream.)
     */
    PendingRead newRead(IOLoop loop, PendingRead.Kind kind, int size, boolean partial) {
        if (read == null && loop.inLoopThread()) {
            if (spare == null) {
                spare = new PendingRead();
            }
            return spare.set(kind, size, partial);
        }
        return new PendingRead().set(kind, size, partial);
    }

    /** Makes {@code r} the pending read and serves it, unless one is pending already. */
    void begin(PendingRead r) {
        if (read != null) {
            fail(r.future, new IllegalStateException("already reading"), r.context);
            return;
        }
        read = r;
        begun++;
        if (++inline > IOStream.MAX_INLINE_COMPLETIONS) {
            // Many reads in a row began (and so far completed) without the stream going back to the loop:
            // a reader that issues each read from the last one's completion nests a call per message.
            // This one goes on from the loop, on a fresh stack.
            inline = 0;
            core.stream.handOff(this::resume, this::failLoopClosed);
            return;
        }
        serve();
    }

    /** The loop called the stream: the stack is fresh, the nesting count starts again. */
    void resetNesting() {
        inline = 0;
    }

    /** The pending read will never be served: its loop closed. */
    private void failLoopClosed() {
        PendingRead r = read;
        if (r != null) {
            read = null;
            fail(r.future, core.stream.loopClosed(), r.context);
        }
    }

    private void resume() {
        if (read != null) {
            serve(); // also when closed meanwhile: the buffer may still satisfy it, or it fails
        }
    }

    /** Completes the pending read from the buffer or the transport if it can; otherwise waits for READ. */
    private void serve() {
        PendingRead r = read;
        int before = begun;
        try {
            if (satisfy(true)) {
                return;
            }
            if (core.closed) {
                read = null;
                fail(r.future, new StreamClosedException(core.error), r.context);
                return;
            }
            if (core.isConnected()) { // before connect: the read waits for the connection
                fill();
            }
        } catch (IOException e) {
            core.closeQuietlyOrLoud(e);
            return;
        }
        if (read != null && begun == before) {
            inline = 0; // this read waits for the loop: the nesting ends here
        }
        if (!core.closed) {
            core.updateInterest();
        }
    }

    /**
     * The transport is readable (the selector said so, or a transport acts as if: a handshake just done).
     * With {@code watchingForClose} (a close callback is set), an idle stream reads just enough to see an
     * end of stream.
     */
    void onReadable(boolean watchingForClose) throws IOException {
        drained = false;
        if (read != null) {
            fill();
        } else if (watchingForClose && buffer.isEmpty()) {
            if (readToBuffer() < 0) {
                core.stream.close(null);
            }
        }
    }

    /**
     * The stream is closing: data already buffered may still satisfy the pending read (a readUntilClose
     * always is); otherwise it fails with {@link StreamClosedException} caused by {@code cause}.
     */
    void onClose(Throwable cause) {
        PendingRead r = read;
        if (r == null) {
            return;
        }
        try {
            if (!satisfy(true)) {
                read = null;
                fail(r.future, new StreamClosedException(cause), r.context);
            }
        } catch (IOException unsatisfiable) {
            read = null;
            fail(r.future, new StreamClosedException(cause != null ? cause : unsatisfiable), r.context);
        }
    }

    /**
     * Completes the pending read if the buffer satisfies it; true if no read is pending any more.
     *
     * @param thorough see {@link PendingRead#resultFrom}
     * @throws UnsatisfiableReadException if the read never can be satisfied
     */
    private boolean satisfy(boolean thorough) throws IOException {
        PendingRead r = read;
        if (r == null) {
            return true;
        }
        Object result = r.kind == PendingRead.Kind.CLOSE
                ? (core.closed ? buffer.take(buffer.size()) : null)
                : r.resultFrom(buffer, thorough);
        if (result == null) {
            return false;
        }
        read = null; // before the completion, which may begin the next read
        complete(r.future, result, r.context);
        return true;
    }

    /**
     * Reads the transport while the pending read needs more and the transport has data. Stops as soon as
     * the read is satisfied: what is not needed stays in the kernel.
     */
    private void fill() throws IOException {
        // Drained: the last read came back short (or completed the read it was for) and no READ event came
        // since, so the kernel most likely has nothing: skip the read that would return EAGAIN (one syscall
        // per message for a reader that issues its next read from the completion). If data came meanwhile,
        // the selector reports it.
        int before = begun;
        while (read != null && !core.closed && !drained) {
            int n = read.kind == PendingRead.Kind.INTO && buffer.isEmpty() ? readDirect(read) : readToBuffer();
            if (n < 0) {
                core.stream.close(null);
                return;
            }
            if (read == null || begun != before) {
                return; // completed already (readToBuffer's direct path); a read its completion began is its own
            }
            if (n == 0) {
                satisfy(true); // the burst is over: search everything once more
                return;
            }
            if (satisfy(false)) {
                return;
            }
            if (drained) {
                satisfy(true); // as above: this burst is over
                return;
            }
        }
    }

    /**
     * An INTO read with nothing buffered reads straight into the caller's buffer. Whatever it gets, the
     * stream counts as drained: a short read says so, and a full one completes the read, so the next
     * read (often issued from its completion) waits for the selector rather than risk an EAGAIN read.
     */
    private int readDirect(PendingRead r) throws IOException {
        int n = transport.read(r.into);
        drained = n >= 0 && !transport.hasMore();
        if (n > 0) {
            r.delivered += n;
        }
        return n;
    }

    /** Reads at most one chunk into the buffer; -1 at end of stream, 0 when nothing is there. */
    private int readToBuffer() throws IOException {
        int buffered = buffer.size();
        int room = buffer.room();
        if (room <= 0) {
            throw new StreamBufferFullException("Reached maximum read buffer size: " + buffer.maxSize() + " bytes");
        }
        int chunk = Math.min(chunkSize, room);
        ByteBuffer scratch = Scratch.atLeast(chunk);
        scratch.clear().limit(chunk);
        int n = transport.read(scratch);
        drained = n >= 0 && n < chunk && !transport.hasMore();
        if (n <= 0) {
            return n;
        }
        PendingRead r = read;
        if (buffered == 0 && r != null && r.kind == PendingRead.Kind.BYTES && (r.partial || n >= r.size)) {
            // The read takes its bytes straight from the scratch buffer: one copy instead of two. It is
            // complete, so, as in readDirect, the next read waits for the selector.
            drained = !transport.hasMore();
            int taken = Math.min(n, r.size);
            byte[] result = new byte[taken];
            scratch.get(0, result, 0, taken);
            read = null;
            if (taken < n) {
                buffer.append(scratch, taken, n - taken);
            }
            complete(r.future, result, r.context);
            return n;
        }
        buffer.append(scratch, 0, n);
        return n;
    }
}
