package io.eddy.ioloop;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeoutException;

/**
 * One call of {@link IOLoop#runSync}: runs {@code fn} as a callback, runs the loop until the stage it
 * returns completes (or the timeout fires), and hands back the stage's outcome. Built only on the
 * loop's public API.
 *
 * <p>Threads: made and run by the thread that calls {@code runSync}, which then runs the loop, so the
 * callbacks it queues run on that thread too; only if {@code start()} fails because another thread runs
 * the loop do they run elsewhere (hence {@code abandoned} is volatile).
 */
final class RunSync<T> {

    private final IOLoop loop;
    private final Callable<? extends CompletionStage<? extends T>> fn;
    private final Duration timeout;

    private CompletionStage<? extends T> stage;
    // This runSync returned: what it left queued must not run fn or stop a later start. Volatile: if start()
    // failed because another thread runs the loop, that thread reads it.
    private volatile boolean abandoned;
    private boolean done;
    private boolean timedOut;
    private T value;
    private Throwable error;

    private RunSync(IOLoop loop, Callable<? extends CompletionStage<? extends T>> fn, Duration timeout) {
        this.loop = loop;
        this.fn = fn;
        this.timeout = timeout;
    }

    /** {@link IOLoop#runSync(Callable, Duration)}: checks the arguments, then runs the loop until done. */
    static <T> T run(IOLoop loop, Callable<? extends CompletionStage<? extends T>> fn, Duration timeout) throws Exception {
        Objects.requireNonNull(fn, "fn");
        if (timeout != null && (timeout.isZero() || timeout.isNegative())) {
            throw new IllegalArgumentException("runSync timeout must be positive (or null for none): " + timeout);
        }
        if (loop.isRunning()) {
            throw new IllegalStateException("IOLoop is already running");
        }
        return new RunSync<T>(loop, fn, timeout).run();
    }

    private T run() throws Exception {
        loop.addCallback(this::callFn);
        Timeout timer = timeout == null ? null : loop.callLater(timeout, this::timeOut);
        try {
            loop.start();
        } finally {
            // Also when start() threw (already running elsewhere, a VirtualMachineError): nothing of this call
            // may act on the loop later.
            if (timer != null) {
                timer.cancel();
            }
            if (!done) {
                abandoned = true;
            }
        }
        return outcome();
    }

    /** The first callback: calls {@code fn} and waits for its stage. */
    private void callFn() {
        if (abandoned) {
            return;
        }
        CompletionStage<? extends T> s;
        try {
            s = fn.call();
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable t) {
            s = CompletableFuture.failedFuture(t);
        }
        if (s == null) {
            s = CompletableFuture.completedFuture(null);
        }
        stage = s;
        loop.addFuture(s, this::completed);
    }

    private void completed(T result, Throwable failure) {
        if (abandoned) {
            return;
        }
        done = true;
        value = result;
        error = failure;
        loop.stop();
    }

    private void timeOut() {
        if (!abandoned) {
            timedOut = true;
            loop.stop();
        }
    }

    /** What runSync returns or throws, once the loop has stopped. */
    private T outcome() throws Exception {
        if (!done) {
            if (timedOut) {
                if (stage instanceof Future<?> f) {
                    f.cancel(true);
                }
                throw new TimeoutException("operation timed out after " + timeout);
            }
            throw new IllegalStateException("IOLoop stopped before the operation completed");
        }
        if (error == null) {
            return value;
        }
        if (error instanceof Exception e) {
            throw e;
        }
        if (error instanceof Error e) {
            throw e;
        }
        throw new ExecutionException(error);
    }
}
