package io.eddy.ioloop;

import io.eddy.ioloop.internal.Poller;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The loop's sleep in poll, and waking it from other threads with at most one wake-up syscall per sleep.
 *
 * <p>The loop thread announces the sleep ({@link #sleepUntil}) before it re-checks for work and blocks,
 * and ends it ({@link #awake}) when the poll returns. A thread that hands the loop work calls
 * {@link #wake} after queueing it: if it sees the announcement, it takes it back with a CAS, and only
 * the thread whose CAS wins calls {@link Poller#wakeup()}. Either the producer sees the announcement, or
 * the loop's re-check sees the work: a volatile write followed by a volatile read on each side.
 */
final class Wakeup {

    private static final VarHandle SLEEPING;

    static {
        try {
            SLEEPING = MethodHandles.lookup().findVarHandle(Wakeup.class, "sleeping", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Poller poller;
    /** True while the loop is (about to be) blocked in poll; a producer that flips it wakes the loop. */
    private volatile boolean sleeping;
    /** The deadline the loop sleeps until (Long.MAX_VALUE: until woken); valid while {@code sleeping}. */
    private volatile long sleepDeadline;

    Wakeup(Poller poller) {
        this.poller = poller;
    }

    /** The loop is about to block in poll until {@code deadline} (Long.MAX_VALUE: until woken). Loop thread. */
    void sleepUntil(long deadline) {
        sleepDeadline = deadline;
        sleeping = true;
    }

    /** The loop is not (or no longer) blocked in poll. Loop thread, or the thread ending {@code start()}. */
    void awake() {
        sleeping = false;
    }

    /** Wakes the loop if it is (about to be) blocked in poll; at most one wake-up per sleep. Any thread. */
    void wake() {
        if (sleeping && SLEEPING.compareAndSet(this, true, false)) {
            poller.wakeup();
        }
    }

    /** Wakes the loop if it sleeps until later than {@code deadline}: a new, earlier timeout. Any thread. */
    void wakeIfSleepingPast(long deadline) {
        if (sleeping && deadline < sleepDeadline) {
            wake();
        }
    }
}
