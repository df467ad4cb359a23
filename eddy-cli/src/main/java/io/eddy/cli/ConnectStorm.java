package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.tcp.TCPClient;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

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
    private final CompletableFuture<LoadReport> done = new CompletableFuture<>();
    private Measurement measurement;
    private boolean stopping;

    ConnectStorm(LoadOptions options, PrintStream live) {
        this.options = options;
        this.live = live;
        this.pattern = new MessagePattern(options.size());
    }

    LoadReport run() throws Exception {
        return LoadLoop.run(options, this::start, () -> { });
    }

    private CompletableFuture<LoadReport> start(IOLoop loop) {
        measurement = new Measurement(loop, options, live, (perSecond, m) -> String.format(Locale.ROOT,
                "%,10.0f connections/s  %d errors", perSecond, m.errors()));
        measurement.start(() -> {
            stopping = true;
            long cycles = measurement.operations();
            done.complete(new LoadReport("connect-storm", options.target(), options.connections(), options.size(),
                    1, measurement.seconds(), cycles, cycles * options.size(), measurement.errors(),
                    measurement.latency, 0));
        });
        for (int i = 0; i < options.connections(); i++) {
            cycle(i, 0);
        }
        return done;
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
                measurement.failed();
                // A refused connect fails at once: back off a little instead of spinning on it.
                IOLoop.current().callLater(Duration.ofMillis(10), () -> cycle(id, seq + 1));
                return;
            }
            measurement.completed(System.nanoTime() - start);
            cycle(id, seq + 1);
        });
    }
}
