package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.random.RandomGenerator;

import static io.eddy.ioloop.BadInput.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad values given to {@link IOLoop}, {@link PeriodicCallback}, {@link VirtualClock} and {@link Timeout}:
 * each is refused with an exception naming the parameter or the value, and the loop still works after.
 * (What the other IOLoop tests already assert, such as unknown event bits or a closed loop's
 * {@code addCallback}, is not repeated here.)
 */
@org.junit.jupiter.api.Timeout(10) // a mishandled value may spin the loop forever: fail instead of hanging the build
class IOLoopBadInputTest {

    private final VirtualClock clock = new VirtualClock();
    private IOLoop loop;

    @BeforeEach
    void open() {
        loop = IOLoop.builder().clock(clock).build();
    }

    @AfterEach
    void close() {
        if (!loop.isClosed()) {
            loop.shutdown().join();
        }
    }

    /** The loop still runs a callback and a timeout. */
    private void assertLoopWorks() throws Exception {
        assertEquals("ok", loop.runSync(() -> {
            CompletableFuture<String> f = new CompletableFuture<>();
            loop.callLater(Duration.ofSeconds(1), () -> f.complete("ok"));
            return f;
        }, Duration.ofMinutes(1)));
    }

    @Test
    void nullCallbacksAndTasksAreRefusedNamingTheParameter() throws Exception {
        assertFails(NullPointerException.class, () -> loop.addCallback(null), "callback");
        assertFails(NullPointerException.class, () -> loop.execute(null), "callback");
        assertFails(NullPointerException.class, () -> loop.spawnCallback(null), "callback");
        assertFails(NullPointerException.class, () -> loop.submit(null), "task");
        assertFails(NullPointerException.class, () -> loop.addFuture(null, (v, e) -> { }), "stage");
        assertFails(NullPointerException.class, () -> loop.addFuture(new CompletableFuture<>(), null), "callback");
        assertFails(NullPointerException.class, () -> loop.runInExecutor(null, null), "fn");
        assertFails(NullPointerException.class, () -> loop.runSync(null), "fn");
        assertFails(IllegalArgumentException.class, () -> loop.runSync(() -> null, Duration.ZERO), "PT0S");
        assertFails(IllegalArgumentException.class, () -> loop.runSync(() -> null, Duration.ofSeconds(-1)), "PT-1S");
        assertFails(NullPointerException.class, () -> loop.startInNewThread(null), "threadName");
        assertEquals(0, loop.stats().pendingCallbacks(), "nothing was queued");
        assertLoopWorks();
    }

    @Test
    void nullTimeoutArgumentsAreRefusedNamingTheParameter() throws Exception {
        assertFails(NullPointerException.class, () -> loop.callLater(null, () -> { }), "delay");
        assertFails(NullPointerException.class, () -> loop.callLater(Duration.ZERO, null), "callback");
        assertFails(NullPointerException.class, () -> loop.callAt(0, null), "callback");
        assertFails(NullPointerException.class, () -> loop.addTimeout((Duration) null, () -> { }), "delay");
        assertFails(NullPointerException.class, () -> loop.removeTimeout(null), "timeout");
        assertEquals(0, loop.stats().pendingTimeouts(), "nothing was scheduled");
        assertLoopWorks();
    }

    @Test
    void nullHandlerArgumentsAreRefusedNamingTheParameter() throws Exception {
        Pipe pipe = Pipe.open();
        try {
            assertFails(NullPointerException.class, () -> loop.addHandler(null, (c, e) -> { }, IOLoop.READ), "channel");
            assertFails(NullPointerException.class, () -> loop.addHandler(pipe.source(), null, IOLoop.READ), "handler");
            assertFails(NullPointerException.class, () -> loop.updateHandler(null, IOLoop.READ), "channel");
            assertFails(NullPointerException.class, () -> loop.removeHandler(null), "channel");
            assertFails(IllegalArgumentException.class, () -> loop.addHandler(pipe.source(), (c, e) -> { }, -1),
                    "0xffffffff");
            assertEquals(0, loop.stats().handlers(), "nothing was registered");
            // The channel can still be added properly.
            loop.addHandler(pipe.source(), (c, e) -> { }, IOLoop.READ);
            assertEquals(1, loop.stats().handlers());
            loop.removeHandler(pipe.source());
        } finally {
            pipe.source().close();
            pipe.sink().close();
        }
        assertLoopWorks();
    }

