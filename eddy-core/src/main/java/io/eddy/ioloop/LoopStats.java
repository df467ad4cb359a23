package io.eddy.ioloop;

/**
 * A snapshot of an {@link IOLoop}'s bookkeeping, from {@link IOLoop#stats()}.
 *
 * @param handlers         channels registered with a handler
 * @param pendingCallbacks callbacks queued and not run yet
 * @param pendingTimeouts  timeouts neither run nor cancelled
 * @param iterations       loop iterations since the loop was created
 */
public record LoopStats(int handlers, int pendingCallbacks, int pendingTimeouts, long iterations) {
}
