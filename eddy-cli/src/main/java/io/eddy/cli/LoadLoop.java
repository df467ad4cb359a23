package io.eddy.cli;

import io.eddy.ioloop.IOLoop;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/** The loop every {@code eddy bench} mode runs on: a new one, on the calling thread. */
final class LoadLoop {

    private LoadLoop() {
    }

    /**
     * Runs {@code load} on a new loop on the calling thread (its current loop meanwhile) for at most
     * {@link LoadOptions#limit()}, then runs {@code cleanup} on the loop (close what the load opened) and
     * closes the loop.
     */
    static LoadReport run(LoadOptions options, Function<IOLoop, CompletionStage<LoadReport>> load, Runnable cleanup)
            throws Exception {
        IOLoop loop = IOLoop.create();
        loop.makeCurrent();
        try {
            return loop.runSync(() -> load.apply(loop), options.limit());
        } finally {
            try {
                loop.runSync(() -> {
                    cleanup.run();
                    return CompletableFuture.completedFuture(null);
                }, Duration.ofSeconds(10));
            } finally {
                IOLoop.clearCurrent();
                loop.close(true);
            }
        }
    }
}
