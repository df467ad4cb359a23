package io.eddy.iostream;

import io.eddy.ioloop.Context;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

/**
 * A read a stream has been asked for, its future, and the test of whether the buffered bytes satisfy it.
 *
 * <p>A stream reuses one instance for the reads issued on its loop thread while none is pending (see
 * {@link Reads#newRead}): code that holds one across a completion must not read it afterwards, since the
 * completion may have started the next read in it.
 *
 * <p>Threads: made on the caller's thread, then used on the stream's loop thread only.
 */
final class PendingRead {

    enum Kind { BYTES, DELIMITER, REGEX, CLOSE, INTO }

    Kind kind;
    /** BYTES/INTO: how many; DELIMITER/REGEX: maxBytes. */
    int size;
    boolean partial;
    CompletableFuture<Object> future;
    Context context;
    byte[] delimiter;
    Pattern pattern;
    ByteBuffer into;
    /** INTO: bytes delivered so far. */
    int delivered;
    /** DELIMITER: buffer offset where the next search begins. REGEX: buffered size at the last search. */
    int searched;

    /** (Re)starts this as a new read with a new future, under the caller's {@link Context}. */
    PendingRead set(Kind kind, int size, boolean partial) {
        this.kind = kind;
        this.size = size;
        this.partial = partial;
        future = new CompletableFuture<>();
        context = Context.current();
        delimiter = null;
        pattern = null;
        into = null;
        delivered = 0;
        searched = 0;
        return this;
    }

    /**
     * What this read completes with if {@code buffer} satisfies it now (its bytes are then taken from the
     * buffer), else null. A CLOSE read is satisfied by the stream closing, not by data: always null here.
     *
     * @param thorough false while more data is arriving in one burst: a regular expression is then
     *                 re-run only once the buffer has doubled (a delimiter search is always incremental)
     * @throws UnsatisfiableReadException if the delimiter or pattern is not within {@link #size} bytes
     */
    Object resultFrom(ReadBuffer buffer, boolean thorough) throws UnsatisfiableReadException {
        int buffered = buffer.size();
        switch (kind) {
            case BYTES -> {
                if (size == 0 || buffered >= size || (partial && buffered > 0)) {
                    return buffer.take(Math.min(buffered, size));
                }
            }
            case INTO -> {
                delivered += buffer.moveTo(into);
                if (!into.hasRemaining() || (partial && delivered > 0)) {
                    return delivered;
                }
            }
            case DELIMITER -> {
                int at = buffer.indexOf(delimiter, searched);
                if (at >= 0) {
                    int length = at + delimiter.length;
                    if (length > size) {
                        throw unsatisfiable();
                    }
                    return buffer.take(length);
                }
                // Next time, search only what is new (plus the tail a delimiter could straddle).
                searched = Math.max(0, buffered - delimiter.length + 1);
                if (buffered >= size) {
                    throw unsatisfiable();
                }
            }
            case REGEX -> {
                // Re-running the regex over everything is only worth it once the buffer has doubled
                // (or when no more data will come): the total work stays linear.
                if (thorough || buffered >= 2 * searched || buffered >= size) {
                    searched = Math.max(1, buffered);
                    int end = buffer.matchEnd(pattern);
                    if (end >= 0) {
                        if (end > size) {
                            throw unsatisfiable();
                        }
                        return buffer.take(end);
                    }
                    if (buffered >= size) {
                        throw unsatisfiable();
                    }
                }
            }
            case CLOSE -> {
                // see Reads.satisfy
            }
        }
        return null;
    }

    private UnsatisfiableReadException unsatisfiable() {
        String what = kind == Kind.DELIMITER ? "delimiter " + Arrays.toString(delimiter) : "pattern " + pattern.pattern();
        return new UnsatisfiableReadException(what + " not found within " + size + " bytes");
    }
}
