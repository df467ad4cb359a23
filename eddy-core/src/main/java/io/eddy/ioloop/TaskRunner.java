package io.eddy.ioloop;

import io.eddy.ioloop.internal.Discardable;
import io.eddy.ioloop.internal.QuietLog;

import java.nio.channels.SelectableChannel;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Runs what the loop calls (a callback, a timeout, a handler) under the {@link Context} captured with
 * it, and hands what that throws to the context's exception handlers, innermost first, then to the
 * loop's. Nothing gets out of it but a {@link VirtualMachineError}, so a failing task never ends the loop.
 *
 * <p>Loop thread only, but for {@link #discard}, which runs on the thread that closes the loop.
 */
final class TaskRunner {

    private static final System.Logger LOG = System.getLogger("io.eddy.ioloop");

    private final LoopState state;
    private final Consumer<Throwable> exceptionHandler;

    TaskRunner(LoopState state, Consumer<Throwable> exceptionHandler) {
        this.state = state;
        this.exceptionHandler = exceptionHandler;
    }

    /** Runs {@code task} under {@code context} (null: the empty context). */
    void run(Runnable task, Context context) {
        if (context == null || context == Context.empty()) {
            // The loop runs under the empty context: nothing to swap.
            runInternal(task);
            return;
        }
        Context.Cell cell = state.contextCell();
        Context previous = cell.value;
        cell.value = context;
        try {
            task.run();
        } catch (Throwable t) {
            report(t, context);
        } finally {
            cell.value = previous;
        }
    }

    private void runInternal(Runnable task) {
        try {
            task.run();
        } catch (Throwable t) {
            report(t, Context.empty());
        }
    }

    /** Calls the handler of a ready channel under the context it was added with. */
    void runHandler(Handlers.Registration reg, SelectableChannel channel, int events) {
        Context.Cell cell = state.contextCell();
        Context previous = cell.value;
        cell.value = reg.context();
        try {
            reg.handler().handle(channel, events);
        } catch (Throwable t) {
            report(t, reg.context());
        } finally {
            cell.value = previous;
        }
    }

    /**
     * Hands {@code t} to the context's handlers, then the loop's. Throws nothing but a
     * {@link VirtualMachineError}: an error while reporting an error (a logging backend that cannot open a
     * file when the process is out of descriptors, say) must not end the loop.
     */
    private void report(Throwable t, Context context) {
        if (t instanceof VirtualMachineError e) {
            throw e;
        }
        Throwable unhandled = t;
        try {
            unhandled = context.handle(t);
            if (unhandled == null) {
                return;
            }
            exceptionHandler.accept(unhandled);
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable handlerFailure) {
            if (handlerFailure != unhandled) { // a handler that rethrows what it was given: self-suppression throws
                handlerFailure.addSuppressed(unhandled);
            }
            lastResortReport(handlerFailure);
        }
    }

    /**
     * A callback that close() drops: it will never run, so whoever waits on it learns so. Eddy's own
     * hand-offs are {@link Discardable}; a user's {@link Future} (a {@code FutureTask}, say) is cancelled. What
     * that throws is reported, and close() goes on.
     */
    void discard(Runnable task) {
        try {
            if (task instanceof Discardable d) {
                d.discarded();
            } else if (task instanceof Future<?> f) {
                f.cancel(false);
            }
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            report(t, Context.empty());
        }
    }

    /** Logs a failure of the reporting itself (see {@link QuietLog}). */
    private static void lastResortReport(Throwable failure) {
        QuietLog.log(LOG, System.Logger.Level.ERROR, "IOLoop exception handler failed", failure);
    }

    /** The loop's exception handler unless the builder set one: logs at ERROR with the stack trace. */
    static void logException(Throwable t) {
        LOG.log(System.Logger.Level.ERROR, "Exception in callback", t);
    }
}
