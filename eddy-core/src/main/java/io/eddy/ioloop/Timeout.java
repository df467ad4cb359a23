package io.eddy.ioloop;

/**
 * A callback scheduled with {@link IOLoop#callAt} or {@link IOLoop#callLater}.
 * All methods are thread-safe.
 */
public interface Timeout {

    /**
     * Cancels the timeout. A cancelled timeout never runs, even if it is already due in the
     * current iteration.
     *
     * @return true iff the timeout was pending (neither run nor cancelled before)
     */
    boolean cancel();

    /** The deadline on the loop's clock, nanoseconds. */
    long deadline();

    /** True once cancelled. */
    boolean isCancelled();

    /** True once the timeout ran (or started running) or was cancelled. */
    boolean isDone();
}
