package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.PeriodicCallback;
import io.eddy.iostream.IOStream;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * {@code eddy bench}'s echo load: {@code connections} connections, each keeping {@code depth} messages of
 * {@code size} bytes in flight (a new one goes out as each echo comes back), every echoed byte checked
 * against what was sent. Latency is from a message's write to the last byte of its echo. Runs its own
 * loop on the calling thread.
 */
final class EchoLoad {

    private final LoadOptions options;
    private final PrintStream live;
    private final MessagePattern pattern;
    private final Histogram latency = new Histogram(TimeUnit.MINUTES.toNanos(1), 3);
    private final List<Connection> connections = new ArrayList<>();
    private final CompletableFuture<LoadReport> done = new CompletableFuture<>();
    private boolean measuring;
    private boolean stopping;
    private long measuredSince;
    private long messages;
    private long lastMessages;
    private long lastTick;

    EchoLoad(LoadOptions options, PrintStream live) {
        this.options = options;
        this.live = live;
        this.pattern = new MessagePattern(options.size());
    }

    /** Connects, runs the warm-up and the measured time, closes; returns the report. */
    LoadReport run() throws Exception {
        return LoadLoop.run(options,
                loop -> Connections.open(options, options.connections()).thenCompose(streams -> start(loop, streams)),
                () -> connections.forEach(c -> c.stream.close()));
    }

    private CompletableFuture<LoadReport> start(IOLoop loop, List<IOStream> streams) {
        for (int i = 0; i < streams.size(); i++) {
            connections.add(new Connection(i, streams.get(i)));
        }
        lastTick = loop.time();
        PeriodicCallback ticker = new PeriodicCallback(loop, () -> tick(loop), Duration.ofSeconds(1), 0);
        ticker.start();
        loop.callLater(options.warmup(), () -> {
            measuring = true;
            lastTick = loop.time();
            if (live != null) {
                live.println("measuring"); // a runner samples the server's CPU time from here
            }
            measuredSince = loop.time();
            messages = 0;
            lastMessages = 0;
            latency.reset();
        });
        loop.callLater(options.warmup().plus(options.duration()), () -> {
            ticker.stop();
            finish(loop.time());
        });
        connections.forEach(Connection::start);
        return done;
    }

    private void tick(IOLoop loop) {
        long now = loop.time();
        double seconds = (now - lastTick) / 1e9;
        long count = messages - lastMessages;
        lastTick = now;
        lastMessages = messages;
        if (live == null) {
            return;
        }
        double perSecond = seconds > 0 ? count / seconds : 0;
        live.printf(Locale.ROOT, "%s %,10.0f msg/s %8.2f MB/s   p99 %8.1f us%n",
                measuring ? "measure" : "warm-up", perSecond, perSecond * options.size() / 1e6,
                latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(99) / 1000.0);
    }

    private void finish(long now) {
        stopping = true;
        double seconds = measuring ? (now - measuredSince) / 1e9 : 0;
        done.complete(new LoadReport("echo", options.target(), options.connections(), options.size(),
                options.depth(), seconds, messages, messages * options.size(), 0, latency, 0));
    }

    private void fail(Throwable error) {
        stopping = true;
        done.completeExceptionally(error);
    }

    /** One connection's messages in flight. Loop thread. */
    private final class Connection {
        final int id;
        final IOStream stream;
        final ByteBuffer out = pattern.view();
        final byte[] in = new byte[options.size()];
        final ByteBuffer inBuffer = ByteBuffer.wrap(in);
        /** Send times of the messages in flight, by sequence number modulo depth. */
        final long[] sentAt = new long[options.depth()];
        long sent;
        long received;

        final BiConsumer<Integer, Throwable> onEcho = this::echoed;

        Connection(int id, IOStream stream) {
            this.id = id;
            this.stream = stream;
        }

        void start() {
            for (int i = 0; i < options.depth(); i++) {
                send();
            }
            read();
        }

        void send() {
            sentAt[(int) (sent % sentAt.length)] = System.nanoTime();
            stream.write(pattern.message(out, id, sent));
            sent++;
        }

        void read() {
            stream.readInto(inBuffer.clear(), false).whenComplete(onEcho);
        }

        void echoed(Integer n, Throwable error) {
            if (stopping) {
                return;
            }
            if (error != null) {
                fail(new IOException("connection " + id + " failed after " + received + " echoes: " + error, error));
                return;
            }
            int bad = pattern.mismatch(in, id, received);
            if (bad >= 0) {
                fail(new IOException("connection " + id + ": the echo of message " + received
                        + " differs from what was sent at byte " + bad));
                return;
            }
            long took = System.nanoTime() - sentAt[(int) (received % sentAt.length)];
            received++;
            messages++;
            if (measuring) {
                latency.recordValue(Math.min(took, latency.getHighestTrackableValue()));
            }
            send();
            read();
        }
    }
}
