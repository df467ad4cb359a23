package io.eddy.iostream;

import java.io.IOException;

/**
 * An operation on a closed {@link IOStream}. The message starts with "Stream is closed";
 * {@link #getCause()} is the error that closed the stream, or null for a clean close.
 */
public final class StreamClosedException extends IOException {

    private static final long serialVersionUID = 1L;

    /** A stream closed by {@code cause} (null: closed cleanly, by either side). */
    public StreamClosedException(Throwable cause) {
        super(cause == null ? "Stream is closed" : "Stream is closed: " + cause, cause);
    }
}
