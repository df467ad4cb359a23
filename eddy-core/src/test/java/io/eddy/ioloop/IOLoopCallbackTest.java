package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IOLoopCallbackTest {

    private IOLoop loop;

    @BeforeEach
    void open() {
        loop = IOLoop.create();
    }

    @AfterEach
    void close() {
        loop.shutdown().join();
    }

    @Test
    void callbacksRunFirstInFirstOut() {
        List<Integer> ran = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            int n = i;
            loop.addCallback(() -> ran.add(n));
        }
        loop.addCallback(loop::stop);
        loop.start();
        assertEquals(100, ran.size());
        for (int i = 0; i < 100; i++) {
            assertEquals(i, ran.get(i));
        }
    }

    @Test
    void aCallbackAddedDuringAnIterationRunsInTheNextOne() {
        List<Long> iterations = new ArrayList<>();
        loop.addCallback(() -> {
            iterations.add(loop.stats().iterations());
            loop.addCallback(() -> {
                iterations.add(loop.stats().iterations());
                loop.stop();
            });
        });
        loop.addCallback(() -> iterations.add(loop.stats().iterations()));
        loop.start();
        assertEquals(3, iterations.size());
        assertEquals(iterations.get(0), iterations.get(1), "callbacks queued before the iteration share it");
        assertEquals(iterations.get(0) + 1, iterations.get(2), "a callback added while running waits one iteration");
    }

    @Test
    void callbacksRunBeforeTimeoutsThenTimeoutsAddedMeanwhileWaitAnIteration() {
        // Tornado 4.5's experiment: ['C1','C2','T(past -2)','T(past -1)','T(past -1 second)','C1-child','T(added by C1, past)']
        List<String> order = new ArrayList<>();
        long now = loop.time();
        loop.callAt(now - 1_000_000_000L, () -> order.add("T(past -1)"));
        loop.callAt(now - 2_000_000_000L, () -> order.add("T(past -2)"));
        loop.callAt(now - 1_000_000_000L, () -> order.add("T(past -1 second)"));
        loop.addCallback(() -> {
            order.add("C1");
            loop.addCallback(() -> order.add("C1-child"));
            loop.callAt(loop.time() - 5_000_000_000L, () -> {
                order.add("T(added by C1, past)");
                loop.stop();
            });
        });
        loop.addCallback(() -> order.add("C2"));
        loop.start();
        assertEquals(List.of("C1", "C2", "T(past -2)", "T(past -1)", "T(past -1 second)", "C1-child", "T(added by C1, past)"), order);
    }

    @Test
    void executeIsAddCallback() {
        List<String> ran = new ArrayList<>();
        loop.execute(() -> ran.add("executed"));
        loop.execute(loop::stop);
        loop.start();
        assertEquals(List.of("executed"), ran);
    }

    @Test
    void submitCompletesWithTheResultOrTheException() throws Exception {
        Thread thread = loop.startInNewThread("submit");
        try {
            assertEquals("on " + "submit", loop.submit(() -> "on " + Thread.currentThread().getName()).get(5, TimeUnit.SECONDS));
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> loop.submit(() -> { throw new IOException("task failed"); }).get(5, TimeUnit.SECONDS));
            assertInstanceOf(IOException.class, e.getCause());
        } finally {
            loop.stop();
            thread.join(5000);
        }
    }

    @Test
    void addFutureRunsTheCallbackInALaterIterationEvenIfTheStageIsComplete() {
        List<String> order = new ArrayList<>();
        long[] iterations = new long[2];
        loop.addCallback(() -> {
            iterations[0] = loop.stats().iterations();
            loop.addFuture(CompletableFuture.completedFuture("done"), (value, error) -> {
                iterations[1] = loop.stats().iterations();
                order.add("future " + value + " " + error);
                loop.stop();
            });
            order.add("after addFuture");
        });
        loop.start();
        assertEquals(List.of("after addFuture", "future done null"), order);
        assertTrue(iterations[1] > iterations[0]);
    }

    @Test
    void addFutureUnwrapsTheFailureAndRunsOnTheLoopThread() throws Exception {
        AtomicReference<Throwable> seen = new AtomicReference<>();
        AtomicReference<Boolean> onLoop = new AtomicReference<>();
        CompletableFuture<String> failing = CompletableFuture.supplyAsync(() -> {
            throw new IllegalStateException("boom");
        });
        loop.addFuture(failing.thenApply(s -> s + "!"), (value, error) -> {
            seen.set(error);
            onLoop.set(loop.inLoopThread());
            loop.stop();
        });
        loop.start();
        assertInstanceOf(IllegalStateException.class, seen.get());
        assertEquals("boom", seen.get().getMessage());
        assertTrue(onLoop.get());
    }

    @Test
    void runInExecutorRunsOffTheLoopAndCompletesOnIt() throws Exception {
        AtomicReference<String> worker = new AtomicReference<>();
        AtomicReference<Boolean> completedOnLoop = new AtomicReference<>();
        String result = loop.runSync(() -> loop.runInExecutor(null, () -> {
            worker.set(Thread.currentThread().isVirtual() + " " + loop.inLoopThread());
            return "computed";
        }).whenComplete((v, e) -> completedOnLoop.set(loop.inLoopThread())));
        assertEquals("computed", result);
        assertEquals("true false", worker.get(), "default executor: a virtual thread, not the loop");
        assertTrue(completedOnLoop.get());
    }

    @Test
    void runInExecutorUsesTheGivenOrDefaultExecutorAndDoesNotCarryTheContext() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor(r -> new Thread(r, "pool-thread"));
        try {
            Context.Key<String> key = Context.key("k");
            loop.setDefaultExecutor(pool);
            String seen = loop.runSync(() -> Context.current().with(key, "v").call(
                    () -> loop.runInExecutor(null, () -> Thread.currentThread().getName() + " " + Context.current().get(key))));
            assertEquals("pool-thread null", seen);
            loop.setDefaultExecutor(null);
            String wrapped = loop.runSync(() -> loop.runInExecutor(pool, () -> "explicit " + Thread.currentThread().getName()));
            assertEquals("explicit pool-thread", wrapped);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void runInExecutorFailsTheFutureWithTheTasksException() {
        IOException e = assertThrows(IOException.class,
                () -> loop.runSync(() -> loop.runInExecutor(null, () -> { throw new IOException("worker failed"); })));
        assertEquals("worker failed", e.getMessage());
    }

    @Test
    void runInExecutorCompletesOnTheExecutorThreadOnceTheLoopClosed() throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        CompletableFuture<String> result = loop.runInExecutor(null, () -> {
            release.await();
            return "late";
        });
        loop.close();
        release.countDown();
        assertEquals("late", result.get(5, TimeUnit.SECONDS));
    }

    @Test
    void spawnCallbackRunsUnderTheEmptyContext() {
        Context.Key<String> key = Context.key("request");
        List<String> seen = new ArrayList<>();
        Context.current().with(key, "r1").run(() -> {
            loop.addCallback(() -> seen.add("add " + Context.current().get(key)));
            loop.spawnCallback(() -> seen.add("spawn " + Context.current().get(key)));
        });
        loop.addCallback(loop::stop);
        loop.start();
        assertEquals(List.of("add r1", "spawn null"), seen);
    }

    @Test
    void aForeignThreadsCallbackWakesASleepingLoop() throws Exception {
        CompletableFuture<Void> running = loop.submit(() -> null);
        Thread thread = loop.startInNewThread("sleeping");
        try {
            running.get(5, TimeUnit.SECONDS);
            for (int i = 0; i < 20; i++) {
                // Each submit finds the loop asleep (nothing else to do) and must wake it.
                int n = i;
                assertEquals(n, loop.submit(() -> n).get(5, TimeUnit.SECONDS));
            }
        } finally {
            loop.stop();
            thread.join(5000);
        }
        assertFalse(thread.isAlive());
        assertNotEquals(0, loop.stats().iterations());
    }
}
