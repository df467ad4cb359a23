package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.IntConsumer;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Races between {@link IOLoop#addCallback} from many threads and {@link IOLoop#stop()} / {@link IOLoop#close()}
 * from another: every callback runs once, or is reported not run (to its caller with
 * {@link RejectedExecutionException}, or in the DEBUG count of callbacks discarded at close), never both,
 * never twice; nothing else is thrown.
 */
class IOLoopRaceTest {

    private static final int ROUNDS = 1_000;
    private static final int ADDERS = 8;
    private static final int PER_ADDER = 50;
    private static final Pattern DISCARDED = Pattern.compile("discarded (\\d+) queued callbacks");

    private final ExecutorService adders = Executors.newFixedThreadPool(ADDERS);
    private final Logger logger = Logger.getLogger("io.eddy.ioloop");
    private final Level previousLevel = logger.getLevel();
    private final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            records.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @AfterEach
    void cleanUp() {
        adders.shutdownNow();
        logger.removeHandler(capture);
        logger.setLevel(previousLevel);
    }

    @Test
    void callbacksAddedWhileTheLoopIsStoppedAndClosedRunOnceOrAreReportedNotRunOnce() throws Exception {
        logger.setLevel(Level.ALL);
        logger.addHandler(capture);
        int total = ADDERS * PER_ADDER;
        long ran = 0;
        long rejectedTotal = 0;
        long discardedTotal = 0;
        for (int round = 0; round < ROUNDS; round++) {
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            IOLoop loop = IOLoop.builder().exceptionHandler(errors::add).build();
            AtomicIntegerArray runs = new AtomicIntegerArray(total);
            AtomicIntegerArray rejected = new AtomicIntegerArray(total);
            Thread loopThread = loop.startInNewThread("race-loop-" + round);
            CountDownLatch go = new CountDownLatch(1);
            List<CompletableFuture<Void>> adding = startAdders(go, callback -> {
                try {
                    loop.addCallback(() -> runs.incrementAndGet(callback));
                } catch (RejectedExecutionException e) {
                    rejected.incrementAndGet(callback);
                }
            });
            records.clear();
            go.countDown();
            spinBeforeStopping(round);
            int refusals = 0;
            while (true) {
                loop.stop();
                try {
                    loop.close();
                    break;
                } catch (IllegalStateException stillRunning) {
                    refusals++; // documented: a running loop cannot be closed; stop() takes effect before its next poll
                    assertTrue(refusals < 100_000_000, "the loop did not stop");
                }
            }
            for (CompletableFuture<Void> f : adding) {
                f.get(30, TimeUnit.SECONDS); // nothing but RejectedExecutionException was thrown
            }
            loopThread.join(30_000);
            assertFalse(loopThread.isAlive(), "the loop thread did not end");
            assertTrue(errors.isEmpty(), "round " + round + ": exceptions in callbacks: " + errors);

            int discarded = 0;
            for (LogRecord r : records) {
                Matcher m = DISCARDED.matcher(new SimpleFormatter().formatMessage(r));
                if (m.find() && r.getLongThreadID() == Thread.currentThread().threadId()) {
                    discarded += Integer.parseInt(m.group(1));
                }
            }
            int notRun = 0;
            int rejectedCount = 0;
            for (int id = 0; id < total; id++) {
                int r = runs.get(id);
                int rej = rejected.get(id);
                if (r > 1) {
                    fail("round " + round + ": callback " + id + " ran " + r + " times");
                }
                if (r == 1 && rej > 0) {
                    fail("round " + round + ": callback " + id + " ran, yet its addCallback threw RejectedExecutionException");
                }
                notRun += 1 - r;
                rejectedCount += rej;
            }
            assertEquals(notRun, rejectedCount + discarded, "round " + round + ": " + notRun + " callbacks did not run; "
                    + rejectedCount + " were rejected and " + discarded + " counted as discarded at close");
            ran += total - notRun;
            rejectedTotal += rejectedCount;
            discardedTotal += discarded;
        }
        System.out.printf("IOLoopRaceTest: %d rounds x %d callbacks from %d threads: %d ran, %d rejected, %d discarded at close%n",
                ROUNDS, total, ADDERS, ran, rejectedTotal, discardedTotal);
    }

    @Test
    void timeoutsScheduledWhileTheLoopIsStoppedAndClosedRunOnceOrAreRejectedOrCancelledNeverTwoOfThese() throws Exception {
        int total = ADDERS * PER_ADDER;
        for (int round = 0; round < ROUNDS / 4; round++) {
            IOLoop loop = IOLoop.create();
            AtomicIntegerArray runs = new AtomicIntegerArray(total);
            AtomicReferenceArray<Timeout> scheduled = new AtomicReferenceArray<>(total);
            Thread loopThread = loop.startInNewThread("timeout-race-loop-" + round);
            CountDownLatch go = new CountDownLatch(1);
            List<CompletableFuture<Void>> adding = startAdders(go, timeout -> {
                try {
                    scheduled.set(timeout, loop.callLater(Duration.ZERO, () -> runs.incrementAndGet(timeout)));
                } catch (RejectedExecutionException e) {
                    // reported: scheduled stays null
                }
            });
            go.countDown();
            spinBeforeStopping(round);
            loop.shutdown().get(30, TimeUnit.SECONDS);
            for (CompletableFuture<Void> f : adding) {
                f.get(30, TimeUnit.SECONDS);
            }
            loopThread.join(30_000);
            assertFalse(loopThread.isAlive(), "the loop thread did not end");
            for (int id = 0; id < total; id++) {
                Timeout t = scheduled.get(id);
                int r = runs.get(id);
                if (t == null) {
                    assertEquals(0, r, "round " + round + ": timeout " + id + " was rejected, yet it ran");
                } else {
                    assertTrue(t.isDone(), "round " + round + ": timeout " + id + " neither ran nor was cancelled");
                    assertEquals(t.isCancelled() ? 0 : 1, r, "round " + round + ": timeout " + id
                            + (t.isCancelled() ? " was cancelled at close, yet it ran" : " ran " + r + " times"));
                }
            }
        }
    }

    /** {@link #ADDERS} threads that, once {@code go} opens, each call {@code add} for its {@link #PER_ADDER} ids. */
    private List<CompletableFuture<Void>> startAdders(CountDownLatch go, IntConsumer add) {
        List<CompletableFuture<Void>> adding = new ArrayList<>();
        for (int a = 0; a < ADDERS; a++) {
            int first = a * PER_ADDER;
            adding.add(CompletableFuture.runAsync(() -> {
                awaitQuietly(go);
                for (int id = first; id < first + PER_ADDER; id++) {
                    add.accept(id);
                }
            }, adders));
        }
        return adding;
    }

    /** Varies the moment of the stop across rounds, from at once to well into the adding. */
    private static void spinBeforeStopping(int round) {
        for (int spin = (round % 40) * 50; spin > 0; spin--) {
            Thread.onSpinWait();
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("never released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
