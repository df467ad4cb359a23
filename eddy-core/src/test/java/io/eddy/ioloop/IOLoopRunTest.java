package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IOLoopRunTest {

    private IOLoop loop;

    @BeforeEach
    void open() {
        loop = IOLoop.create();
    }

    @AfterEach
    void close() {
        if (!loop.isClosed()) {
            loop.shutdown().join();
        }
    }

    @Test
    void stopBeforeStartMakesTheNextStartReturnAtOnce() {
        List<String> ran = new ArrayList<>();
        loop.addCallback(() -> ran.add("callback"));
        loop.stop();
        loop.start();
        assertEquals(List.of(), ran, "nothing runs in a start() that a prior stop() cancelled");
        loop.addCallback(loop::stop);
        loop.start();
        assertEquals(List.of("callback"), ran, "the callback was kept for the next start()");
    }

    @Test
    void reentrantStartFailsWithoutStoppingTheLoop() {
        List<String> messages = new ArrayList<>();
        loop.addCallback(() -> {
            try {
                loop.start();
            } catch (IllegalStateException e) {
                messages.add(e.getMessage());
            }
            loop.stop();
        });
        loop.start();
        assertEquals(List.of("IOLoop is already running"), messages);
    }

    @Test
    void stopFromACallbackLetsTheRestOfTheBatchAndDueTimeoutsRun() {
        List<String> ran = new ArrayList<>();
        loop.callAt(loop.time() - 1, () -> ran.add("due timeout"));
        loop.addCallback(() -> {
            ran.add("stopper");
            loop.stop();
        });
        loop.addCallback(() -> ran.add("after stopper"));
        loop.start();
        assertEquals(List.of("stopper", "after stopper", "due timeout"), ran);
    }

    @Test
    void aStoppedLoopCanStartAgainAndKeepsWhatWasQueued() {
        List<String> ran = new ArrayList<>();
        loop.addCallback(() -> {
            loop.stop();
            loop.addCallback(() -> ran.add("queued while stopping"));
        });
        loop.start();
        assertEquals(List.of(), ran);
        assertEquals(1, loop.stats().pendingCallbacks());
        loop.addCallback(loop::stop);
        loop.start();
        assertEquals(List.of("queued while stopping"), ran);
    }

    @Test
    void stopFromAnotherThreadWakesASleepingLoop() throws Exception {
        CountDownLatch running = new CountDownLatch(1);
        loop.addCallback(running::countDown);
        Thread thread = loop.startInNewThread("sleeper");
        assertTrue(running.await(5, TimeUnit.SECONDS));
        long start = System.nanoTime();
        loop.stop();
        thread.join(5000);
        long tookMs = (System.nanoTime() - start) / 1_000_000;
        assertFalse(thread.isAlive());
        assertFalse(loop.isRunning());
        assertTrue(tookMs < 500, "stop() took " + tookMs + " ms to wake a loop sleeping for an hour");
    }

    @Test
    void interruptingTheLoopThreadStopsTheLoopAndKeepsTheFlag() throws Exception {
        CompletableFuture<Boolean> flagAfterStart = new CompletableFuture<>();
        Thread thread = Thread.ofPlatform().start(() -> {
            loop.start();
            flagAfterStart.complete(Thread.currentThread().isInterrupted());
        });
        loop.submit(() -> null).get(5, TimeUnit.SECONDS); // running
        thread.interrupt();
        assertTrue(flagAfterStart.get(5, TimeUnit.SECONDS));
        assertFalse(loop.isRunning());
        thread.join(5000);
    }

    @Test
    void runSyncReturnsTheStagesValue() throws Exception {
        assertEquals(42, loop.runSync(() -> CompletableFuture.completedFuture(42)));
        CompletableFuture<String> later = new CompletableFuture<>();
        String value = loop.runSync(() -> {
            loop.callLater(Duration.ofMillis(1), () -> later.complete("later"));
            return later;
        });
        assertEquals("later", value);
    }

    @Test
    void runSyncRunsFnOnTheLoopThreadWithTheLoopCurrent() throws Exception {
        assertSame(loop, loop.runSync(() -> {
            assertTrue(loop.inLoopThread());
            return CompletableFuture.completedFuture(IOLoop.current());
        }));
    }

    @Test
    void runSyncOfANullStageReturnsNull() throws Exception {
        assertNull(loop.runSync(() -> null));
    }

    @Test
    void runSyncThrowsTheStagesFailureUnwrapped() {
        IOException e = assertThrows(IOException.class,
                () -> loop.runSync(() -> CompletableFuture.supplyAsync(() -> {
                    throw new java.util.concurrent.CompletionException(new IOException("disk on fire"));
                })));
        assertEquals("disk on fire", e.getMessage());
    }

    @Test
    void runSyncThrowsWhatFnThrows() {
        IOException e = assertThrows(IOException.class, () -> loop.runSync(() -> {
            throw new IOException("fn failed");
        }));
        assertEquals("fn failed", e.getMessage());
    }

    @Test
    void runSyncTimesOutOnTheLoopsClockAndCancelsTheStage() {
        VirtualClock clock = new VirtualClock();
        try (IOLoop virtual = IOLoop.builder().clock(clock).build()) {
            CompletableFuture<String> never = new CompletableFuture<>();
            TimeoutException e = assertThrows(TimeoutException.class,
                    () -> virtual.runSync(() -> never, Duration.ofMinutes(5)));
            assertTrue(e.getMessage().contains("PT5M"), e.getMessage());
            assertTrue(never.isCancelled());
            assertEquals(Duration.ofMinutes(5).toNanos(), clock.nanoTime());
        }
    }

    @Test
    void aTimedOutRunSyncDoesNotStopTheNextOne() throws Exception {
        VirtualClock clock = new VirtualClock();
        try (IOLoop virtual = IOLoop.builder().clock(clock).build()) {
            CompletableFuture<Integer> late = new CompletableFuture<>();
            assertThrows(TimeoutException.class, () -> virtual.runSync(() -> {
                virtual.callLater(Duration.ofSeconds(20), () -> late.complete(1));
                return late;
            }, Duration.ofSeconds(10)));

            CompletableFuture<Integer> next = new CompletableFuture<>();
            int value = virtual.runSync(() -> {
                virtual.callLater(Duration.ofHours(1), () -> next.complete(2));
                return next;
            }, Duration.ofHours(2));
            assertEquals(2, value);
        }
    }

    @Test
    void aRunSyncWhoseLoopThrowsLeavesNoTimerToStopTheNextOne() throws Exception {
        VirtualClock clock = new VirtualClock();
        try (IOLoop virtual = IOLoop.builder().clock(clock).build()) {
            InternalError e = assertThrows(InternalError.class, () -> virtual.runSync(() -> {
                throw new InternalError("out of start() (expected in this test)");
            }, Duration.ofMinutes(1)));
            assertEquals("out of start() (expected in this test)", e.getMessage());

            CompletableFuture<Integer> next = new CompletableFuture<>();
            int value = virtual.runSync(() -> {
                virtual.callLater(Duration.ofHours(1), () -> next.complete(3));
                return next;
            }, Duration.ofHours(2));
            assertEquals(3, value);
        }
    }

    @Test
    void closeGoesOnWhenADiscardedFutureTaskThrowsFromItsCancellation() {
        java.util.concurrent.FutureTask<String> throwing = new java.util.concurrent.FutureTask<>(() -> "never") {
            @Override
            protected void done() {
                throw new IllegalStateException("done() failed (expected in this test)");
            }
        };
        loop.addCallback(throwing);
        CompletableFuture<String> submitted = loop.submit(() -> "never");
        loop.close();
        assertTrue(loop.isClosed());
        assertTrue(throwing.isCancelled());
        assertTrue(submitted.isCompletedExceptionally(), "the task queued after it was discarded too");
        assertThrows(RejectedExecutionException.class, () -> loop.addCallback(() -> { }));
    }

    @Test
    void aRunSyncStoppedBeforeItsFnRanNeitherRunsFnLaterNorStopsTheNextOne() throws Exception {
        List<String> ran = new ArrayList<>();
        loop.stop(); // the next start returns at once: fn stays queued
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> loop.runSync(() -> {
            ran.add("abandoned fn");
            return null;
        }));
        assertTrue(e.getMessage().contains("stopped before"), e.getMessage());

        assertEquals("second", loop.runSync(() -> CompletableFuture.completedFuture("second")));
        assertEquals(List.of(), ran);
    }

    @Test
    void runSyncFailsWhenTheLoopIsStoppedBeforeTheStageCompletes() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> loop.runSync(() -> {
            loop.stop();
            return new CompletableFuture<>();
        }));
        assertTrue(e.getMessage().contains("stopped before"), e.getMessage());
    }

    @Test
    void runSyncInsideTheRunningLoopFails() throws Exception {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> loop.runSync(() -> CompletableFuture.completedFuture(loop.runSync(() -> null))));
        assertEquals("IOLoop is already running", e.getMessage());
    }

    @Test
    void closingARunningLoopFails() throws Exception {
        CompletableFuture<Throwable> failure = new CompletableFuture<>();
        loop.addCallback(() -> {
            try {
                loop.close();
                failure.complete(null);
            } catch (IllegalStateException e) {
                failure.complete(e);
            }
            loop.stop();
        });
        loop.start();
        assertTrue(failure.get() instanceof IllegalStateException);
        assertFalse(loop.isClosed());
    }

    @Test
    void closeIsIdempotentAndRejectsLaterWork() {
        loop.close();
        loop.close();
        assertTrue(loop.isClosed());
        assertThrows(RejectedExecutionException.class, () -> loop.addCallback(() -> { }));
        assertThrows(RejectedExecutionException.class, () -> loop.execute(() -> { }));
        assertThrows(RejectedExecutionException.class, () -> loop.spawnCallback(() -> { }));
        assertThrows(RejectedExecutionException.class, () -> loop.submit(() -> 1));
        assertThrows(RejectedExecutionException.class, () -> loop.callLater(Duration.ZERO, () -> { }));
        assertThrows(RejectedExecutionException.class, () -> loop.callAt(0, () -> { }));
        assertThrows(IllegalStateException.class, loop::start);
    }

    @Test
    void closeDiscardsQueuedCallbacksAndCancelsPendingTimeouts() {
        List<String> ran = new ArrayList<>();
        loop.addCallback(() -> ran.add("callback"));
        Timeout[] timeout = new Timeout[1];
        loop.addCallback(() -> {
            timeout[0] = loop.callLater(Duration.ofHours(1), () -> ran.add("timeout"));
            loop.stop();
        });
        loop.start();
        loop.addCallback(() -> ran.add("never"));
        loop.close();
        assertEquals(List.of("callback"), ran);
        assertTrue(timeout[0].isCancelled());
        assertFalse(timeout[0].cancel());
    }

    @Test
    void closeFailsTheFutureOfASubmitWhoseTaskNeverRanAndCancelsADiscardedFutureTask() throws Exception {
        CompletableFuture<String> submitted = loop.submit(() -> "never");
        java.util.concurrent.FutureTask<String> task = new java.util.concurrent.FutureTask<>(() -> "never");
        loop.addCallback(task);
        loop.close();
        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> submitted.get(1, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof RejectedExecutionException, "cause: " + e.getCause());
        assertTrue(e.getCause().getMessage().contains("closed before the task ran"), e.getCause().getMessage());
        assertTrue(task.isCancelled());
    }

    @Test
    void closeCancelsTimeoutsScheduledFromAnotherThreadThatTheLoopNeverSaw() throws Exception {
        Timeout[] timeout = new Timeout[1];
        Thread other = Thread.ofPlatform().start(() -> timeout[0] = loop.callLater(Duration.ofHours(1), () -> { }));
        other.join();
        assertFalse(timeout[0].isDone());
        loop.close();
        assertTrue(timeout[0].isCancelled());
    }

    @Test
    void shutdownStopsAndClosesARunningLoopFromAnotherThread() throws Exception {
        CountDownLatch running = new CountDownLatch(1);
        loop.addCallback(running::countDown);
        Thread thread = loop.startInNewThread("to-shut-down");
        assertTrue(running.await(5, TimeUnit.SECONDS));
        loop.shutdown().get(5, TimeUnit.SECONDS);
        assertTrue(loop.isClosed());
        thread.join(5000);
        assertFalse(thread.isAlive());
    }

    @Test
    void startInNewThreadReturnsOnceTheLoopRunsSoAShutdownRightAfterStopsIt() throws Exception {
        for (int i = 0; i < 50; i++) {
            try (IOLoop fresh = IOLoop.create()) {
                Thread thread = fresh.startInNewThread("fresh-" + i);
                assertTrue(fresh.isRunning());
                fresh.shutdown().get(5, TimeUnit.SECONDS);
                thread.join(5000);
                assertFalse(thread.isAlive());
                assertTrue(fresh.isClosed());
            }
        }
    }

    @Test
    void startInNewThreadOfAClosedLoopFailsInTheCaller() {
        loop.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> loop.startInNewThread("closed"));
        assertEquals("IOLoop is closed", e.getMessage());
    }

    @Test
    void shutdownOfALoopThatIsNotRunningClosesItAtOnce() {
        CompletableFuture<Void> done = loop.shutdown();
        assertTrue(done.isDone());
        assertTrue(loop.isClosed());
        assertTrue(loop.shutdown().isDone());
    }

    @Test
    void startInNewThreadRunsTheLoopThereAndRefusesARunningLoop() throws Exception {
        CompletableFuture<String> threadName = loop.submit(() -> Thread.currentThread().getName());
        Thread thread = loop.startInNewThread("eddy-test-loop");
        assertEquals("eddy-test-loop", threadName.get(5, TimeUnit.SECONDS));
        assertThrows(IllegalStateException.class, () -> loop.startInNewThread("second"));
        loop.stop();
        thread.join(5000);
    }

    @Test
    void startInNewThreadAfterAnEarlyStopReturnsAndTheNextStartRuns() throws Exception {
        List<String> ran = new ArrayList<>();
        loop.addCallback(() -> ran.add("callback"));
        loop.stop();
        Thread thread = loop.startInNewThread("stopped-early");
        thread.join(5000);
        assertFalse(thread.isAlive(), "the start() that the stop() cancelled returned at once");
        assertFalse(loop.isRunning());
        assertEquals(List.of(), ran);
        loop.runSync(() -> CompletableFuture.completedFuture(null));
        assertEquals(List.of("callback"), ran, "the stop was used up; the next start ran what was queued");
    }

    @Test
    void aLoopRestartedOnAnotherThreadRunsCallbacksThereUnderTheirContexts() throws Exception {
        Context.Key<String> who = Context.key("who");
        loop.runSync(() -> CompletableFuture.completedFuture(null)); // a first run, on this thread
        CompletableFuture<String> outer = new CompletableFuture<>();
        CompletableFuture<String> inner = new CompletableFuture<>();
        Context.empty().with(who, "caller").run(() -> loop.addCallback(() -> {
            outer.complete(Thread.currentThread().getName() + "/" + Context.current().get(who));
            // Added on the loop thread: takes the context current there, through that thread's context cell.
            loop.addCallback(() -> {
                inner.complete(Thread.currentThread().getName() + "/" + Context.current().get(who));
                loop.stop();
            });
        }));
        Thread thread = loop.startInNewThread("second-home");
        assertEquals("second-home/caller", outer.get(5, TimeUnit.SECONDS));
        assertEquals("second-home/caller", inner.get(5, TimeUnit.SECONDS));
        thread.join(5000);
        assertFalse(thread.isAlive());
        assertNull(Context.current().get(who), "the caller's own context is untouched");
    }

    @Test
    void toStringNamesTheBackendTheLoopThreadAndClosed() throws Exception {
        String idle = loop.toString();
        assertTrue(idle.contains(loop.backend()) && !idle.contains("running") && !idle.contains("closed"), idle);
        String running = loop.runSync(() -> CompletableFuture.completedFuture(loop.toString()));
        assertTrue(running.contains("running on " + Thread.currentThread().getName()), running);
        loop.close();
        assertTrue(loop.toString().contains("closed"), loop.toString());
    }

    @Test
    void statsCountHandlersCallbacksTimeoutsAndIterations() throws Exception {
        SocketChannelsHolder holder = new SocketChannelsHolder();
        try {
            loop.addHandler(holder.pair[1], (ch, ev) -> { }, IOLoop.NONE);
            loop.addCallback(() -> { });
            loop.addCallback(() -> { });
            LoopStats before = loop.stats();
            assertEquals(1, before.handlers());
            assertEquals(2, before.pendingCallbacks());
            assertEquals(0, before.iterations());
            LoopStats inside = loop.runSync(() -> {
                loop.callLater(Duration.ofHours(1), () -> { });
                return CompletableFuture.completedFuture(loop.stats());
            });
            assertEquals(1, inside.pendingTimeouts());
            assertEquals(0, inside.pendingCallbacks(), "the two callbacks ran in the same iteration as fn");
            assertTrue(inside.iterations() >= 1);
        } finally {
            holder.close();
        }
    }

    private static final class SocketChannelsHolder {
        final java.nio.channels.SocketChannel[] pair;

        SocketChannelsHolder() throws IOException {
            pair = Channels.socketPair();
        }

        void close() throws Exception {
            Channels.closeAll(pair[0], pair[1]);
        }
    }
}
