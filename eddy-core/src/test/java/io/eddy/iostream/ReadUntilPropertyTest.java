package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A property test of {@link IOStream#readUntil(byte[], int)}, as a seeded-random JUnit loop: random
 * bytes, sent in random pieces through a real socket to a stream with a random read chunk size, read
 * back with a series of {@code readUntil(delimiter, maxBytes)} with random delimiters and limits. Every
 * result is what a reference computes from the whole input:
 * <ul>
 * <li>the next delimiter ends within {@code maxBytes}: the bytes up to and including it;</li>
 * <li>it ends past {@code maxBytes}, or there is none and at least {@code maxBytes} bytes are left:
 *     {@link StreamClosedException} caused by {@link UnsatisfiableReadException};</li>
 * <li>there is none and fewer bytes are left: the peer's close fails the read with
 *     {@link StreamClosedException} and no cause.</li>
 * </ul>
 * Every future completes within a timeout (no hang) and the loop runs a callback after each try.
 *
 * <p>Not jqwik: its 1.10 engine prints to stdout that AI agents must not use it and that its results
 * are to be ignored, and this project's sessions are AI agents that read the build output.
 *
 * <p>The seed is fixed; {@code -Deddy.readUntil.seed=N} runs another series. A failure names the
 * try's own seed and its case.
 */
class ReadUntilPropertyTest {

    private static final long SEED = Long.getLong("eddy.readUntil.seed", 0x5EED_0F_EDD1L);
    private static final int TRIES = 200;
    /** readUntil calls per try at most; what is left then is read with readUntilClose. */
    private static final int READS = 20;
    private static final long TIMEOUT_SECONDS = 5;

    private IOLoop loop;
    private Thread loopThread;
    private ServerSocketChannel listener;
    private final List<Throwable> reported = Collections.synchronizedList(new ArrayList<>());
    private final Logger streamLog = Logger.getLogger("io.eddy.iostream");
    private Level streamLogLevel;

    @BeforeEach
    void open() throws IOException {
        // Each unsatisfiable read logs one INFO line by design; 200 tries of them would bury the build output.
        streamLogLevel = streamLog.getLevel();
        streamLog.setLevel(Level.WARNING);
        loop = IOLoop.builder().exceptionHandler(reported::add).build();
        loopThread = loop.startInNewThread("read-until-property");
        listener = ServerSocketChannel.open();
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @AfterEach
    void close() throws Exception {
        listener.close();
        loop.shutdown().join();
        loopThread.join(10_000);
        streamLog.setLevel(streamLogLevel);
    }

    // ------------------------------------------------------------------ the cases

    enum Outcome { FOUND, UNSATISFIABLE, CLOSED }

    /** One readUntil and what the reference says it gives. */
    record Read(int maxBytes, Outcome outcome, byte[] bytes) {
        @Override
        public String toString() {
            return "readUntil(max " + maxBytes + ") -> " + outcome + (bytes == null ? "" : " " + bytes.length + " bytes");
        }
    }

    /**
     * A try: the data, how it is written (piece sizes, and whether the writer waits for a loop
     * iteration after each piece), the stream's read chunk size, the reads and, if they all find their
     * delimiter, the rest (for readUntilClose).
     */
    record Case(long seed, byte[] data, byte[] delimiter, int readChunkSize, int[] pieces, boolean pause,
                List<Read> reads, byte[] rest) {

        static Case generate(long seed) {
            Random r = new Random(seed);
            // A small alphabet, so that delimiters occur, overlap and repeat.
            byte[] alphabet = new byte[1 + r.nextInt(4)];
            for (int i = 0; i < alphabet.length; i++) {
                alphabet[i] = (byte) switch (r.nextInt(4)) {
                    case 0 -> 0;
                    case 1 -> 0xff;
                    default -> r.nextInt(256);
                };
            }
            int length = switch (r.nextInt(20)) {
                case 0 -> 0;
                case 1, 2, 3, 4, 5, 6, 7, 8 -> 1 + r.nextInt(16);
                case 9, 10, 11, 12, 13, 14, 15, 16 -> 17 + r.nextInt(300);
                default -> 317 + r.nextInt(5000);
            };
            byte[] data = new byte[length];
            for (int i = 0; i < length; i++) {
                data[i] = alphabet[r.nextInt(alphabet.length)];
            }
            byte[] delimiter = new byte[r.nextInt(5) == 0 ? 5 + r.nextInt(4) : 1 + r.nextInt(4)];
            if (length >= delimiter.length && r.nextInt(3) == 0) {
                int from = r.nextInt(length - delimiter.length + 1); // one that occurs
                System.arraycopy(data, from, delimiter, 0, delimiter.length);
            } else {
                for (int i = 0; i < delimiter.length; i++) {
                    // now and then a byte that is not in the data at all
                    delimiter[i] = r.nextInt(10) == 0 ? (byte) r.nextInt(256) : alphabet[r.nextInt(alphabet.length)];
                }
            }
            int readChunkSize = r.nextInt(4) == 0 ? 64 * 1024 : 1 + r.nextInt(r.nextBoolean() ? 8 : 64);

            List<Integer> pieces = new ArrayList<>();
            for (int left = length; left > 0; ) {
                int piece = Math.min(left, 1 + r.nextInt(r.nextBoolean() ? 8 : Math.max(1, length / 3)));
                pieces.add(piece);
                left -= piece;
            }

            // The reads, as the reference gives them.
            List<Read> reads = new ArrayList<>();
            int at = 0;
            byte[] rest = null;
            while (true) {
                if (reads.size() == READS) {
                    rest = Arrays.copyOfRange(data, at, length);
                    break;
                }
                int next = indexOf(data, delimiter, at);
                int need = next < 0 ? -1 : next + delimiter.length - at; // maxBytes that just suffices
                int maxBytes = need > 0 && r.nextInt(3) == 0
                        ? Math.max(1, need + r.nextInt(3) - 1)       // around the boundary
                        : 1 + r.nextInt(length - at + delimiter.length + 8);
                if (need > 0 && need <= maxBytes) {
                    reads.add(new Read(maxBytes, Outcome.FOUND, Arrays.copyOfRange(data, at, at + need)));
                    at += need;
                } else if (need > 0 || length - at >= maxBytes) {
                    reads.add(new Read(maxBytes, Outcome.UNSATISFIABLE, null));
                    break;
                } else {
                    reads.add(new Read(maxBytes, Outcome.CLOSED, null));
                    break;
                }
            }
            return new Case(seed, data, delimiter, readChunkSize, pieces.stream().mapToInt(Integer::intValue).toArray(),
                    r.nextBoolean(), reads, rest);
        }

        /** The first occurrence of {@code needle} in {@code hay} at or after {@code from}, or -1 (naively). */
        static int indexOf(byte[] hay, byte[] needle, int from) {
            for (int i = from; i + needle.length <= hay.length; i++) {
                if (Arrays.equals(hay, i, i + needle.length, needle, 0, needle.length)) {
                    return i;
                }
            }
            return -1;
        }

        @Override
        public String toString() {
            HexFormat hex = HexFormat.of();
            return "Case[seed " + seed + ", " + data.length + " bytes"
                    + (data.length <= 256 ? " " + hex.formatHex(data) : "")
                    + ", delimiter " + hex.formatHex(delimiter) + ", readChunkSize " + readChunkSize
                    + ", " + pieces.length + " pieces" + (pause ? " with a loop iteration between" : "")
                    + ", reads " + reads + (rest == null ? "" : ", then readUntilClose -> " + rest.length + " bytes") + "]";
        }
    }

    // ------------------------------------------------------------------ the property

    @Test
    void readUntilGivesWhatTheReferenceGivesForRandomDataPiecesDelimitersAndLimits() throws Exception {
        Random seeds = new Random(SEED);
        int[] outcomes = new int[Outcome.values().length];
        for (int t = 0; t < TRIES; t++) {
            Case c = Case.generate(seeds.nextLong());
            try {
                check(c);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("try " + t + " of series " + SEED + " failed: " + c + ": " + e, e);
            }
            c.reads().forEach(read -> outcomes[read.outcome().ordinal()]++);
            int tryNumber = t;
            assertEquals(tryNumber, loop.submit(() -> tryNumber).get(TIMEOUT_SECONDS, TimeUnit.SECONDS),
                    "the loop runs a callback after try " + t);
        }
        assertEquals(List.of(), reported, "nothing reported to the loop's exception handler");
        // The series covers every outcome (a property that never fails a read would prove little).
        for (Outcome o : Outcome.values()) {
            assertTrue(outcomes[o.ordinal()] >= 10, "reads with outcome " + o + ": " + outcomes[o.ordinal()]);
        }
    }

    private void check(Case c) throws Exception {
        SocketChannel peer = SocketChannel.open(listener.getLocalAddress());
        SocketChannel accepted = listener.accept();
        try {
            peer.setOption(StandardSocketOptions.TCP_NODELAY, true);
            IOStream stream = new IOStream(accepted, loop, StreamOptions.defaults().withReadChunkSize(c.readChunkSize()));
            CompletableFuture<Void> written = writeInPieces(c, peer);

            for (Read read : c.reads()) {
                CompletableFuture<byte[]> f = stream.readUntil(c.delimiter(), read.maxBytes());
                switch (read.outcome()) {
                    case FOUND -> assertArrayEquals(read.bytes(), get(f, read), read.toString());
                    case UNSATISFIABLE -> {
                        Throwable e = failure(f, read);
                        assertInstanceOf(UnsatisfiableReadException.class, e.getCause(), read + ": " + e);
                        assertTrue(stream.closed(), "an unsatisfiable read closes the stream");
                    }
                    case CLOSED -> {
                        Throwable e = failure(f, read);
                        assertNull(e.getCause(), read + ": the peer closed cleanly: " + e);
                        assertTrue(stream.closed());
                    }
                }
            }
            if (c.rest() != null) {
                assertArrayEquals(c.rest(), get(stream.readUntilClose(), "readUntilClose"), "readUntilClose");
            }
            assertTrue(stream.closed(), "every try ends with the stream closed");
            written.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } finally {
            peer.close();
            accepted.close();
        }
    }

    /**
     * Writes the data in its pieces on another thread, then shuts the output down. A write the stream
     * no longer wants (it closed after an unsatisfiable read) may fail: that is not an error here.
     */
    private CompletableFuture<Void> writeInPieces(Case c, SocketChannel peer) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread.ofPlatform().name("read-until-writer").daemon().start(() -> {
            try {
                int at = 0;
                for (int piece : c.pieces()) {
                    ByteBuffer b = ByteBuffer.wrap(c.data(), at, piece);
                    while (b.hasRemaining()) {
                        peer.write(b);
                    }
                    at += piece;
                    if (c.pause()) {
                        loop.submit(() -> null).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                    }
                }
                peer.shutdownOutput();
                done.complete(null);
            } catch (IOException unwanted) {
                done.complete(null);
            } catch (Exception | Error e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }

    private static byte[] get(CompletableFuture<byte[]> f, Object what) throws Exception {
        try {
            return f.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError(what + " hung: not complete after " + TIMEOUT_SECONDS + " s", e);
        }
    }

    /** The StreamClosedException {@code f} fails with. */
    private static Throwable failure(CompletableFuture<byte[]> f, Read read) throws Exception {
        try {
            byte[] got = get(f, read);
            throw new AssertionError(read + " gave " + got.length + " bytes: " + HexFormat.of().formatHex(got));
        } catch (ExecutionException e) {
            return assertInstanceOf(StreamClosedException.class, e.getCause(), read.toString());
        }
    }
}
