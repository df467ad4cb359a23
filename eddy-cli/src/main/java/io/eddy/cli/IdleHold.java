package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import org.HdrHistogram.Histogram;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code eddy bench --idle N}: opens N connections, checks one echo on each, holds them idle for the
 * duration, then checks one more echo on each and reports how many the server kept. Prints
 * {@code holding N idle connections} once all are open and checked (a runner measures the server's
 * memory then). Runs its own loop on the calling thread.
 */
final class IdleHold {

    private final LoadOptions options;
    private final PrintStream live;
    private final MessagePattern pattern;
    /** The connections, once open; loop thread, then the calling thread after the loop stopped. */
    private List<IOStream> held;

    IdleHold(LoadOptions options, PrintStream live) {
        this.options = options;
        this.live = live;
        this.pattern = new MessagePattern(options.size());
    }

    LoadReport run() throws Exception {
        return LoadLoop.run(options, this::hold, () -> {
            if (held != null) {
                held.forEach(IOStream::close);
            }
        });
    }

    private CompletableFuture<LoadReport> hold(IOLoop loop) {
        return Connections.open(options, options.connections()).thenCompose(streams -> {
            held = streams;
            return echoOnEach(streams, 0);
        }).thenCompose(firstRound -> {
            if (live != null) {
                live.println("holding " + firstRound + " idle connections");
            }
            CompletableFuture<Integer> kept = new CompletableFuture<>();
            loop.callLater(options.duration(), () -> echoOnEach(held, 1).whenComplete((n, e) -> {
                if (e != null) {
                    kept.completeExceptionally(e);
                } else {
                    kept.complete(n);
                }
            }));
            return kept;
        }).thenApply(kept -> new LoadReport("idle", options.target(), options.connections(), options.size(),
                1, options.duration().toNanos() / 1e9, 0, 0, options.connections() - kept,
                new Histogram(TimeUnit.SECONDS.toNanos(1), 1), kept));
    }

    /** Sends message {@code seq} on every stream; completes with how many echoed it back correctly. */
    private CompletableFuture<Integer> echoOnEach(List<IOStream> streams, long seq) {
        CompletableFuture<Integer> all = new CompletableFuture<>();
        int[] pending = {streams.size()};
        int[] good = {0};
        if (streams.isEmpty()) {
            all.complete(0);
        }
        for (int id = 0; id < streams.size(); id++) {
            IOStream stream = streams.get(id);
            byte[] in = new byte[options.size()];
            int connection = id;
            stream.write(pattern.message(pattern.view(), id, seq));
            stream.readInto(ByteBuffer.wrap(in), false).whenComplete((n, e) -> {
                if (e == null && pattern.mismatch(in, connection, seq) < 0) {
                    good[0]++;
                }
                if (--pending[0] == 0) {
                    all.complete(good[0]);
                }
            });
        }
        return all;
    }
}
