package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link IOStream#write} from four threads while the loop thread closes the stream: every future
 * completes or fails with {@link StreamClosedException}, none stays pending, and each thread's writes
 * succeed up to some point and fail after it (the close cuts every writer's sequence once).
 */
class IOStreamRaceTest {

    private static final int ROUNDS = 300;
    private static final int WRITERS = 4;
    private static final int WRITES = 100;
    private static final byte[] DATA = new byte[1024];

    private final ExecutorService writers = Executors.newFixedThreadPool(WRITERS);
    private final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
    private final IOLoop loop = IOLoop.builder().exceptionHandler(uncaught::add).build();
    private final Thread loopThread = loop.startInNewThread("stream-race-loop");

    @AfterEach
    void cleanUp() throws InterruptedException {
        writers.shutdownNow();
        loop.shutdown().join();
        loopThread.join(30_000);
        assertFalse(loopThread.isAlive(), "the loop thread did not end");
    }

    @Test
    void writesFromFourThreadsWhileTheLoopClosesTheStreamAllCompleteOrFail() throws Exception {
        long completed = 0;
        long failed = 0;
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            for (int round = 0; round < ROUNDS; round++) {
                try (SocketChannel client = SocketChannel.open(listener.getLocalAddress());
                     SocketChannel peer = listener.accept()) { // never reads: late writes queue up
                    IOStream stream = loop.submit(() -> new IOStream(client, loop, StreamOptions.defaults()))
                            .get(30, TimeUnit.SECONDS);
                    CountDownLatch go = new CountDownLatch(1);
                    List<CompletableFuture<List<CompletableFuture<Void>>>> issued = new ArrayList<>();
                    for (int w = 0; w < WRITERS; w++) {
                        issued.add(CompletableFuture.supplyAsync(() -> {
                            await(go);
                            List<CompletableFuture<Void>> futures = new ArrayList<>(WRITES);
                            for (int i = 0; i < WRITES; i++) {
                                futures.add(stream.write(DATA));
                            }
                            return futures;
                        }, writers));
                    }
                    go.countDown();
                    // Close from the loop thread at a moment that varies from round to round.
                    for (int spin = (round % 30) * 200; spin > 0; spin--) {
                        Thread.onSpinWait();
                    }
                    loop.addCallback(stream::close);

                    for (var writer : issued) {
                        boolean closedSeen = false;
                        for (CompletableFuture<Void> f : writer.get(30, TimeUnit.SECONDS)) {
                            try {
                                f.get(30, TimeUnit.SECONDS);
                                if (closedSeen) {
                                    fail("round " + round + ": a write succeeded after an earlier one of the same thread failed");
                                }
                                completed++;
                            } catch (ExecutionException e) {
                                assertInstanceOf(StreamClosedException.class, e.getCause(), "round " + round);
                                closedSeen = true;
                                failed++;
                            } // a TimeoutException (a future left pending) fails the test
                        }
                    }
                    // Queued after the close (FIFO from this thread), so it sees the stream closed.
                    assertTrue(loop.submit(stream::closed).get(30, TimeUnit.SECONDS), "round " + round);
                }
            }
        }
        assertTrue(uncaught.isEmpty(), "exceptions reached the loop's handler: " + uncaught);
        System.out.printf("IOStreamRaceTest: %d rounds x %d writes from %d threads: %d completed, %d failed with StreamClosedException%n",
                ROUNDS, WRITES, WRITERS, completed, failed);
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(30, TimeUnit.SECONDS)) {
                throw new AssertionError("never released");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
