package io.eddy.ioloop;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The loop's pending work: callbacks in a {@link TaskQueue}, timeouts in a {@link TimerHeap}, and how
 * both arrive from other threads.
 *
 * <p>Threads: the methods come in three groups, marked in the source. The first is for any thread:
 * {@link #addCallback}, {@link #enqueue} and {@link #callAt} on the loop thread go straight into the
 * queue or the heap; from another thread they are rejected once {@code close()} closed the queues, and wake
 * a sleeping loop. Timeouts scheduled or cancelled on other threads reach the heap through a second queue,
 * the inbox, which the loop drains at the start of each iteration, so the heap stays the loop thread's
 * alone. The counts are exact on the loop thread and snapshots elsewhere. The second group is for the loop
 * thread; the third for the thread that closes the loop, once the loop is marked closed.
 */
final class Scheduler {

    private static final long MAX_POLL_NANOS = Duration.ofHours(1).toNanos();

    private final LoopState state;
    private final Clock clock;
    private final Wakeup wakeup;
    private final TaskQueue callbacks = new TaskQueue();
    /** Timeouts scheduled or cancelled on other threads, moved into the heap at the start of each iteration. */
    private final TaskQueue timerInbox = new TaskQueue();
    private final TimerHeap timers = new TimerHeap();
    /** runInExecutor tasks still running; while any is, a virtual clock does not jump: its result will come back. */
    private final AtomicInteger executorTasks = new AtomicInteger();
    /** The timeouts an iteration collected to run, reused from iteration to iteration. */
    private ScheduledTimeout[] due = new ScheduledTimeout[64];
    /** Timeouts neither run nor cancelled. Owned by the loop thread; read as a snapshot elsewhere. */
    private int pendingTimeouts;

    Scheduler(LoopState state, Clock clock, Wakeup wakeup) {
        this.state = state;
        this.clock = clock;
        this.wakeup = wakeup;
    }

    // ---------------------------------------------------------------- any thread

    /** {@link IOLoop#addCallback}: runs under the context current now. */
    void addCallback(Runnable callback) {
        if (state.inLoopThread()) {
            // The common case, kept short: a running loop needs no wake-up (and is not closed: close() needs it stopped).
            offer(callbacks, callback, state.contextCell().value);
        } else {
            offerFromOtherThread(callback, Context.current());
        }
    }

    /** Queues {@code task} to run under {@code context} (null: the empty context). */
    void enqueue(Runnable task, Context context) {
        if (state.inLoopThread()) {
            offer(callbacks, task, context); // as in addCallback
        } else {
            offerFromOtherThread(task, context);
        }
    }

    private void offerFromOtherThread(Runnable task, Context context) {
        offer(callbacks, task, context);
        wakeup.wake();
    }

    /**
     * Queues a callback or timeout, or rejects it once close() closed the queues: a task is either rejected
     * here or queued before close() discards (and counts) it, never both, and never run after its caller was
     * told it was rejected (the queue's closing and an offer's claim are one CAS apart: see {@link TaskQueue}).
     */
    private static void offer(TaskQueue queue, Runnable task, Context context) {
        if (!queue.offer(task, context)) {
            throw new RejectedExecutionException("IOLoop is closed");
        }
    }

    /** Now plus {@code delay} on the loop's clock, saturating: past {@link Long#MAX_VALUE} it is never due. */
    long deadlineAfter(Duration delay) {
        long now = clock.nanoTime();
        long nanos = VirtualClock.saturatedNanos(delay);
        long deadline = now + nanos;
        if (nanos > 0 && deadline < now) {
            deadline = Long.MAX_VALUE;
        } else if (nanos < 0 && deadline > now) {
            deadline = now;
        }
        return deadline;
    }

    /** {@link IOLoop#callAt}: runs under the context current now. */
    Timeout callAt(long deadlineNanos, Runnable callback) {
        if (state.isClosed()) {
            throw new RejectedExecutionException("IOLoop is closed");
        }
        boolean onLoop = state.inLoopThread();
        ScheduledTimeout t = new ScheduledTimeout(this, deadlineNanos, callback,
                onLoop ? state.contextCell().value : Context.current());
        if (onLoop) {
            timers.add(t);
            pendingTimeouts++;
        } else {
            offer(timerInbox, () -> {
                if (t.isPending()) {
                    timers.add(t);
                    pendingTimeouts++;
                }
            }, null);
            wakeup.wakeIfSleepingPast(deadlineNanos);
        }
        return t;
    }

    /** Called once by a timeout that was cancelled while pending. */
    void timeoutCancelled(ScheduledTimeout t) {
        t.callback = null;
        if (state.inLoopThread()) {
            removeCancelled(t);
        } else {
            timerInbox.offer(() -> removeCancelled(t), null); // refused once closed: close() cancels every timeout anyway
        }
    }

    private void removeCancelled(ScheduledTimeout t) {
        if (t.index >= 0) {
            timers.remove(t);
            pendingTimeouts--;
        }
    }

    /** A {@code runInExecutor} task went out to its executor; its result will come back as a callback. */
    void executorTaskStarted() {
        executorTasks.incrementAndGet();
    }

    /** A {@code runInExecutor} task's result came back (or never will). */
    void executorTaskEnded() {
        executorTasks.decrementAndGet();
    }

    /** Callbacks queued and not yet taken: exact on the loop thread, a snapshot elsewhere. */
    int pendingCallbacks() {
        return callbacks.size();
    }

    /** Timeouts neither run nor cancelled: exact on the loop thread, a snapshot elsewhere. */
    int pendingTimeouts() {
        return pendingTimeouts;
    }

    /** Whether callbacks, or timeouts from other threads, wait to be taken. A snapshot off the loop thread. */
    boolean hasQueuedWork() {
        return !callbacks.isEmpty() || !timerInbox.isEmpty();
    }

    // ---------------------------------------------------------------- the loop thread

    /** The end of this iteration's callbacks: those queued so far. */
    long lastCallback() {
        return callbacks.last();
    }

    /** Moves the timeouts of other threads into the heap, then takes the due ones out of it; returns how many. */
    int collectDueTimeouts() {
        while (!timerInbox.isEmpty()) {
            timerInbox.take().run();
        }
        if (timers.isEmpty()) {
            return 0;
        }
        long now = clock.nanoTime();
        int count = 0;
        for (ScheduledTimeout t = timers.peek(); t != null && t.deadline <= now; t = timers.peek()) {
            if (count == due.length) {
                due = Arrays.copyOf(due, count * 2);
            }
            due[count++] = timers.poll();
        }
        return count;
    }

    /** Runs the callbacks numbered below {@code last} ({@link #lastCallback()}), first in first out. */
    void runCallbacks(long last, TaskRunner tasks) {
        TaskQueue queue = callbacks;
        while (!queue.takenUpTo(last)) {
            Runnable task = queue.take();
            tasks.run(task, queue.takenContext());
        }
    }

    /** Runs the timeouts {@link #collectDueTimeouts()} took, in order, skipping any cancelled meanwhile. */
    void runDueTimeouts(int dueCount, TaskRunner tasks) {
        ScheduledTimeout[] timeouts = due;
        for (int i = 0; i < dueCount; i++) {
            ScheduledTimeout t = timeouts[i];
            timeouts[i] = null;
            Runnable r = t.callback;
            if (t.markRan()) {
                pendingTimeouts--;
                t.callback = null;
                tasks.run(r, t.context);
            }
        }
    }

    /** The next timeout due, or null. */
    ScheduledTimeout nextTimeout() {
        return timers.peek();
    }

    /**
     * On a {@link VirtualClock}: whether time may jump to the next deadline when the poll finds nothing to
     * do. Not when no deadline is pending (or only one that is never due), nor while a {@code runInExecutor}
     * task is out.
     */
    boolean mayJumpToNextDeadline() {
        ScheduledTimeout next = timers.peek();
        return next != null && next.deadline != Long.MAX_VALUE && executorTasks.get() == 0;
    }

    /** 0 if callbacks are pending, else until the next deadline (at most an hour), else an hour. */
    long pollTimeout() {
        if (hasQueuedWork()) {
            return 0;
        }
        ScheduledTimeout next = timers.peek();
        if (next == null) {
            return MAX_POLL_NANOS;
        }
        long now = clock.nanoTime();
        if (next.deadline <= now) {
            return 0;
        }
        long wait = next.deadline - now; // negative only if the subtraction overflowed
        return wait < 0 || wait > MAX_POLL_NANOS ? MAX_POLL_NANOS : wait;
    }

    // ---------------------------------------------------------------- the thread closing the loop, once it is marked closed

    /**
     * Refuses new callbacks and timeouts from now on; what was offered before is queued, to be cancelled and
     * discarded by the two methods below.
     */
    void closeQueues() {
        callbacks.close();
        timerInbox.close();
    }

    /** Cancels every pending timeout, those still in the inbox included; returns how many. */
    int cancelTimeouts() {
        while (!timerInbox.isEmpty()) {
            timerInbox.take().run(); // timeouts scheduled from other threads join the heap, to be cancelled below
        }
        int cancelled = 0;
        for (ScheduledTimeout t : timers.drain()) {
            if (t.markCancelled()) {
                cancelled++;
            }
        }
        pendingTimeouts = 0;
        return cancelled;
    }

    /** Discards every queued callback ({@link TaskRunner#discard}); returns how many. */
    int discardCallbacks(TaskRunner tasks) {
        int discarded = 0;
        while (!callbacks.isEmpty()) {
            tasks.discard(callbacks.take());
            discarded++;
        }
        return discarded;
    }
}
