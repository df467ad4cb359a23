package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
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
    private final List<Connection> connections = new ArrayList<>();
    private final CompletableFuture<LoadReport> done = new CompletableFuture<>();
    private Measurement measurement;
    private boolean stopping;

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
        measurement = new Measurement(loop, options, live, (perSecond, m) -> String.format(Locale.ROOT,
                "%,10.0f msg/s %8.2f MB/s   p99 %8.1f us", perSecond, perSecond * options.size() / 1e6, m.p99Micros()));
        measurement.start(this::finish);
        connections.forEach(Connection::start);
        return done;
    }

    private void finish() {
        stopping = true;
        long messages = measurement.operations();
        done.complete(new LoadReport("echo", options.target(), options.connections(), options.size(),
                options.depth(), measurement.seconds(), messages, messages * options.size(), 0, measurement.latency, 0));
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
            measurement.completed(System.nanoTime() - sentAt[(int) (received % sentAt.length)]);
            received++;
            send();
            read();
        }
    }
}
