package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.StreamClosedException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The peer resets the connection (SO_LINGER 0, then close) while the server has writes queued. */
class PeerResetTest {

    private static final int CHUNK = 1 << 20;
    /** Far more than the kernel buffers of a client that does not read take: most stay queued. */
    private static final int CHUNKS = 16;

    private ServingLoop serving;
    private final LogCapture log = new LogCapture("io.eddy.iostream", "io.eddy.tcp");

    @AfterEach
    void cleanUp() throws InterruptedException {
        log.close();
        if (serving != null) {
            serving.close();
        }
    }

    /** The first connection's stream and the futures of its writes that were still pending. */
    private record Queued(IOStream stream, List<CompletableFuture<Void>> all, List<CompletableFuture<Void>> pending) {
    }

    @Test
    void aResetFailsTheQueuedWritesClosesTheStreamAndTheLoopServesTheNextConnection() throws Exception {
        List<Throwable> reported = Collections.synchronizedList(new ArrayList<>());
        CompletableFuture<Queued> queued = new CompletableFuture<>();
        int[] connections = {0};
        TCPServer server = new TCPServer((stream, address) -> {
            if (connections[0]++ > 0) {
                TCPServerTest.echo(stream);
                return null;
            }
            List<CompletableFuture<Void>> all = new ArrayList<>();
            byte[] chunk = new byte[CHUNK];
            for (int i = 0; i < CHUNKS; i++) {
                all.add(stream.write(chunk));
            }
            List<CompletableFuture<Void>> pending = all.stream().filter(f -> !f.isDone()).toList();
            if (!stream.writing() || pending.isEmpty()) {
                queued.completeExceptionally(new AssertionError("the kernel took all " + CHUNKS + " MiB: nothing queued"));
            } else {
                queued.complete(new Queued(stream, all, pending));
            }
            return null;
        });
        serving = new ServingLoop(IOLoop.builder().exceptionHandler(reported::add).build(), server, "peer-reset-server");
        IOLoop loop = serving.loop;
        InetSocketAddress address = serving.address();

        Queued q;
        try (Socket resetting = new Socket()) {
            resetting.setReceiveBufferSize(16 * 1024);
            resetting.connect(address, 10_000);
            q = queued.get(10, TimeUnit.SECONDS);
            assertFalse(q.stream().closed());
            resetting.setSoLinger(true, 0);
        } // close with SO_LINGER 0: the kernel sends RST

        for (CompletableFuture<Void> f : q.pending()) {
            ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
            assertInstanceOf(StreamClosedException.class, e.getCause());
            assertSame(q.stream().error(), e.getCause().getCause(), "the StreamClosedException's cause is error()");
        }
        for (CompletableFuture<Void> f : q.all()) {
            assertTrue(f.isDone(), "every write future completed");
        }
        assertTrue(q.stream().closed());
        assertInstanceOf(IOException.class, q.stream().error(), "the reset is the stream's error");
        assertTrue(loop.submit(() -> q.stream().closed()).get(10, TimeUnit.SECONDS));

        try (Socket next = new Socket()) {
            next.connect(address, 10_000);
            next.setSoTimeout(10_000);
            byte[] hello = "still serving".getBytes(StandardCharsets.US_ASCII);
            next.getOutputStream().write(hello);
            assertEquals("still serving", new String(next.getInputStream().readNBytes(hello.length), StandardCharsets.US_ASCII));
        }
        assertEquals(2, loop.submit(() -> connections[0]).get(10, TimeUnit.SECONDS));
        assertEquals(List.of(), reported, "nothing reported to the loop's exception handler");
        assertEquals(List.of(), log.atInfoOrAbove(), "a peer reset closes quietly (nothing logged above DEBUG)");
    }

    /** Records what the given loggers publish while open. */
    private static final class LogCapture extends Handler implements AutoCloseable {
        private final List<Logger> loggers = new ArrayList<>();
        private final List<LogRecord> records = new ArrayList<>();

        LogCapture(String... names) {
            for (String name : names) {
                Logger logger = Logger.getLogger(name);
                logger.addHandler(this);
                loggers.add(logger);
            }
        }

        @Override
        public synchronized void publish(LogRecord r) {
            records.add(r);
        }

        synchronized List<String> atInfoOrAbove() {
            return records.stream().filter(r -> r.getLevel().intValue() >= Level.INFO.intValue())
                    .map(r -> r.getLevel() + " " + r.getLoggerName() + ": " + r.getMessage()).toList();
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            loggers.forEach(l -> l.removeHandler(this));
        }
    }
}
