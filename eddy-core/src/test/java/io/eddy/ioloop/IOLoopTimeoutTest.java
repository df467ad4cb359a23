package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IOLoopTimeoutTest {

    private VirtualClock clock;
    private IOLoop loop;

    @BeforeEach
    void open() {
        clock = new VirtualClock();
        loop = IOLoop.builder().clock(clock).build();
    }

    @AfterEach
    void close() {
        loop.shutdown().join();
    }

    @Test
    void timeoutsRunInDeadlineOrderAndEqualDeadlinesInInsertionOrder() {
        List<String> ran = new ArrayList<>();
        loop.callLater(Duration.ofSeconds(2), () -> ran.add("2s"));
        loop.callLater(Duration.ofSeconds(1), () -> ran.add("1s a"));
        loop.callLater(Duration.ofSeconds(1), () -> ran.add("1s b"));
        loop.callLater(Duration.ofSeconds(1), () -> ran.add("1s c"));
        loop.callLater(Duration.ofSeconds(3), loop::stop);
        loop.start();
        assertEquals(List.of("1s a", "1s b", "1s c", "2s"), ran);
    }

    @Test
    void aTimeoutRunsAtItsDeadlineOnTheLoopsClock() {
        long[] ranAt = new long[1];
        long start = loop.time();
        loop.callLater(Duration.ofMinutes(10), () -> {
            ranAt[0] = loop.time();
            loop.stop();
        });
        loop.start();
        assertEquals(start + Duration.ofMinutes(10).toNanos(), ranAt[0]);
    }

    @Test
    void aDueTimeoutCancelledByAnEarlierOneOfTheSameIterationDoesNotRun() {
        List<String> ran = new ArrayList<>();
        Timeout[] second = new Timeout[1];
        loop.callLater(Duration.ofSeconds(1), () -> {
            ran.add("first");
            assertTrue(second[0].cancel(), "due but not run yet: still pending");
        });
        second[0] = loop.callLater(Duration.ofSeconds(1), () -> ran.add("second"));
        loop.callLater(Duration.ofSeconds(2), loop::stop);
        loop.start();
        assertEquals(List.of("first"), ran);
        assertTrue(second[0].isCancelled() && second[0].isDone());
    }

    @Test
    void cancelIsTrueOnlyForAPendingTimeout() {
        Timeout ran = loop.callLater(Duration.ofSeconds(1), () -> { });
        Timeout cancelled = loop.callLater(Duration.ofSeconds(1), () -> { });
        assertFalse(ran.isDone());
        assertTrue(cancelled.cancel());
        assertFalse(cancelled.cancel());
        loop.callLater(Duration.ofSeconds(2), loop::stop);
        loop.start();
        assertTrue(ran.isDone());
        assertFalse(ran.isCancelled());
        assertFalse(ran.cancel(), "cancelling a fired timeout is a no-op");
        loop.removeTimeout(ran);
        loop.removeTimeout(cancelled);
        assertTrue(cancelled.isCancelled());
    }

    @Test
    void aPastDeadlineOrNegativeDelayRunsInTheNextIteration() {
        List<String> ran = new ArrayList<>();
        loop.callLater(Duration.ofSeconds(-5), () -> ran.add("negative delay"));
        loop.callAt(Long.MIN_VALUE, () -> ran.add("long ago"));
        loop.addCallback(loop::stop);
        loop.start();
        assertEquals(List.of("long ago", "negative delay"), ran);
        assertEquals(0, clock.nanoTime(), "no time had to pass");
    }

    @Test
    void aDeadlineThatWouldOverflowSaturatesAndNeverComesDue() {
        Timeout never = loop.callLater(Duration.ofSeconds(Long.MAX_VALUE), () -> { });
        Timeout far = loop.callLater(Duration.ofDays(365 * 200), () -> { });
        assertEquals(Long.MAX_VALUE, never.deadline());
        loop.callLater(Duration.ofDays(1), loop::stop);
        loop.start();
        assertFalse(never.isDone());
        assertFalse(far.isDone());
        assertEquals(2, loop.stats().pendingTimeouts());
    }

    @Test
    void addTimeoutAndRemoveTimeoutAreCallAtCallLaterAndCancel() {
        List<String> ran = new ArrayList<>();
        loop.addTimeout(loop.time() + 10, () -> ran.add("at"));
        loop.addTimeout(Duration.ofNanos(20), () -> ran.add("later"));
        Timeout removed = loop.addTimeout(Duration.ofNanos(15), () -> ran.add("removed"));
        loop.removeTimeout(removed);
        loop.addTimeout(Duration.ofNanos(30), loop::stop);
        loop.start();
        assertEquals(List.of("at", "later"), ran);
    }

    @Test
    void aVirtualClockLoopJumpsToTheNextDeadlineInsteadOfSleeping() {
        List<Long> times = new ArrayList<>();
        loop.callLater(Duration.ofHours(5), () -> times.add(loop.time()));
        loop.callLater(Duration.ofDays(3), () -> {
            times.add(loop.time());
            loop.stop();
        });
        long started = System.nanoTime();
        loop.start();
        assertEquals(List.of(Duration.ofHours(5).toNanos(), Duration.ofDays(3).toNanos()), times);
        assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(30), "no real waiting");
    }

    @Test
    void advanceMovesVirtualTimeAndWakesTheLoop() throws Exception {
        // With work in an executor outstanding the loop may not jump; it waits for advance().
        CompletableFuture<Void> release = new CompletableFuture<>();
        CompletableFuture<Long> fired = new CompletableFuture<>();
        loop.submit(() -> {
            loop.runInExecutor(null, release::get);
            loop.callLater(Duration.ofSeconds(30), () -> fired.complete(loop.time()));
            return null;
        });
        Thread thread = loop.startInNewThread("virtual");
        try {
            loop.submit(() -> null).get(5, TimeUnit.SECONDS);
            assertFalse(fired.isDone());
            clock.advance(Duration.ofSeconds(30));
            assertEquals(Duration.ofSeconds(30).toNanos(), fired.get(5, TimeUnit.SECONDS));
        } finally {
            release.complete(null);
            loop.stop();
            thread.join(5000);
        }
    }

    @Test
    void aTimeoutFromAnotherThreadWithAnEarlierDeadlineWakesTheLoop() throws Exception {
        try (IOLoop real = IOLoop.create()) {
            real.callLater(Duration.ofHours(1), () -> { });
            Thread thread = real.startInNewThread("real-clock");
            real.submit(() -> null).get(5, TimeUnit.SECONDS);
            CompletableFuture<Boolean> fired = new CompletableFuture<>();
            long start = System.nanoTime();
            real.callLater(Duration.ofMillis(1), () -> fired.complete(real.inLoopThread()));
            assertTrue(fired.get(5, TimeUnit.SECONDS));
            long tookMs = (System.nanoTime() - start) / 1_000_000;
            assertTrue(tookMs < 500, "a 1 ms timeout from another thread took " + tookMs + " ms");
            real.stop();
            thread.join(5000);
        }
    }

    @Test
    void timeoutsCanBeCancelledFromAnotherThread() throws Exception {
        Timeout timeout = loop.callLater(Duration.ofSeconds(10), () -> { });
        loop.runSync(() -> CompletableFuture.completedFuture(null));
        assertEquals(1, loop.stats().pendingTimeouts());
        Thread canceller = Thread.ofPlatform().start(() -> assertTrue(timeout.cancel()));
        canceller.join();
        loop.runSync(() -> CompletableFuture.completedFuture(null));
        assertEquals(0, loop.stats().pendingTimeouts());
    }
}
