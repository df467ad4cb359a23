package io.eddy.iostream;

import java.io.IOException;

/** A read or write buffer of an {@link IOStream} would grow past its limit (see {@link StreamOptions}). */
public final class StreamBufferFullException extends IOException {

    private static final long serialVersionUID = 1L;

    /** With a message naming the buffer and its limit. */
    public StreamBufferFullException(String message) {
        super(message);
    }
}
