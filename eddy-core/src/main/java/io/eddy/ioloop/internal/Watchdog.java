package io.eddy.ioloop.internal;

import java.time.Duration;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;

/**
 * One daemon thread that watches every loop with a blocking threshold. A loop marks the start and
 * end of each iteration's work ({@link Watch#busy()}, {@link Watch#idle()}); when work has lasted
 * longer than the threshold, the watchdog captures the loop thread's stack while it is still blocked
 * and hands it to the watch's action, once per blocked iteration. Always real time.
 */
public final class Watchdog {

    private static final CopyOnWriteArrayList<Watch> WATCHES = new CopyOnWriteArrayList<>();
    private static Thread thread;

    private Watchdog() {
    }

    /** What to do with a blocked loop: runs on the watchdog thread while the loop is still blocked. */
    @FunctionalInterface
    public interface Action {
        void blocked(long blockedNanos, StackTraceElement[] stack);
    }

    /** A loop's watch. {@link #busy()} and {@link #idle()} are for the loop thread; the rest for any thread. */
    public static final class Watch {
        private volatile Thread target;
        private volatile long thresholdNanos;
        private volatile Action action;
        private volatile long busySince;
        private long reportedFor;

        /** Sets the threshold and action; a null or non-positive threshold stops watching. */
        public void configure(Duration threshold, Action action) {
            if (threshold == null || threshold.isZero() || threshold.isNegative()) {
                this.thresholdNanos = 0;
                WATCHES.remove(this);
                return;
            }
            this.action = action;
            this.thresholdNanos = threshold.toNanos();
            if (!WATCHES.contains(this)) {
                WATCHES.add(this);
            }
            ensureThread();
            LockSupport.unpark(thread);
        }

        public boolean enabled() {
            return thresholdNanos > 0;
        }

        /** The thread to capture; null while the loop is not running. */
        public void target(Thread t) {
            this.target = t;
            this.busySince = 0;
        }

        /** The loop thread starts an iteration's work. */
        public void busy() {
            long now = System.nanoTime();
            busySince = now == 0 ? 1 : now;
        }

        /** The loop thread finished the work and is about to poll. */
        public void idle() {
            busySince = 0;
        }

        public void stop() {
            thresholdNanos = 0;
            WATCHES.remove(this);
        }

        /** Returns how long to wait before this watch needs checking again. */
        private long check(long now) {
            long threshold = thresholdNanos;
            long since = busySince;
            Thread t = target;
            if (threshold <= 0) {
                return Long.MAX_VALUE;
            }
            if (since == 0 || t == null || since == reportedFor) {
                return Math.max(threshold / 2, 1_000_000);
            }
            long blocked = now - since;
            if (blocked < threshold) {
                return Math.max(threshold - blocked, 1_000_000);
            }
            reportedFor = since;
            StackTraceElement[] stack = t.getStackTrace();
            if (busySince == since) {
                try {
                    action.blocked(blocked, stack);
                } catch (RuntimeException | LinkageError e) {
                    System.getLogger("io.eddy.ioloop").log(System.Logger.Level.ERROR, "blocking-threshold action failed", e);
                }
            }
            return Math.max(threshold / 2, 1_000_000);
        }
    }

    private static synchronized void ensureThread() {
        if (thread == null) {
            thread = Thread.ofPlatform().daemon().name("eddy-watchdog").start(Watchdog::run);
        }
    }

    private static void run() {
        while (true) {
            long wait = Long.MAX_VALUE;
            long now = System.nanoTime();
            for (Watch watch : WATCHES) {
                wait = Math.min(wait, watch.check(now));
            }
            if (wait == Long.MAX_VALUE) {
                LockSupport.park();
            } else {
                LockSupport.parkNanos(wait);
            }
        }
    }
}
