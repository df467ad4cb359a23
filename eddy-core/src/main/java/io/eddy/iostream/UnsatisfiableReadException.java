package io.eddy.iostream;

import java.io.IOException;

/** A delimited read whose delimiter was not found within its {@code maxBytes}. */
public final class UnsatisfiableReadException extends IOException {

    private static final long serialVersionUID = 1L;

    /** With a message naming the delimiter and the limit. */
    public UnsatisfiableReadException(String message) {
        super(message);
    }
}
