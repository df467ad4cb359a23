package io.eddy.ioloop.internal;

/**
 * A callback that wants to know if it will never run: {@code IOLoop.close()} calls {@link #discarded()} on each
 * queued callback of this kind instead of dropping it silently, so that a future waiting on it fails rather
 * than stays pending. For Eddy's own hand-offs (a stream's work handed to its loop from another thread,
 * {@code IOLoop.submit}); not exported.
 */
public interface Discardable extends Runnable {

    /** The loop closed before running this; called once, on the thread that closed it, instead of {@link #run()}. */
    void discarded();
}
