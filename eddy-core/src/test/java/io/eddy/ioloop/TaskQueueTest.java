package io.eddy.ioloop;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TaskQueueTest {

    @Test
    void aSnapshotTakesExactlyTheTasksQueuedBeforeItAcrossChunks() {
        TaskQueue queue = new TaskQueue();
        List<Integer> ran = new ArrayList<>();
        for (int i = 0; i < 2500; i++) {
            int n = i;
            queue.offer(() -> ran.add(n), null);
        }
        long snapshot = queue.last();
        for (int i = 2500; i < 5000; i++) {
            int n = i;
            queue.offer(() -> ran.add(n), null);
        }
        assertEquals(5000, queue.size());
        while (!queue.takenUpTo(snapshot)) {
            queue.take().run();
        }
        assertEquals(2500, ran.size());
        assertEquals(2499, ran.get(2499));
        assertEquals(2500, queue.size());
        while (!queue.isEmpty()) {
            queue.take().run();
        }
        assertEquals(5000, ran.size());
        for (int i = 0; i < 5000; i++) {
            assertEquals(i, ran.get(i));
        }
        assertEquals(0, queue.size());
    }

    @Test
    void eachTaskKeepsItsOwnContext() {
        TaskQueue queue = new TaskQueue();
        Context a = Context.empty().with(Context.key("a"), "a");
        queue.offer(() -> { }, a);
        queue.offer(() -> { }, null);
        assertFalse(queue.isEmpty());
        queue.take();
        assertSame(a, queue.takenContext());
        queue.take();
        assertNull(queue.takenContext());
        assertTrue(queue.isEmpty());
    }

    @Test
    void aClosedQueueRefusesOffersAndStillHandsOutWhatWasQueuedBefore() {
        TaskQueue queue = new TaskQueue();
        Runnable a = () -> { };
        Runnable b = () -> { };
        assertTrue(queue.offer(a, null));
        queue.close();
        queue.close(); // idempotent
        assertFalse(queue.offer(b, null), "refused after close");
        assertEquals(1, queue.size());
        assertEquals(1, queue.last());
        assertFalse(queue.isEmpty());
        assertSame(a, queue.take());
        assertTrue(queue.isEmpty());
        assertEquals(0, queue.size());
    }

    @Test
    void anOfferRacingTheCloseIsEitherQueuedOrRefusedNeverBoth() throws Exception {
        for (int round = 0; round < 50; round++) {
            TaskQueue queue = new TaskQueue();
            int threads = 3;
            CountDownLatch go = new CountDownLatch(1);
            Set<Runnable> accepted = java.util.concurrent.ConcurrentHashMap.newKeySet();
            AtomicInteger refused = new AtomicInteger();
            List<Thread> producers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Thread producer = new Thread(() -> {
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < 3000; i++) { // across chunk boundaries
                        Runnable task = new Noop(); // a task of its own (a lambda without captures is one shared object)
                        if (queue.offer(task, null)) {
                            accepted.add(task);
                        } else {
                            refused.incrementAndGet();
                        }
                    }
                });
                producer.start();
                producers.add(producer);
            }
            go.countDown();
            while (queue.size() < (1000 * round) % 6000 && producers.stream().anyMatch(Thread::isAlive)) {
                Thread.onSpinWait(); // close at a different point each round
            }
            queue.close();
            Set<Runnable> taken = new HashSet<>();
            while (!queue.isEmpty()) {
                assertTrue(taken.add(queue.take()), "each task taken once");
            }
            for (Thread producer : producers) {
                producer.join();
            }
            assertTrue(queue.isEmpty(), "nothing queued after the close");
            assertEquals(accepted, taken, "exactly the accepted tasks were queued");
            assertEquals(threads * 3000, accepted.size() + refused.get());
        }
    }

    private static final class Noop implements Runnable {
        @Override
        public void run() {
        }
    }
}
