package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.random.RandomGenerator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tornado's PeriodicCallback tests, on a VirtualClock: times in seconds from a start at 1000. */
class PeriodicCallbackTest {

    private static final Duration TEN_SECONDS = Duration.ofSeconds(10);

    private VirtualClock clock;
    private IOLoop loop;
    private final List<Throwable> errors = new ArrayList<>();

    @BeforeEach
    void open() {
        clock = new VirtualClock();
        clock.advance(Duration.ofSeconds(1000));
        loop = IOLoop.builder().clock(clock).exceptionHandler(errors::add).build();
    }

    @AfterEach
    void close() {
        loop.shutdown().join();
    }

    private double seconds() {
        return clock.nanoTime() / 1e9;
    }

    /** Records call times; completes {@link #done} once {@code target} calls were seen. */
    private final class Calls {
        final List<Double> times = new ArrayList<>();
        final int target;
        final CompletableFuture<Void> done = new CompletableFuture<>();

        Calls(int target) {
            this.target = target;
        }

        void record() {
            times.add(seconds());
            if (times.size() == target) {
                done.complete(null);
            }
        }
    }

    /** Starts {@code pc} on the loop, runs until {@code calls} is done, then stops {@code pc}. */
    private void runUntil(PeriodicCallback pc, Calls calls) throws Exception {
        loop.runSync(() -> {
            pc.start();
            return calls.done;
        });
        pc.stop();
    }

    @Test
    void theFirstCallComesOnePeriodAfterStartThenEveryPeriod() throws Exception {
        Calls calls = new Calls(5);
        PeriodicCallback pc = new PeriodicCallback(loop, calls::record, TEN_SECONDS, 0);
        runUntil(pc, calls);
        assertEquals(List.of(1010.0, 1020.0, 1030.0, 1040.0, 1050.0), calls.times);
    }

    @Test
    void anOverrunSkipsTheMissedSlotsAndStaysOnTheGrid() throws Exception {
        Iterator<Integer> durations = List.of(9, 9, 10, 11, 20, 20, 35, 35, 0, 0, 0).iterator();
        Calls calls = new Calls(11);
        PeriodicCallback pc = new PeriodicCallback(loop, () -> {
            calls.record();
            clock.advance(Duration.ofSeconds(durations.next()));
        }, TEN_SECONDS, 0);
        runUntil(pc, calls);
        assertEquals(List.of(1010.0, 1020.0, 1030.0, 1050.0, 1070.0, 1100.0, 1130.0, 1170.0, 1210.0, 1220.0, 1230.0),
                calls.times);
    }

    @Test
    void jitterScalesEachPeriodTheFirstIncluded() throws Exception {
        Iterator<Double> randoms = List.of(0.5, 1.0, 0.0, 0.75, 0.5, 0.5).iterator();
        RandomGenerator sequence = new RandomGenerator() {
            @Override
            public long nextLong() {
                throw new UnsupportedOperationException();
            }

            @Override
            public double nextDouble() {
                return randoms.next();
            }
        };
        Calls calls = new Calls(4);
        PeriodicCallback pc = new PeriodicCallback(loop, calls::record, TEN_SECONDS, 0.5, sequence);
        runUntil(pc, calls);
        assertEquals(List.of(1010.0, 1022.5, 1030.0, 1041.25), calls.times);
    }

    @Test
    void startIsIdempotent() throws Exception {
        Calls calls = new Calls(3);
        PeriodicCallback pc = new PeriodicCallback(loop, calls::record, TEN_SECONDS, 0);
        pc.start();
        pc.start();
        runUntil(pc, calls);
        assertEquals(List.of(1010.0, 1020.0, 1030.0), calls.times, "one chain, not two");
    }

    @Test
    void stopFromInsideTheCallbackEndsTheSchedule() throws Exception {
        List<Double> calls = new ArrayList<>();
        PeriodicCallback[] pc = new PeriodicCallback[1];
        pc[0] = new PeriodicCallback(loop, () -> {
            calls.add(seconds());
            if (calls.size() == 2) {
                pc[0].stop();
            }
        }, TEN_SECONDS, 0);
        loop.runSync(() -> {
            pc[0].start();
            CompletableFuture<Void> later = new CompletableFuture<>();
            loop.callLater(Duration.ofSeconds(100), () -> later.complete(null));
            return later;
        });
        assertEquals(List.of(1010.0, 1020.0), calls);
        assertFalse(pc[0].isRunning());
        assertEquals(0, loop.stats().pendingTimeouts());
    }

    @Test
    void aRestartCallsOnePeriodAfterTheNewStart() throws Exception {
        Calls first = new Calls(1);
        Calls second = new Calls(1);
        Calls[] current = {first};
        PeriodicCallback pc = new PeriodicCallback(loop, () -> current[0].record(), TEN_SECONDS, 0);
        runUntil(pc, first);
        clock.advance(Duration.ofSeconds(5));
        double restart = seconds();
        current[0] = second;
        runUntil(pc, second);
        assertEquals(List.of(restart + 10), second.times);
    }

    @Test
    void anExceptionIsReportedAndTheScheduleGoesOn() throws Exception {
        Calls calls = new Calls(3);
        PeriodicCallback pc = new PeriodicCallback(loop, () -> {
            calls.record();
            throw new IllegalStateException("tick failed");
        }, TEN_SECONDS, 0);
        runUntil(pc, calls);
        assertEquals(List.of(1010.0, 1020.0, 1030.0), calls.times);
        assertEquals(3, errors.size());
        assertEquals("tick failed", errors.get(0).getMessage());
    }

    @Test
    void withoutALoopItUsesTheCurrentLoopAtStart() throws Exception {
        Calls calls = new Calls(1);
        PeriodicCallback pc = new PeriodicCallback(calls::record, TEN_SECONDS);
        runUntil(pc, calls);
        assertEquals(List.of(1010.0), calls.times);
    }

    @Test
    void badArgumentsAreRejectedWithTheValue() {
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class,
                () -> new PeriodicCallback(() -> { }, Duration.ZERO));
        assertTrue(zero.getMessage().contains("PT0S"), zero.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new PeriodicCallback(() -> { }, Duration.ofSeconds(-1)));
        IllegalArgumentException jitter = assertThrows(IllegalArgumentException.class,
                () -> new PeriodicCallback(() -> { }, TEN_SECONDS, 1.5));
        assertTrue(jitter.getMessage().contains("1.5"), jitter.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new PeriodicCallback(() -> { }, TEN_SECONDS, Double.NaN));
        assertThrows(NullPointerException.class, () -> new PeriodicCallback(null, TEN_SECONDS));
    }

    @Test
    void startAndStopWorkFromAnotherThread() throws Exception {
        Calls calls = new Calls(2);
        PeriodicCallback pc = new PeriodicCallback(loop, calls::record, TEN_SECONDS, 0);
        Thread starter = Thread.ofPlatform().start(pc::start);
        starter.join();
        assertTrue(pc.isRunning());
        runUntil(pc, calls);
        Thread stopper = Thread.ofPlatform().start(pc::stop);
        stopper.join();
        assertFalse(pc.isRunning());
        assertEquals(List.of(1010.0, 1020.0), calls.times);
        LoopStats stats = loop.runSync(() -> java.util.concurrent.CompletableFuture.completedFuture(loop.stats()));
        assertEquals(0, stats.pendingTimeouts(), "the cancel from another thread reached the loop");
    }
}
