package io.eddy.ioloop;

import io.eddy.ioloop.internal.PollKey;
import io.eddy.ioloop.internal.Poller;
import io.eddy.ioloop.internal.ReadyEvents;
import io.eddy.ioloop.internal.Watchdog;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The loop itself: iterations in Tornado 4.5's order, until {@code stop()}. Each one (1) takes the
 * callbacks queued so far and the timeouts due now, (2) runs those callbacks, (3) runs those timeouts,
 * (4) polls, unless stopped, and (5) calls the handlers of the ready channels.
 *
 * <p>Loop thread only: {@link #runUntilStopped()} runs inside {@code IOLoop.start()}; {@link #iterations()}
 * may be read anywhere, as a snapshot.
 */
final class LoopIteration {

    private static final System.Logger LOG = System.getLogger("io.eddy.ioloop");

    private final LoopState state;
    private final Scheduler scheduler;
    private final TaskRunner tasks;
    private final Poller poller;
    private final Wakeup wakeup;
    private final Watchdog.Watch watch;
    private final Clock clock;
    /** The clock, if it is virtual: then the loop never sleeps waiting for a timer, time jumps instead. */
    private final VirtualClock virtualClock;
    /** The events of one poll, reused from poll to poll. */
    private final ReadyEvents ready = new ReadyEvents();
    /** Iterations run. Owned by the loop thread; read as a snapshot elsewhere. */
    private long iterations;

    LoopIteration(LoopState state, Scheduler scheduler, TaskRunner tasks, Poller poller, Wakeup wakeup,
                  Watchdog.Watch watch, Clock clock) {
        this.state = state;
        this.scheduler = scheduler;
        this.tasks = tasks;
        this.poller = poller;
        this.wakeup = wakeup;
        this.watch = watch;
        this.clock = clock;
        this.virtualClock = clock instanceof VirtualClock v ? v : null;
    }

    /** Iterations run so far: exact on the loop thread, a snapshot elsewhere. */
    long iterations() {
        return iterations;
    }

    /**
     * Runs iterations until {@code stop()} (checked just before each poll) or until the thread is
     * interrupted; the interrupt flag stays set.
     */
    void runUntilStopped() {
        if (watch.enabled()) {
            watch.busy();
        }
        while (true) {
            iterations++;
            // (1) the callbacks queued so far, and the timeouts due now
            long lastCallback = scheduler.lastCallback();
            int dueCount = scheduler.collectDueTimeouts();
            // (2) run those callbacks, first in first out
            scheduler.runCallbacks(lastCallback, tasks);
            // (3) run those timeouts, skipping any cancelled meanwhile
            scheduler.runDueTimeouts(dueCount, tasks);
            // (4) poll, unless stopped
            long timeout = scheduler.pollTimeout();
            boolean jumpIfIdle = false;
            if (virtualClock != null && timeout != 0) {
                jumpIfIdle = scheduler.mayJumpToNextDeadline();
                timeout = jumpIfIdle ? 0 : -1;
            }
            if (state.stopRequested()) {
                break;
            }
            int n = poll(timeout);
            if (Thread.currentThread().isInterrupted()) {
                // An interrupted thread's select returns at once, forever: leave, with the flag still set.
                LOG.log(System.Logger.Level.DEBUG, "IOLoop thread interrupted: stopping the loop");
                ready.clear();
                break;
            }
            if (jumpIfIdle && n == 0 && !scheduler.hasQueuedWork()) {
                virtualClock.advanceTo(scheduler.nextTimeout().deadline);
            }
            // (5) dispatch the I/O events
            dispatch(n);
        }
    }

    /**
     * Polls for I/O: at once for a timeout of 0, else until woken or the timeout (negative: no timeout).
     * The watchdog does not count the wait as work.
     */
    private int poll(long timeout) {
        boolean watched = watch.enabled();
        if (watched) {
            watch.idle();
        }
        try {
            if (timeout == 0) {
                return poller.poll(0, ready);
            }
            ScheduledTimeout next = scheduler.nextTimeout();
            wakeup.sleepUntil(next == null ? Long.MAX_VALUE : next.deadline);
            // Re-check after announcing the sleep: a producer (or a VirtualClock.advance) that came
            // before it saw sleeping == false and did not wake us.
            if (scheduler.hasQueuedWork() || state.stopRequested()
                    || virtualClock != null && next != null && next.deadline <= clock.nanoTime()) {
                wakeup.awake();
                timeout = 0;
            }
            int n = poller.poll(timeout, ready);
            wakeup.awake();
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException("poll failed", e);
        } finally {
            if (watched) {
                watch.busy();
            }
        }
    }

    /** Calls the handler of each ready channel still registered: removing a handler drops its polled event. */
    private void dispatch(int n) {
        ReadyEvents events = ready;
        for (int i = 0; i < n; i++) {
            PollKey key = events.key(i);
            if (key.isLive()) {
                Handlers.Registration reg = (Handlers.Registration) key.attachment();
                tasks.runHandler(reg, key.channel(), events.events(i));
            }
        }
        events.clear();
    }
}
