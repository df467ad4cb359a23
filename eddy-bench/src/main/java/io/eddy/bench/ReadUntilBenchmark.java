package io.eddy.bench;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.StreamOptions;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A message of {@code size} bytes whose delimiter is its last two bytes, arriving 1 KiB at a time (the
 * stream's read chunk is set to 1 KiB, so each socket read adds at most 1 KiB and the search runs again):
 * the time per message must grow linearly with its size. A search that rescanned the buffer from the
 * start would be quadratic: 4 MiB would cost 16 times 1 MiB, not 4 times. A peer thread writes the
 * message; the loop runs on the benchmark thread ({@code runSync}).
 *
 * <pre>{@code
 * java -jar eddy-bench/target/benchmarks.jar ReadUntilBenchmark
 * }</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ReadUntilBenchmark {

    private static final byte[] DELIMITER = {'\r', '\n'};
    private static final Pattern REGEX = Pattern.compile("\r\n");

    @State(Scope.Benchmark)
    public static class Pair {
        @Param({"1048576", "4194304"})
        int size;

        IOLoop loop;
        SocketChannel peer;
        SocketChannel accepted;
        IOStream stream;
        ByteBuffer message;

        @Setup(Level.Trial)
        public void open() throws IOException {
            try (ServerSocketChannel listener = ServerSocketChannel.open()) {
                listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                peer = SocketChannel.open(listener.getLocalAddress());
                accepted = listener.accept();
            }
            loop = IOLoop.create();
            stream = new IOStream(accepted, loop, StreamOptions.defaults().withReadChunkSize(1024));
            byte[] bytes = new byte[size];
            Arrays.fill(bytes, (byte) 'x');
            bytes[size - 2] = '\r';
            bytes[size - 1] = '\n';
            message = ByteBuffer.wrap(bytes);
        }

        /** Sends one message from a peer thread (the kernel holds less than the message). */
        void send() {
            ByteBuffer m = message.duplicate();
            Thread.ofPlatform().start(() -> {
                try {
                    while (m.hasRemaining()) {
                        peer.write(m);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }

        @TearDown(Level.Trial)
        public void close() throws Exception {
            loop.close(true);
            peer.close();
        }
    }

    @Benchmark
    public int readUntil(Pair s) throws Exception {
        s.send();
        byte[] got = s.loop.runSync(() -> s.stream.readUntil(DELIMITER, Integer.MAX_VALUE), Duration.ofMinutes(1));
        return got.length;
    }

    @Benchmark
    public int readUntilRegex(Pair s) throws Exception {
        s.send();
        byte[] got = s.loop.runSync(() -> s.stream.readUntilRegex(REGEX, Integer.MAX_VALUE), Duration.ofMinutes(1));
        return got.length;
    }
}
