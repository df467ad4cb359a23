package io.eddy.ioloop;

import io.eddy.ioloop.internal.Watchdog;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Starting, stopping and closing the loop ({@link IOLoop#start()}, {@link IOLoop#stop()},
 * {@link IOLoop#close(boolean)}, {@link IOLoop#shutdown()}, {@link IOLoop#startInNewThread}): the order
 * in which each sets the parts going or tears them down. The state they move through is {@link LoopState}.
 *
 * <p>Threads: {@link #start} runs the loop on the calling thread; {@link #stop}, {@link #shutdown} and
 * {@link #startInNewThread} are for any thread; {@link #close} for any thread once the loop has stopped.
 */
final class Lifecycle {

    private static final System.Logger LOG = System.getLogger("io.eddy.ioloop");

    private final IOLoop loop;
    private final LoopState state;
    private final Handlers handlers;
    private final Wakeup wakeup;
    private final Scheduler scheduler;
    private final TaskRunner tasks;
    private final LoopIteration iteration;
    private final Watchdog.Watch watch;
    /** The loop's clock if it is virtual (the loop leaves it when closed), else null. */
    private final VirtualClock virtualClock;

    Lifecycle(IOLoop loop, LoopState state, Handlers handlers, Wakeup wakeup, Scheduler scheduler, TaskRunner tasks,
              LoopIteration iteration, Watchdog.Watch watch, VirtualClock virtualClock) {
        this.loop = loop;
        this.state = state;
        this.handlers = handlers;
        this.wakeup = wakeup;
        this.scheduler = scheduler;
        this.tasks = tasks;
        this.iteration = iteration;
        this.watch = watch;
        this.virtualClock = virtualClock;
    }

    /** {@link IOLoop#start()}, calling {@code whenRunning} (if not null) once the loop counts as running. */
    void start(Runnable whenRunning) {
        boolean runs = state.enter();
        if (whenRunning != null) {
            whenRunning.run();
        }
        if (!runs) {
            return; // a stop() came first
        }
        IOLoop previousLoop = LoopRegistry.enter(loop);
        Context.Cell cell = state.contextCell();
        Context previousContext = cell.value;
        cell.value = Context.empty();
        watch.target(Thread.currentThread());
        try {
            iteration.runUntilStopped();
        } finally {
            watch.target(null);
            cell.value = previousContext;
            LoopRegistry.restore(previousLoop);
            // Before exit(): once it returns, another thread may start the loop and announce its own sleep.
            wakeup.awake();
            CompletableFuture<Void> shutdown = state.exit();
            if (shutdown != null) {
                closeAndComplete(shutdown);
            }
        }
    }

    /** {@link IOLoop#stop()}. */
    void stop() {
        state.requestStop();
        wakeup.wake();
    }

    /** {@link IOLoop#close(boolean)}. */
    void close(boolean closeChannels) {
        if (!state.markClosed()) {
            return;
        }
        handlers.close(closeChannels);
        // New work is rejected now; what other threads were offering meanwhile is discarded with the rest.
        scheduler.closeQueues();
        int cancelled = scheduler.cancelTimeouts();
        int discarded = scheduler.discardCallbacks(tasks);
        watch.stop();
        if (virtualClock != null) {
            virtualClock.detach(loop);
        }
        LoopRegistry.forget(loop);
        if (discarded > 0 || cancelled > 0) {
            LOG.log(System.Logger.Level.DEBUG, "IOLoop closed: discarded {0} queued callbacks, cancelled {1} pending timeouts",
                    discarded, cancelled);
        }
    }

    /** {@link IOLoop#shutdown()}. */
    CompletableFuture<Void> shutdown() {
        synchronized (state) { // held across the close below: no start() may come between the check and the close
            if (state.isClosed()) {
                return CompletableFuture.completedFuture(null);
            }
            if (state.isRunning()) {
                CompletableFuture<Void> closed = state.closeWhenStopped();
                stop();
                return closed;
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            closeAndComplete(done);
            return done;
        }
    }

    private void closeAndComplete(CompletableFuture<Void> future) {
        try {
            close(true);
            future.complete(null);
        } catch (RuntimeException e) {
            future.completeExceptionally(e);
        }
    }

    /** {@link IOLoop#startInNewThread}. */
    Thread startInNewThread(String threadName) {
        CompletableFuture<Void> started = new CompletableFuture<>();
        Thread thread = Thread.ofPlatform().name(threadName).start(() -> {
            try {
                start(() -> started.complete(null));
            } catch (RuntimeException | Error e) {
                if (!started.completeExceptionally(e)) {
                    throw e;
                }
            }
        });
        try {
            started.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof IllegalStateException ise
                    ? new IllegalStateException(ise.getMessage(), ise) : e;
        }
        return thread;
    }
}
