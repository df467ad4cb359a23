package io.eddy.iostream;

import io.eddy.ioloop.Context;

import java.util.concurrent.CompletableFuture;

/**
 * Completes a stream's futures under the {@link Context} of the call that made them, so that what the
 * caller chained on runs with that caller's context values and exception handlers. Without a context to
 * switch to (the common case) it costs nothing beyond the completion.
 *
 * <p>Threads: the stream's loop thread, or whichever thread fails a future its closed loop will never run.
 */
final class Futures {

    private Futures() {
    }

    static <T> void complete(CompletableFuture<T> future, Object value, Context context) {
        @SuppressWarnings("unchecked")
        T v = (T) value;
        if (context == Context.empty() || context == Context.current()) {
            future.complete(v);
        } else {
            context.run(() -> future.complete(v));
        }
    }

    static void fail(CompletableFuture<?> future, Throwable error, Context context) {
        if (context == Context.empty() || context == Context.current()) {
            future.completeExceptionally(error);
        } else {
            context.run(() -> future.completeExceptionally(error));
        }
    }
}
