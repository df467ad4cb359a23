package io.eddy.bench;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A reusable one-shot signal from a loop thread to the one benchmark thread that waits for it.
 *
 * <p>The benchmark thread calls {@link #reset()} before it hands work to the loop, then
 * {@link #await()}; the loop thread calls {@link #signal()} (or {@link #fail}) once the work is done.
 * The waiter spins briefly before parking, so that a batch that finishes within microseconds is not
 * measured together with a park/unpark round trip through the scheduler. Both implementations under
 * test are waited for the same way.
 *
 * <p>{@code reset()} happens-before the hand-off (the loops' queues publish), and {@code signal()}
 * happens-before {@code await()} returns (volatile write/read), so loop-thread-only counters may be
 * plain fields set by the benchmark thread before the hand-off.
 */
final class Completion {

    /** Spins before parking: a few tens of microseconds at most. */
    private static final int SPINS = 1 << 13;
    /** Not a measurement bound: only turns a lost signal (a bug) into a failure instead of a hang. */
    private static final long GIVE_UP_NANOS = TimeUnit.SECONDS.toNanos(60);

    private volatile boolean done;
    private volatile Throwable failure;
    private volatile Thread waiter;

    /** Benchmark thread, before handing off the work. */
    void reset() {
        done = false;
        waiter = Thread.currentThread();
    }

    /** Loop thread: the work is done. */
    void signal() {
        done = true;
        LockSupport.unpark(waiter);
    }

    /** Loop thread: the work went wrong; {@link #await()} throws. */
    void fail(Throwable error) {
        failure = error;
        signal();
    }

    /** Benchmark thread: waits for {@link #signal()}. */
    void await() {
        for (int i = 0; i < SPINS; i++) {
            if (done) {
                check();
                return;
            }
            Thread.onSpinWait();
        }
        long giveUp = System.nanoTime() + GIVE_UP_NANOS;
        while (!done) {
            long left = giveUp - System.nanoTime();
            if (left <= 0) {
                throw new IllegalStateException("the loop did not finish the batch within "
                        + TimeUnit.NANOSECONDS.toSeconds(GIVE_UP_NANOS) + " s: a callback failed or was lost");
            }
            LockSupport.parkNanos(this, left);
        }
        check();
    }

    private void check() {
        Throwable error = failure;
        if (error != null) {
            throw new IllegalStateException("the batch failed on the loop thread", error);
        }
    }
}
