package io.eddy.ioloop;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Volume and resource tests: nothing left behind, nothing lost, nothing leaked. */
class IOLoopLoadTest {

    @Test
    void aMillionTimeoutsAddedAndCancelledLeaveNothingBehind() throws Exception {
        try (IOLoop loop = IOLoop.create()) {
            LoopStats after = loop.runSync(() -> {
                Timeout[] batch = new Timeout[10_000];
                for (int round = 0; round < 100; round++) {
                    for (int i = 0; i < batch.length; i++) {
                        batch[i] = loop.callLater(Duration.ofSeconds(60 + i % 7), () -> { });
                    }
                    for (Timeout t : batch) {
                        assertTrue(t.cancel());
                    }
                }
                return CompletableFuture.completedFuture(loop.stats());
            });
            assertEquals(0, after.pendingTimeouts());
            assertEquals(0, loop.stats().pendingTimeouts());
        }
    }

    @Test
    void eightThreadsAddingAHundredThousandCallbacksEachRunExactlyOnceAndInOrderPerThread() throws Exception {
        int threads = 8;
        int perThread = 100_000;
        int[] lastSeen = new int[threads];
        long[] counts = new long[threads];
        boolean[] outOfOrder = new boolean[1];
        try (IOLoop loop = IOLoop.create()) {
            java.util.Arrays.fill(lastSeen, -1);
            CountDownLatch allRan = new CountDownLatch(threads * perThread);
            Thread loopThread = loop.startInNewThread("load-loop");
            List<Thread> producers = new ArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            for (int t = 0; t < threads; t++) {
                int id = t;
                producers.add(Thread.ofPlatform().start(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    for (int i = 0; i < perThread; i++) {
                        int seq = i;
                        loop.addCallback(() -> {
                            if (lastSeen[id] != seq - 1) {
                                outOfOrder[0] = true;
                            }
                            lastSeen[id] = seq;
                            counts[id]++;
                            allRan.countDown();
                        });
                    }
                }));
            }
            go.countDown();
            for (Thread p : producers) {
                p.join();
            }
            assertTrue(allRan.await(60, TimeUnit.SECONDS), "callbacks left: " + allRan.getCount());
            // Read the loop's counters on the loop thread.
            long[] snapshot = loop.submit(counts::clone).get(10, TimeUnit.SECONDS);
            boolean disorder = loop.submit(() -> outOfOrder[0]).get(10, TimeUnit.SECONDS);
            loop.stop();
            loopThread.join(10_000);
            for (long c : snapshot) {
                assertEquals(perThread, c);
            }
            assertTrue(!disorder, "callbacks of one thread ran out of order");
            assertEquals(0, loop.stats().pendingCallbacks());
        }
    }

    @Test
    void aThousandLoopsCreatedAndClosedLeakNoFileDescriptor() throws Exception {
        File fds = new File("/proc/self/fd");
        assertTrue(fds.isDirectory(), "this test counts /proc/self/fd (Linux)");
        // Warm up once: the first loop loads classes and may open JDK-internal descriptors that stay.
        IOLoop.create().close();
        int before = fds.list().length;
        for (int i = 0; i < 1000; i++) {
            IOLoop loop = IOLoop.create();
            if (i % 100 == 0) {
                loop.runSync(() -> CompletableFuture.completedFuture(null));
            }
            loop.close();
        }
        int after = fds.list().length;
        assertEquals(before, after, "file descriptors before and after 1000 loops");
    }
}