    @Test
    void extremeDelaysSaturateInsteadOfOverflowing() throws Exception {
        clock.advance(Duration.ofHours(1)); // not at 0: now + delay really could overflow either way
        List<String> ran = new ArrayList<>();
        Timeout past = loop.callLater(Duration.ofSeconds(Long.MIN_VALUE), () -> ran.add("most negative"));
        Timeout future = loop.callLater(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999), () -> ran.add("largest"));
        assertTrue(past.deadline() <= loop.time(), "a negative delay is a deadline in the past, not one wrapped to the future");
        assertEquals(Long.MAX_VALUE, future.deadline());
        assertLoopWorks();
        assertEquals(List.of("most negative"), ran);
        assertFalse(future.isDone());
    }

    @Test
    void aNegativeBlockingThresholdIsRefusedNamingIt() throws Exception {
        assertFails(IllegalArgumentException.class, () -> loop.setBlockingLogThreshold(Duration.ofMillis(-5)), "PT-0.005S");
        assertFails(IllegalArgumentException.class,
                () -> loop.setBlockingThreshold(Duration.ofMillis(-5), stack -> { }), "PT-0.005S");
        assertFails(NullPointerException.class, () -> loop.setBlockingThreshold(Duration.ofMillis(5), null), "action");
        loop.setBlockingLogThreshold(null); // null and zero disable: not errors
        loop.setBlockingThreshold(Duration.ZERO, null);
        assertLoopWorks();
    }

    @Test
    void theBuilderRefusesBadValuesWhenTheyAreGiven() {
        assertFails(NullPointerException.class, () -> IOLoop.builder().clock(null), "clock");
        assertFails(NullPointerException.class, () -> IOLoop.builder().exceptionHandler(null), "handler");
        assertFails(NullPointerException.class, () -> IOLoop.builder().backend(null), "name");
        // At the call that gives it, not later in build(), which would have opened a selector by then.
        assertFails(IllegalArgumentException.class, () -> IOLoop.builder().blockingLogThreshold(Duration.ofSeconds(-1)),
                "PT-1S");
    }

    @Test
    void aClosedLoopRefusesEveryMethodThatWouldQueueWorkAndStaysClosed() throws Exception {
        loop.close();
        Pipe pipe = Pipe.open();
        try {
            assertFails(IllegalStateException.class, () -> loop.addHandler(pipe.source(), (c, e) -> { }, IOLoop.READ),
                    "closed");
            assertFails(IllegalStateException.class, () -> loop.updateHandler(pipe.source(), IOLoop.READ), "closed");
            assertFails(RejectedExecutionException.class, () -> loop.addFuture(new CompletableFuture<>(), (v, e) -> { }),
                    "closed");
            assertFails(RejectedExecutionException.class, () -> loop.runSync(() -> null), "closed");
            assertFails(RejectedExecutionException.class, () -> loop.addTimeout(5, () -> { }), "closed");
        } finally {
            pipe.source().close();
            pipe.sink().close();
        }
        CompletableFuture<Integer> late = loop.runInExecutor(Runnable::run, () -> 7);
        assertEquals(7, late.join(), "runInExecutor completes on the executor once the loop closed");
        loop.close(true); // still idempotent
        assertTrue(loop.shutdown().isDone());
    }

    // ---------------------------------------------------------------- VirtualClock, Timeout

    @Test
    void aVirtualClockRefusesToGoBackAndSaturatesGoingForward() throws Exception {
        assertFails(NullPointerException.class, () -> clock.advance(null), "d");
        assertFails(IllegalArgumentException.class, () -> clock.advance(Duration.ofNanos(-1)), "PT-0.000000001S");
        assertEquals(0, clock.nanoTime(), "a refused advance does not move time");
        clock.advance(Duration.ZERO);
        assertEquals(0, clock.nanoTime());
        clock.advance(Duration.ofSeconds(Long.MAX_VALUE));
        clock.advance(Duration.ofDays(1));
        assertEquals(Long.MAX_VALUE, clock.nanoTime(), "time saturates instead of wrapping to the past");
    }

    @Test
    void cancellingATimeoutTwiceAfterItRanOrOnAClosedLoopIsANoOp() throws Exception {
        Timeout ran = loop.callLater(Duration.ofSeconds(1), () -> { });
        assertLoopWorks();
        assertTrue(ran.isDone());
        assertFalse(ran.cancel());
        loop.removeTimeout(ran);
        assertFalse(ran.isCancelled());

        Timeout pending = loop.callLater(Duration.ofHours(5), () -> { });
        loop.close();
        assertFalse(pending.cancel(), "close cancelled it already");
        assertTrue(pending.isCancelled() && pending.isDone());
    }

    // ---------------------------------------------------------------- PeriodicCallback

    @Test
    void periodicCallbackRefusesNullsAndJitterOutsideZeroToOneNamingThem() {
        Duration second = Duration.ofSeconds(1);
        assertFails(NullPointerException.class, () -> new PeriodicCallback(() -> { }, null), "period");
        assertFails(NullPointerException.class, () -> new PeriodicCallback(loop, null, second, 0), "callback");
        assertFails(NullPointerException.class, () -> new PeriodicCallback(loop, () -> { }, second, 0, null), "random");
        assertFails(IllegalArgumentException.class, () -> new PeriodicCallback(() -> { }, second, -0.25), "-0.25");
        assertFails(IllegalArgumentException.class,
                () -> new PeriodicCallback(() -> { }, second, Double.POSITIVE_INFINITY), "Infinity");
        assertFails(IllegalArgumentException.class, () -> new PeriodicCallback(() -> { }, Duration.ofNanos(-1)),
                "PT-0.000000001S");
    }

    @Test
    void aPeriodTooLongForALongNeverComesDue() throws Exception {
        clock.advance(Duration.ofSeconds(1)); // start at a time > 0, so that now + period overflows
        int[] calls = {0};
        PeriodicCallback pc = new PeriodicCallback(loop, () -> calls[0]++, Duration.ofDays(365L * 1000), 0);
        pc.start();
        assertLoopWorks();
        assertEquals(0, calls[0], "the first call is a thousand years away, not now");
        assertTrue(pc.isRunning());
        pc.stop();
        assertLoopWorks();
    }

    @Test
    void theShortestPeriodWithFullJitterStillAdvances() throws Exception {
        // period 1 ns scaled by 1 + 1 * (0 - 0.5) = 0.5 would be 0 ns: the schedule must still move on.
        RandomGenerator alwaysZero = () -> 0L;
        List<Long> times = new ArrayList<>();
        List<Throwable> errors = new ArrayList<>();
        loop.close();
        loop = IOLoop.builder().clock(clock).exceptionHandler(errors::add).build();
        PeriodicCallback pc = new PeriodicCallback(loop, () -> times.add(loop.time()), Duration.ofNanos(1), 1.0, alwaysZero);
        long start = loop.time();
        pc.start();
        loop.runSync(() -> {
            CompletableFuture<Void> f = new CompletableFuture<>();
            loop.callLater(Duration.ofNanos(5), () -> f.complete(null));
            return f;
        });
        pc.stop();
        assertEquals(List.of(), errors);
        assertEquals(List.of(start + 1, start + 2, start + 3, start + 4, start + 5), times);
    }

    @Test
    void startingAPeriodicCallbackOnAClosedLoopFailsAndLeavesItStopped() {
        loop.close();
        PeriodicCallback pc = new PeriodicCallback(loop, () -> { }, Duration.ofSeconds(1), 0);
        assertFails(RejectedExecutionException.class, pc::start, "closed");
        assertFalse(pc.isRunning(), "nothing runs, so it does not claim to");
        pc.stop(); // no-op
    }
}
