package io.eddy.ioloop;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A pending timeout and its place in the loop's {@link TimerHeap}. The state moves once, from
 * PENDING to RAN or CANCELLED, by CAS, so {@link #cancel()} is thread-safe and a timeout runs at most once.
 */
final class ScheduledTimeout implements Timeout {

    private static final int PENDING = 0;
    private static final int RAN = 1;
    private static final int CANCELLED = 2;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(ScheduledTimeout.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final Scheduler scheduler;
    final long deadline;
    /** Insertion order, to break ties between equal deadlines. Set when it enters the heap. */
    long seq;
    /** Index in the heap, -1 when not in it. Loop thread only. */
    int index = -1;
    Runnable callback;
    final Context context;
    @SuppressWarnings("unused") // through STATE
    private volatile int state;

    ScheduledTimeout(Scheduler scheduler, long deadline, Runnable callback, Context context) {
        this.scheduler = scheduler;
        this.deadline = deadline;
        this.callback = callback;
        this.context = context;
    }

    @Override
    public boolean cancel() {
        if (!STATE.compareAndSet(this, PENDING, CANCELLED)) {
            return false;
        }
        scheduler.timeoutCancelled(this);
        return true;
    }

    /** Claims the right to run; false if cancelled (or already run). */
    boolean markRan() {
        return STATE.compareAndSet(this, PENDING, RAN);
    }

    /** Marks cancelled without telling the loop (the loop is discarding it). */
    boolean markCancelled() {
        return STATE.compareAndSet(this, PENDING, CANCELLED);
    }

    boolean isPending() {
        return state == PENDING;
    }

    @Override
    public long deadline() {
        return deadline;
    }

    @Override
    public boolean isCancelled() {
        return state == CANCELLED;
    }

    @Override
    public boolean isDone() {
        return state != PENDING;
    }

    boolean before(ScheduledTimeout other) {
        return deadline < other.deadline || (deadline == other.deadline && seq < other.seq);
    }

    @Override
    public String toString() {
        return "Timeout[deadline=" + deadline + ", " + (state == PENDING ? "pending" : state == RAN ? "ran" : "cancelled") + "]";
    }
}
