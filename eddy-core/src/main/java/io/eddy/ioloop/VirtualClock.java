package io.eddy.ioloop;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Time that only moves when told to, for tests of timing without sleeps.
 *
 * <p>A loop built with a VirtualClock never waits for a timer: when it has no callbacks to run and
 * no I/O ready, time jumps to its earliest deadline (unless work handed to
 * {@link IOLoop#runInExecutor} is still running). {@link #advance} moves time forward by hand and
 * wakes the loops on this clock. Thread-safe.
 *
 * <pre>{@code
 * VirtualClock clock = new VirtualClock();
 * IOLoop loop = IOLoop.builder().clock(clock).build();
 * loop.runSync(() -> { ... loop.callLater(Duration.ofHours(1), done) ... }); // returns at once
 * }</pre>
 */
public final class VirtualClock implements Clock {

    private final AtomicLong now = new AtomicLong();
    private final CopyOnWriteArrayList<IOLoop> loops = new CopyOnWriteArrayList<>();

    /** A clock at time 0. */
    public VirtualClock() {
    }

    @Override
    public long nanoTime() {
        return now.get();
    }

    /**
     * Moves time forward by {@code d} and wakes every loop on this clock.
     *
     * @throws IllegalArgumentException if {@code d} is negative
     */
    public void advance(Duration d) {
        Objects.requireNonNull(d, "d");
        if (d.isNegative()) {
            throw new IllegalArgumentException("cannot move a VirtualClock backwards: " + d);
        }
        long nanos = saturatedNanos(d);
        now.getAndUpdate(t -> t + nanos < t ? Long.MAX_VALUE : t + nanos);
        for (IOLoop loop : loops) {
            loop.wakeUp();
        }
    }

    /** Moves time to {@code deadline} if it is later than now. */
    void advanceTo(long deadline) {
        now.accumulateAndGet(deadline, Math::max);
    }

    void attach(IOLoop loop) {
        loops.add(loop);
    }

    void detach(IOLoop loop) {
        loops.remove(loop);
    }

    static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException overflow) {
            return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
    }
}
