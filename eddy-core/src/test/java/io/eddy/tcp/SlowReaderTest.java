package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.StreamOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A server streams 200 MiB to a client that reads in small pieces through a small receive buffer. The
 * server writes the next 1 MiB chunk only once the previous write's future completed (flow control by
 * write futures), so the stream never holds more than one chunk and the bytes in flight stay bounded
 * by one chunk plus the kernel's buffers.
 */
class SlowReaderTest {

    private static final int CHUNK = 1 << 20;
    private static final int CHUNKS = 200;
    private static final long TOTAL = (long) CHUNK * CHUNKS;
    /** The pattern repeats every 251 bytes (a prime: a chunk lost, repeated or reordered shows). */
    private static final int PERIOD = 251;
    private static final int CLIENT_RECEIVE_BUFFER = 32 * 1024;
    private static final int CLIENT_READ = 64 * 1024;

    private ServingLoop serving;

    @AfterEach
    void cleanUp() throws InterruptedException {
        if (serving != null) {
            serving.close();
        }
    }

    private static byte expected(long offset) {
        return (byte) (offset % PERIOD * 97 + 13);
    }

    @Test
    void aSlowReaderGets200MiBByteExactWhileTheServerQueuesAtMostOneChunk() throws Exception {
        // One chunk plus a period: chunk k starts at offset (k * CHUNK) % PERIOD of it.
        byte[] pattern = new byte[CHUNK + PERIOD];
        for (int i = 0; i < pattern.length; i++) {
            pattern[i] = expected(i);
        }
        AtomicLong written = new AtomicLong();     // handed to stream.write by the server
        AtomicLong received = new AtomicLong();    // read by the client
        AtomicLong mostInFlight = new AtomicLong();
        AtomicInteger writesThatWaited = new AtomicInteger();
        CompletableFuture<Void> serverDone = new CompletableFuture<>();

        // Eddy's own accounting: a write that would make more than one chunk wait in the stream fails
        // with StreamBufferFullException (and so fails serverDone).
        StreamOptions oneChunk = StreamOptions.defaults().withMaxWriteBufferSize(CHUNK);
        TCPServer server = new TCPServer((stream, address) -> {
            new Object() {
                void writeChunk(int k) {
                    if (k == CHUNKS) {
                        stream.close();
                        serverDone.complete(null);
                        return;
                    }
                    ByteBuffer chunk = ByteBuffer.wrap(pattern, (int) ((long) k * CHUNK % PERIOD), CHUNK);
                    written.addAndGet(CHUNK);
                    CompletableFuture<Void> done = stream.write(chunk);
                    mostInFlight.accumulateAndGet(written.get() - received.get(), Math::max);
                    if (!done.isDone()) {
                        writesThatWaited.incrementAndGet();
                    }
                    done.whenComplete((v, error) -> {
                        if (error != null) {
                            serverDone.completeExceptionally(error);
                            stream.close();
                        } else if (stream.writing()) {
                            serverDone.completeExceptionally(new AssertionError(
                                    "chunk " + k + "'s future completed while the stream still had data queued"));
                            stream.close();
                        } else {
                            writeChunk(k + 1);
                        }
                    });
                }
            }.writeChunk(0);
            return serverDone;
        }, ServerOptions.defaults().withStreamOptions(oneChunk));
        serving = new ServingLoop(IOLoop.create(), server, "slow-reader-server");
        InetSocketAddress address = serving.address();

        int receiveBuffer;
        try (Socket socket = new Socket()) {
            socket.setReceiveBufferSize(CLIENT_RECEIVE_BUFFER);
            socket.connect(address, 10_000);
            socket.setSoTimeout(10_000);
            receiveBuffer = socket.getReceiveBufferSize();
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[CLIENT_READ];
            long offset = 0;
            int phase = 0; // offset % PERIOD
            for (int n; (n = in.read(buf)) >= 0; ) {
                for (int i = 0; i < n; i++) {
                    if (buf[i] != pattern[phase]) {
                        fail("byte " + (offset + i) + " is " + buf[i] + ", expected " + pattern[phase]);
                    }
                    if (++phase == PERIOD) {
                        phase = 0;
                    }
                }
                offset += n;
                received.set(offset);
            }
            assertEquals(TOTAL, offset, "bytes received before the server closed");
        }
        serverDone.get(10, TimeUnit.SECONDS);

        // In flight = written by the server - counted by the client: at most the one chunk in the stream,
        // the server's send buffer (autotuned up to tcp_wmem's maximum), the client's receive buffer
        // (the kernel may use twice what SO_RCVBUF says), the client's read buffer, and slack for the
        // kernel's overshoot of the send buffer by a segment or so. Nowhere near the 200 MiB written.
        long bound = CHUNK + maxSendBuffer() + 2L * receiveBuffer + CLIENT_READ + 512 * 1024;
        assertTrue(mostInFlight.get() <= bound,
                "at most " + bound + " bytes in flight, but there were " + mostInFlight.get());
        assertTrue(writesThatWaited.get() > 0, "the reader was slower than the writer: some writes waited for it");
    }

    /** The most a TCP send buffer grows to here: tcp_wmem's maximum on Linux, else 4 MiB. */
    private static long maxSendBuffer() throws IOException {
        Path wmem = Path.of("/proc/sys/net/ipv4/tcp_wmem");
        if (Files.isReadable(wmem)) {
            // readAllLines: Files.readString gave only the first byte of this procfs file (JDK 25)
            String[] f = Files.readAllLines(wmem).get(0).trim().split("\\s+");
            return Long.parseLong(f[2]);
        }
        return 4L << 20;
    }
}
