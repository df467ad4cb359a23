package io.eddy.bench;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.Timeout;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.ScheduledFuture;
import io.netty.util.internal.PlatformDependent;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * Eddy's {@link IOLoop} beside Netty 4.2's single-thread event loop
 * ({@code MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory()).next()}), doing the same operation
 * in the same run. One method per (operation, implementation): {@code operation_eddy} and
 * {@code operation_netty} sort next to each other in JMH's table. All scores are operations per second:
 * callbacks, timeouts or round trips.
 *
 * <p>Each loop runs in its own thread, started once per trial. A batched benchmark hands one batch
 * of {@value #BATCH} operations to the loop and waits (spin, then park) until the loop signals that
 * the last one ran; the fixed cost of that hand-off (one wake-up of a sleeping loop, one signal back)
 * is the same for both and is spread over the batch.
 *
 * <ul>
 *   <li>{@code callbacksFromLoopThread}: a callback on the loop adds {@value #BATCH} callbacks
 *       ({@code addCallback} / {@code execute}); done when the last has run.</li>
 *   <li>{@code callbacksFromOtherThread}: the benchmark thread adds {@value #BATCH} callbacks to the
 *       running loop; done when the last has run.</li>
 *   <li>{@code timeoutsAddedCancelled}: on the loop, {@value #BATCH} timeouts one hour away are
 *       scheduled, then all are cancelled in the order they were added (so the timer heap holds
 *       {@value #BATCH} entries at its peak).</li>
 *   <li>{@code timeoutsAddedFired}: on the loop, {@value #BATCH} timeouts are scheduled with a deadline
 *       of now; done when the last has fired.</li>
 *   <li>{@code submitRoundTrip}: the benchmark thread runs {@code submit(() -> x).get()}, one at a time.</li>
 * </ul>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--sun-misc-unsafe-memory-access=allow", "-Xms1g", "-Xmx1g",
        "--enable-native-access=ALL-UNNAMED", "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Threads(1)
public class LoopBenchmark {

    /** Operations per invocation of a batched benchmark. */
    public static final int BATCH = 10_000;

    private static final Duration ONE_HOUR = Duration.ofHours(1);
    private static final Runnable NOOP = () -> { };

    // ------------------------------------------------------------------ Eddy

    /** An Eddy loop running in its own thread, and the batches it runs. */
    @State(Scope.Benchmark)
    public static class EddyLoop {
        /** Eddy's I/O backend; the loop's callbacks and timers are the same code on both, its wake-up is not. */
        @Param({"nio", "epoll"})
        public String backend;
        IOLoop loop;
        Thread thread;
        final Completion done = new Completion();
        final Callable<Object> answer = () -> Boolean.TRUE;
        final Timeout[] timeouts = new Timeout[BATCH];

        /** Callbacks still to run in this batch; loop thread, after the hand-off. */
        int remaining;

        final Runnable tick = () -> {
            if (--remaining == 0) {
                done.signal();
            }
        };

        final Runnable callbackBatch = () -> {
            remaining = BATCH;
            for (int i = 0; i < BATCH; i++) {
                loop.addCallback(tick);
            }
        };

        final Runnable addCancelBatch = () -> {
            Timeout[] ts = timeouts;
            for (int i = 0; i < BATCH; i++) {
                ts[i] = loop.callLater(ONE_HOUR, NOOP);
            }
            boolean allPending = true;
            for (int i = 0; i < BATCH; i++) {
                allPending &= ts[i].cancel();
                ts[i] = null;
            }
            if (allPending) {
                done.signal();
            } else {
                done.fail(new AssertionError("a timeout one hour away was not pending when cancelled"));
            }
        };

        final Runnable addFireBatch = () -> {
            remaining = BATCH;
            for (int i = 0; i < BATCH; i++) {
                loop.callAt(loop.time(), tick);
            }
        };

        @Setup(Level.Trial)
        public void start() throws Exception {
            loop = IOLoop.builder().backend(backend).build();
            thread = loop.startInNewThread("eddy-bench-loop"); // returns once the loop runs
        }

        @TearDown(Level.Trial)
        public void stop() throws Exception {
            loop.shutdown().get(10, TimeUnit.SECONDS);
            thread.join();
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void callbacksFromLoopThread_eddy(EddyLoop s) {
        s.done.reset();
        s.loop.addCallback(s.callbackBatch);
        s.done.await();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void callbacksFromOtherThread_eddy(EddyLoop s) {
        s.done.reset();
        s.remaining = BATCH;
        IOLoop loop = s.loop;
        Runnable tick = s.tick;
        for (int i = 0; i < BATCH; i++) {
            loop.addCallback(tick);
        }
        s.done.await();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void timeoutsAddedCancelled_eddy(EddyLoop s) {
        s.done.reset();
        s.loop.addCallback(s.addCancelBatch);
        s.done.await();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void timeoutsAddedFired_eddy(EddyLoop s) {
        s.done.reset();
        s.loop.addCallback(s.addFireBatch);
        s.done.await();
    }

    @Benchmark
    public Object submitRoundTrip_eddy(EddyLoop s) throws Exception {
        return s.loop.submit(s.answer).get();
    }

    // ------------------------------------------------------------------ Netty

    /** A Netty 4.2 single-thread NIO event loop, started once, and the batches it runs. */
    @State(Scope.Benchmark)
    public static class NettyLoop {
        MultiThreadIoEventLoopGroup group;
        EventLoop loop;
        final Completion done = new Completion();
        final Callable<Object> answer = () -> Boolean.TRUE;
        final ScheduledFuture<?>[] timeouts = new ScheduledFuture<?>[BATCH];

        /** Tasks still to run in this batch; loop thread, after the hand-off. */
        int remaining;

        final Runnable tick = () -> {
            if (--remaining == 0) {
                done.signal();
            }
        };

        final Runnable callbackBatch = () -> {
            remaining = BATCH;
            for (int i = 0; i < BATCH; i++) {
                loop.execute(tick);
            }
        };

        final Runnable addCancelBatch = () -> {
            ScheduledFuture<?>[] ts = timeouts;
            for (int i = 0; i < BATCH; i++) {
                ts[i] = loop.schedule(NOOP, 1, TimeUnit.HOURS);
            }
            boolean allPending = true;
            for (int i = 0; i < BATCH; i++) {
                allPending &= ts[i].cancel(false);
                ts[i] = null;
            }
            if (allPending) {
                done.signal();
            } else {
                done.fail(new AssertionError("a task scheduled one hour away was not pending when cancelled"));
            }
        };

        final Runnable addFireBatch = () -> {
            remaining = BATCH;
            for (int i = 0; i < BATCH; i++) {
                loop.schedule(tick, 0, TimeUnit.NANOSECONDS);
            }
        };

        @Setup(Level.Trial)
        public void start() throws Exception {
            if (!PlatformDependent.hasUnsafe()) {
                System.err.println("WARNING: Netty runs without sun.misc.Unsafe (" + PlatformDependent.getUnsafeUnavailabilityCause()
                        + "); pass --sun-misc-unsafe-memory-access=allow to compare against Netty at its best");
            }
            group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
            loop = group.next();
            loop.submit(() -> null).get(10, TimeUnit.SECONDS); // the loop thread starts on first use
        }

        @TearDown(Level.Trial)
        public void stop() throws Exception {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).sync();
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void callbacksFromLoopThread_netty(NettyLoop s) {
        s.done.reset();
        s.loop.execute(s.callbackBatch);
        s.done.await();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void callbacksFromOtherThread_netty(NettyLoop s) {
        s.done.reset();
        s.remaining = BATCH;
        EventLoop loop = s.loop;
        Runnable tick = s.tick;
        for (int i = 0; i < BATCH; i++) {
            loop.execute(tick);
        }
        s.done.await();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void timeoutsAddedCancelled_netty(NettyLoop s) {
        s.done.reset();
        s.loop.execute(s.addCancelBatch);
        s.done.await();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void timeoutsAddedFired_netty(NettyLoop s) {
        s.done.reset();
        s.loop.execute(s.addFireBatch);
        s.done.await();
    }

    @Benchmark
    public Object submitRoundTrip_netty(NettyLoop s) throws Exception {
        return s.loop.submit(s.answer).get();
    }
}
