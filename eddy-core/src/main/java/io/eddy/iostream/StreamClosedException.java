package io.eddy.iostream;

import java.io.IOException;

/**
 * An operation on a closed {@link IOStream}. The message starts with "Stream is closed";
 * {@link #getCause()} is the error that closed the stream, or null for a clean close.
 *
 * <p>It has no stack trace of its own: it marks the normal end of a stream (every pending read of a
 * connection the peer closed fails with one), its stack would only show the loop's internals, and taking
 * one per connection is a measurable part of a short connection's cost. The cause keeps its stack.
 */
public final class StreamClosedException extends IOException {

    private static final long serialVersionUID = 1L;

    /** A stream closed by {@code cause} (null: closed cleanly, by either side). */
    public StreamClosedException(Throwable cause) {
        super(cause == null ? "Stream is closed" : "Stream is closed: " + cause, cause);
    }

    /** No stack trace: see the class description. */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
