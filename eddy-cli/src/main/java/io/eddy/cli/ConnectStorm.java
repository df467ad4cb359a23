package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.PeriodicCallback;
import io.eddy.tcp.TCPClient;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code eddy bench --connect-storm}: {@code connections} workers, each in a loop: connect, send one
 * message, check its echo, close, again. Measures connections per second and the latency of the whole
 * cycle. A refused or reset connection is counted as an error and the worker goes on. Runs its own loop
 * on the calling thread.
 */
final class ConnectStorm {

    private final LoadOptions options;
    private final PrintStream live;
    private final MessagePattern pattern;
    private final TCPClient client = new TCPClient();
    private final Histogram latency = new Histogram(TimeUnit.MINUTES.toNanos(1), 3);
    private final CompletableFuture<LoadReport> done = new CompletableFuture<>();
    private boolean measuring;
    private boolean stopping;
    private long measuredSince;
    private long cycles;
    private long errors;
    private long lastCycles;

    ConnectStorm(LoadOptions options, PrintStream live) {
        this.options = options;
        this.live = live;
        this.pattern = new MessagePattern(options.size());
    }

    LoadReport run() throws Exception {
        return LoadLoop.run(options, this::start, () -> { });
    }

    private CompletableFuture<LoadReport> start(IOLoop loop) {
        PeriodicCallback ticker = new PeriodicCallback(loop, this::tick, Duration.ofSeconds(1), 0);
        ticker.start();
        loop.callLater(options.warmup(), () -> {
            measuring = true;
            if (live != null) {
                live.println("measuring"); // a runner samples the server's CPU time from here
            }
            measuredSince = loop.time();
            cycles = 0;
            errors = 0;
            lastCycles = 0;
            latency.reset();
        });
        loop.callLater(options.warmup().plus(options.duration()), () -> {
            ticker.stop();
            stopping = true;
            double seconds = measuring ? (loop.time() - measuredSince) / 1e9 : 0;
            done.complete(new LoadReport("connect-storm", options.target(), options.connections(), options.size(),
                    1, seconds, cycles, cycles * options.size(), errors, latency, 0));
        });
        for (int i = 0; i < options.connections(); i++) {
            cycle(i, 0);
        }
        return done;
    }

    private void tick() {
        long count = cycles - lastCycles;
        lastCycles = cycles;
        if (live != null) {
            live.printf(Locale.ROOT, "%s %,10d connections/s  %d errors%n", measuring ? "measure" : "warm-up", count, errors);
        }
    }

    /** One connect-echo-close cycle of worker {@code id}, then the next. */
    private void cycle(int id, long seq) {
        if (stopping) {
            return;
        }
        long start = System.nanoTime();
        byte[] in = new byte[options.size()];
        client.connect(options.host(), options.port()).thenCompose(stream -> {
            stream.write(pattern.message(pattern.view(), id, seq));
            return stream.readInto(ByteBuffer.wrap(in), false).whenComplete((n, e) -> stream.close())
                    .thenApply(n -> stream);
        }).whenComplete((stream, error) -> {
            if (stopping) {
                return;
            }
            int bad = error == null ? pattern.mismatch(in, id, seq) : -1;
            if (bad >= 0) {
                done.completeExceptionally(new IOException("connect storm worker " + id + ", connection " + seq
                        + ": the echo differs from what was sent at byte " + bad));
                stopping = true;
                return;
            }
            if (error != null) {
                errors++;
                // A refused connect fails at once: back off a little instead of spinning on it.
                IOLoop.current().callLater(Duration.ofMillis(10), () -> cycle(id, seq + 1));
                return;
            } else {
                cycles++;
                if (measuring) {
                    latency.recordValue(Math.min(System.nanoTime() - start, latency.getHighestTrackableValue()));
                }
            }
            cycle(id, seq + 1);
        });
    }
}
