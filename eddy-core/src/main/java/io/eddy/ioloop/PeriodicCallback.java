package io.eddy.ioloop;

import java.time.Duration;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * Calls a callback every period, start to start, on a fixed grid.
 *
 * <p>The first call comes one period after {@link #start()}. A run that overruns skips the slots it
 * missed (Tornado 5.1+): if the next slot is not in the future, it moves forward by
 * {@code (floor((now - next) / period) + 1) * period}, else by one period. With jitter {@code j} each
 * period, the first included, is scaled by {@code 1 + j * (r - 0.5)}, {@code r} drawn from the random
 * generator. Runs never overlap: the next one is scheduled after the callback returns. An exception is
 * reported like any callback's and the schedule goes on.
 *
 * <pre>{@code
 * PeriodicCallback heartbeat = new PeriodicCallback(loop, this::ping, Duration.ofSeconds(5), 0.1);
 * heartbeat.start();
 * ...
 * heartbeat.stop();
 * }</pre>
 *
 * <p>{@link #start()}, {@link #stop()} and {@link #isRunning()} may be called from any thread; the
 * callback runs on the loop thread.
 */
public final class PeriodicCallback {

    private final IOLoop fixedLoop;
    private final Runnable callback;
    private final long periodNanos;
    private final double jitter;
    private final RandomGenerator random;

    private final Object lock = new Object();
    private boolean running;            // guarded by lock
    private int generation;             // guarded by lock; a stale chain stops itself
    private IOLoop loop;                // guarded by lock
    private Timeout timeout;            // guarded by lock
    private long nextTimeout;           // loop thread only

    /** Every {@code period} on {@link IOLoop#current()} (taken at {@link #start()}), without jitter. */
    public PeriodicCallback(Runnable callback, Duration period) {
        this(null, callback, period, 0, RandomGenerator.getDefault());
    }

    /** Every {@code period} on {@link IOLoop#current()} (taken at {@link #start()}), with {@code jitter} in [0, 1]. */
    public PeriodicCallback(Runnable callback, Duration period, double jitter) {
        this(null, callback, period, jitter, RandomGenerator.getDefault());
    }

    /** Every {@code period} on {@code loop} (null: {@link IOLoop#current()} at start), with {@code jitter} in [0, 1]. */
    public PeriodicCallback(IOLoop loop, Runnable callback, Duration period, double jitter) {
        this(loop, callback, period, jitter, RandomGenerator.getDefault());
    }

    /**
     * Every {@code period} on {@code loop} (null: {@link IOLoop#current()} at start), with {@code jitter}
     * in [0, 1] drawn from {@code random} (for deterministic tests).
     *
     * @throws IllegalArgumentException if {@code period} is not positive or {@code jitter} is outside [0, 1]
     */
    public PeriodicCallback(IOLoop loop, Runnable callback, Duration period, double jitter, RandomGenerator random) {
        this.fixedLoop = loop;
        this.callback = Objects.requireNonNull(callback, "callback");
        Objects.requireNonNull(period, "period");
        this.random = Objects.requireNonNull(random, "random");
        if (period.isZero() || period.isNegative()) {
            throw new IllegalArgumentException("period must be positive: " + period);
        }
        if (!(jitter >= 0 && jitter <= 1)) {
            throw new IllegalArgumentException("jitter must be in [0, 1]: " + jitter);
        }
        this.periodNanos = VirtualClock.saturatedNanos(period);
        this.jitter = jitter;
    }

    /**
     * Starts calling; a no-op if running. Any thread.
     *
     * @throws java.util.concurrent.RejectedExecutionException if the loop is closed (it then stays stopped)
     */
    public void start() {
        IOLoop target;
        int gen;
        synchronized (lock) {
            if (running) {
                return;
            }
            running = true;
            gen = ++generation;
            target = fixedLoop != null ? fixedLoop : IOLoop.current();
            loop = target;
        }
        if (target.inLoopThread()) {
            begin(target, gen);
            return;
        }
        try {
            target.addCallback(() -> begin(target, gen));
        } catch (RuntimeException e) { // a closed loop: nothing will run, so it is not running
            synchronized (lock) {
                if (gen == generation) {
                    running = false;
                }
            }
            throw e;
        }
    }

    /** Stops calling; a no-op if stopped. Any thread, also from inside the callback. */
    public void stop() {
        Timeout pending;
        synchronized (lock) {
            if (!running) {
                return;
            }
            running = false;
            generation++;
            pending = timeout;
            timeout = null;
        }
        if (pending != null) {
            pending.cancel();
        }
    }

    /** True between {@link #start()} and {@link #stop()}. Any thread. */
    public boolean isRunning() {
        synchronized (lock) {
            return running;
        }
    }

    private void begin(IOLoop target, int gen) {
        nextTimeout = target.time();
        scheduleNext(target, gen);
    }

    private void runOnce(IOLoop target, int gen) {
        synchronized (lock) {
            if (gen != generation) {
                return;
            }
            timeout = null;
        }
        try {
            callback.run();
        } finally {
            // A throwing callback is reported by the loop; the schedule goes on.
            scheduleNext(target, gen);
        }
    }

    private void scheduleNext(IOLoop target, int gen) {
        long now = target.time();
        long period = periodNanos;
        if (jitter > 0) {
            // At least 1 ns: a 1 ns period scaled by 0.5 must still move the schedule on.
            period = Math.max(1, (long) (period * (1 + jitter * (random.nextDouble() - 0.5))));
        }
        // Saturating: a period too long for a long puts the next run at Long.MAX_VALUE (never), not in the past.
        if (nextTimeout <= now) {
            long slots = (now - nextTimeout) / period + 1;
            nextTimeout = saturatedAdd(nextTimeout, slots > Long.MAX_VALUE / period ? Long.MAX_VALUE : slots * period);
        } else {
            nextTimeout = saturatedAdd(nextTimeout, period);
        }
        synchronized (lock) {
            if (gen != generation) {
                return;
            }
            timeout = target.callAt(nextTimeout, () -> runOnce(target, gen));
        }
    }

    /** {@code a + b} for {@code b >= 0}, or {@link Long#MAX_VALUE} if that overflows. */
    private static long saturatedAdd(long a, long b) {
        long sum = a + b;
        return sum < a ? Long.MAX_VALUE : sum;
    }
}
