package io.eddy.ioloop;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The loop's callback queue: lock-free, many producers, one consumer (the loop's owner thread).
 *
 * <p>A linked list whose producers swing {@code tail} with one CAS. Each node carries a sequence
 * number one above its predecessor's, so the number of queued tasks is a subtraction, and the
 * consumer can take exactly the tasks queued before a given moment ({@link #last()}).
 * FIFO follows the order of the successful CASes, so one offer that happens-before another is
 * taken first.
 */
final class TaskQueue {

    static final class Task {
        Runnable runnable;
        /** The context to run under; null for the loop's own internal tasks. */
        Context context;
        long seq;
        volatile Task next;

        Task(Runnable runnable, Context context) {
            this.runnable = runnable;
            this.context = context;
        }
    }

    private static final VarHandle TAIL;
    private static final VarHandle NEXT;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            TAIL = lookup.findVarHandle(TaskQueue.class, "tail", Task.class);
            NEXT = lookup.findVarHandle(Task.class, "next", Task.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The last task taken (a consumed stub); only the consumer moves it. */
    private Task head;
    @SuppressWarnings("unused") // through TAIL
    private volatile Task tail;

    TaskQueue() {
        head = new Task(null, null);
        tail = head;
    }

    /** Any thread. */
    void offer(Task task) {
        while (true) {
            Task last = tail;
            task.seq = last.seq + 1;
            if (TAIL.compareAndSet(this, last, task)) {
                NEXT.setRelease(last, task);
                return;
            }
        }
    }

    /** The newest task queued so far; {@link #poll(Task)} up to it takes a snapshot. Any thread. */
    Task last() {
        return tail;
    }

    /** Whether the consumer has taken {@code last} (or everything before it). Consumer only. */
    boolean takenUpTo(Task last) {
        return head.seq >= last.seq;
    }

    /** Takes the next task. The caller has checked that one was queued. Consumer only. */
    Task poll() {
        Task h = head;
        Task next = (Task) NEXT.getAcquire(h);
        while (next == null) {
            // A producer won the CAS but has not linked its node yet: it is a few instructions away.
            Thread.onSpinWait();
            next = (Task) NEXT.getAcquire(h);
        }
        head = next;
        NEXT.set(h, null); // plain store: h is garbage now, and this helps the collector
        return next;
    }

    /** True when nothing is queued. Any thread (a snapshot elsewhere than the consumer). */
    boolean isEmpty() {
        return tail == head;
    }

    /** The number of queued tasks. Any thread (a snapshot elsewhere than the consumer). */
    int size() {
        long n = tail.seq - head.seq;
        return n <= 0 ? 0 : (int) Math.min(n, Integer.MAX_VALUE);
    }
}
