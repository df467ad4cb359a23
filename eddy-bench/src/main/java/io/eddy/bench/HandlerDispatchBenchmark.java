package io.eddy.bench;

import io.eddy.ioloop.IOLoop;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.concurrent.TimeUnit;

/**
 * The loop's own cost per I/O event: a handler on a pipe's read end reads the one byte waiting and
 * writes one byte back into the pipe, so every poll reports one READ event. Run with {@code -prof gc}
 * to see the bytes allocated per event (the JDK's read and write on direct buffers allocate nothing,
 * so what shows is Eddy's). There is no Netty row: Netty has no raw channel-handler API to compare;
 * the echo-server comparison covers that path.
 *
 * <pre>{@code
 * java -jar eddy-bench/target/benchmarks.jar HandlerDispatchBenchmark -prof gc
 * }</pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class HandlerDispatchBenchmark {

    /** Events per invocation. */
    public static final int BATCH = 10_000;

    @State(Scope.Benchmark)
    public static class PipeLoop {
        IOLoop loop;
        Thread thread;
        Pipe pipe;
        final ByteBuffer in = ByteBuffer.allocateDirect(64);
        final ByteBuffer out = ByteBuffer.allocateDirect(1);
        final Completion done = new Completion();
        /** Events still to handle in this batch; loop thread, after the hand-off. */
        int remaining;

        final Runnable kick = () -> writeOne();

        void writeOne() {
            out.clear();
            try {
                pipe.sink().write(out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void onReadable(Pipe.SourceChannel source, int events) throws IOException {
            in.clear();
            source.read(in);
            if (--remaining == 0) {
                done.signal();
            } else {
                writeOne();
            }
        }

        @Setup(Level.Trial)
        public void start() throws IOException {
            pipe = Pipe.open();
            pipe.sink().configureBlocking(false);
            loop = IOLoop.create();
            loop.addHandler(pipe.source(), this::onReadable, IOLoop.READ);
            thread = loop.startInNewThread("eddy-dispatch-bench");
        }

        @TearDown(Level.Trial)
        public void stop() throws Exception {
            loop.shutdown().get(10, TimeUnit.SECONDS);
            thread.join();
            pipe.sink().close();
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void readEvents_eddy(PipeLoop s) {
        s.done.reset();
        s.remaining = BATCH;
        s.loop.addCallback(s.kick);
        s.done.await();
    }
}
