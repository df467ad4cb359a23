package io.eddy.bench;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import io.eddy.tcp.TCPClient;
import io.eddy.tcp.TCPServer;
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
import org.openjdk.jmh.annotations.Warmup;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * The IOStream echo path per message, both ends on one loop over loopback: a client stream writes a
 * 64-byte message, the server stream reads it and writes it back, the client reads the echo, then the
 * next message. Run with {@code -prof gc}: {@code gc.alloc.rate.norm} is what one message round trip
 * (two reads, two writes) allocates, all threads included.
 *
 * <ul>
 *   <li>{@code readInto}: the server reads with {@code readInto} into one reused buffer and writes that
 *       buffer back; the client writes one reused array and reads with {@code readInto}. The API's own cost:
 *       the four futures and their dependents.</li>
 *   <li>{@code readBytes}: the server uses {@code readBytes(64, partial)}, which returns a new array per
 *       read, and writes it back.</li>
 * </ul>
 *
 * <p>The two streams are a {@link TCPServer}'s and a {@link TCPClient}'s, on the loop's backend ({@code backend}
 * parameter): on {@code nio} they read and write JDK {@code SocketChannel}s, on {@code epoll} they own native
 * sockets.
 *
 * <pre>{@code
 * java -jar eddy-bench/target/benchmarks.jar StreamEchoBenchmark -prof gc
 * }</pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "--enable-native-access=ALL-UNNAMED",
        "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class StreamEchoBenchmark {

    /** Messages per invocation. */
    public static final int BATCH = 10_000;
    static final int SIZE = 64;

    @State(Scope.Benchmark)
    public static class Pair {
        @Param({"nio", "epoll"})
        public String backend;
        IOLoop loop;
        Thread thread;
        TCPServer tcpServer;
        IOStream client;
        IOStream server;
        final byte[] message = new byte[SIZE];
        final ByteBuffer clientIn = ByteBuffer.allocate(SIZE);
        final ByteBuffer serverIn = ByteBuffer.allocate(SIZE);
        final Completion done = new Completion();
        /** Messages still to echo in this batch; loop thread after the hand-off. */
        int remaining;

        // The chain's steps, allocated once: the only allocation per message left is the API's own.
        final BiConsumer<Integer, Throwable> serverReadInto = (n, e) -> {
            if (e != null) {
                done.fail(e);
                return;
            }
            server.write(serverIn.flip()); // copied or sent before write returns: serverIn is free again
            serverIn.clear();
            startServerReadInto();
        };
        final BiConsumer<byte[], Throwable> serverReadBytes = (data, e) -> {
            if (e != null) {
                done.fail(e);
                return;
            }
            server.write(data);
            startServerReadBytes();
        };
        final BiConsumer<Integer, Throwable> clientRead = (n, e) -> {
            if (e != null) {
                done.fail(e);
                return;
            }
            if (--remaining == 0) {
                done.signal();
            } else {
                sendOne();
            }
        };
        final Runnable kick = this::sendOne;
        final Runnable startReadInto = this::startServerReadInto;
        final Runnable startReadBytes = this::startServerReadBytes;

        void startServerReadInto() {
            server.readInto(serverIn, true).whenComplete(serverReadInto);
        }

        void startServerReadBytes() {
            server.readBytes(SIZE, true).whenComplete(serverReadBytes);
        }

        void sendOne() {
            client.write(message);
            client.readInto(clientIn.clear(), false).whenComplete(clientRead);
        }

        void open() throws Exception {
            loop = IOLoop.builder().backend(backend).build();
            thread = loop.startInNewThread("eddy-stream-bench");
            CompletableFuture<IOStream> accepted = new CompletableFuture<>();
            tcpServer = new TCPServer((stream, address) -> {
                accepted.complete(stream);
                return null;
            });
            loop.submit(() -> {
                tcpServer.listen(0, "127.0.0.1");
                return null;
            }).get(10, TimeUnit.SECONDS);
            int port = tcpServer.addresses().get(0).getPort();
            client = loop.submit(() -> new TCPClient().connect("127.0.0.1", port)).get(10, TimeUnit.SECONDS)
                    .get(10, TimeUnit.SECONDS);
            server = accepted.get(10, TimeUnit.SECONDS);
            client.setNoDelay(true);
            server.setNoDelay(true);
        }

        @TearDown(Level.Trial)
        public void stop() throws Exception {
            loop.submit(() -> {
                tcpServer.stop();
                return null;
            }).get(10, TimeUnit.SECONDS);
            loop.shutdown().get(10, TimeUnit.SECONDS); // closes both streams' sockets
            thread.join();
        }
    }

    @State(Scope.Benchmark)
    public static class ReadIntoPair extends Pair {
        @Setup(Level.Trial)
        public void start() throws Exception {
            open();
            loop.addCallback(startReadInto);
        }
    }

    @State(Scope.Benchmark)
    public static class ReadBytesPair extends Pair {
        @Setup(Level.Trial)
        public void start() throws Exception {
            open();
            loop.addCallback(startReadBytes);
        }
    }

    private static void batch(Pair s) {
        s.done.reset();
        s.remaining = BATCH;
        s.loop.addCallback(s.kick);
        s.done.await();
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void readInto(ReadIntoPair s) {
        batch(s);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void readBytes(ReadBytesPair s) {
        batch(s);
    }
}
