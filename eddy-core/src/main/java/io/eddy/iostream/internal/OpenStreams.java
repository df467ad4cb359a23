package io.eddy.iostream.internal;

import io.eddy.iostream.IOStream;

/**
 * The streams a server accepted that are still open, for counting them (a draining stop). A stream leaves the
 * set the moment it closes, so a burst of connections is not kept reachable after it ends; adding and leaving
 * cost O(1). Made by {@link StreamAccess#openStreams()}.
 *
 * <p>Threads: the loop thread of the streams in it (one loop per set).
 */
public interface OpenStreams {

    /** Counts {@code stream} until it closes (a stream handed over by startTls: its TLS successor). */
    void add(IOStream stream);

    /** How many streams are open. */
    int size();
}
