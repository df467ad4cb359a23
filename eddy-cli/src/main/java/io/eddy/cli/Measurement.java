package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.PeriodicCallback;
import org.HdrHistogram.Histogram;

import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

/**
 * The time line of a load run: a warm-up, then the measured time. Counts the operations (and errors)
 * that complete, keeps their latency once measuring, prints one line a second, and says "measuring" when
 * the warm-up ends (a runner samples the server's CPU time from there). Loop thread only.
 */
final class Measurement {

    final Histogram latency = new Histogram(TimeUnit.MINUTES.toNanos(1), 3);
    private final IOLoop loop;
    private final LoadOptions options;
    private final PrintStream live;
    /** The per-second line: (operations per second in the last second, this) to text. */
    private final BiFunction<Double, Measurement, String> line;
    private boolean measuring;
    private long since;
    private long operations;
    private long errors;
    private long lastOperations;
    private long lastTick;

    Measurement(IOLoop loop, LoadOptions options, PrintStream live, BiFunction<Double, Measurement, String> line) {
        this.loop = loop;
        this.options = options;
        this.live = live;
        this.line = line;
    }

    /** Starts the clock: the warm-up now, the measured time after it, then {@code onEnd}. */
    void start(Runnable onEnd) {
        lastTick = loop.time();
        PeriodicCallback ticker = new PeriodicCallback(loop, this::tick, Duration.ofSeconds(1), 0);
        ticker.start();
        loop.callLater(options.warmup(), () -> {
            measuring = true;
            since = loop.time();
            lastTick = since;
            operations = 0;
            lastOperations = 0;
            errors = 0;
            latency.reset();
            if (live != null) {
                live.println("measuring");
            }
        });
        loop.callLater(options.warmup().plus(options.duration()), () -> {
            ticker.stop();
            onEnd.run();
        });
    }

    /** An operation completed after {@code nanos}. */
    void completed(long nanos) {
        operations++;
        if (measuring) {
            latency.recordValue(Math.min(nanos, latency.getHighestTrackableValue()));
        }
    }

    void failed() {
        errors++;
    }

    long operations() {
        return operations;
    }

    long errors() {
        return errors;
    }

    boolean measuring() {
        return measuring;
    }

    /** The measured time so far, in seconds (0 during the warm-up). */
    double seconds() {
        return measuring ? (loop.time() - since) / 1e9 : 0;
    }

    /** The 99th percentile so far, in microseconds (0 before the first). */
    double p99Micros() {
        return latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(99) / 1000.0;
    }

    private void tick() {
        long now = loop.time();
        double seconds = (now - lastTick) / 1e9;
        double perSecond = seconds > 0 ? (operations - lastOperations) / seconds : 0;
        lastTick = now;
        lastOperations = operations;
        if (live != null) {
            live.println((measuring ? "measure " : "warm-up ") + line.apply(perSecond, this));
        }
    }
}
