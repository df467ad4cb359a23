package io.eddy.ioloop;

import org.junit.jupiter.api.Test;

import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IOLoopErrorTest {

    @Test
    void aThrowingCallbackTimeoutHandlerOrFutureCallbackIsReportedAndTheLoopGoesOn() throws Exception {
        List<String> errors = new ArrayList<>();
        List<String> ran = new ArrayList<>();
        SocketChannel[] pair = Channels.socketPair();
        try (IOLoop loop = IOLoop.builder().exceptionHandler(e -> errors.add(e.getMessage())).build()) {
            loop.addCallback(() -> { throw new IllegalStateException("callback"); });
            loop.callLater(Duration.ZERO, () -> { throw new IllegalStateException("timeout"); });
            loop.addHandler(pair[1], (ch, ev) -> {
                loop.removeHandler(ch);
                throw new java.io.IOException("handler");
            }, IOLoop.WRITE);
            loop.addFuture(CompletableFuture.completedFuture(1), (v, e) -> { throw new IllegalStateException("future"); });
            loop.callLater(Duration.ofMillis(5), () -> {
                ran.add("still running");
                loop.stop();
            });
            loop.start();
            assertEquals(List.of("still running"), ran);
            // The stage was complete already, so its callback was queued behind the first callback.
            assertEquals(List.of("callback", "future", "timeout", "handler"), errors);
        } finally {
            Channels.closeAll(pair[0], pair[1]);
        }
    }

    @Test
    void theDefaultExceptionHandlerLogsAndTheLoopGoesOn() throws Exception {
        try (IOLoop loop = IOLoop.create()) {
            String result = loop.runSync(() -> {
                loop.addCallback(() -> { throw new IllegalStateException("logged, not fatal (expected in this test)"); });
                CompletableFuture<String> after = new CompletableFuture<>();
                loop.addCallback(() -> loop.addCallback(() -> after.complete("survived")));
                return after;
            });
            assertEquals("survived", result);
        }
    }

    @Test
    void aFailingExceptionHandlerDoesNotStopTheLoop() throws Exception {
        try (IOLoop loop = IOLoop.builder().exceptionHandler(e -> { throw new IllegalStateException("handler broke (expected in this test)"); }).build()) {
            String result = loop.runSync(() -> {
                loop.addCallback(() -> { throw new IllegalStateException("first"); });
                return CompletableFuture.completedFuture("survived");
            });
            assertEquals("survived", result);
        }
    }

    @Test
    void anErrorWhileReportingAnErrorDoesNotEndTheLoopEvenWhenLoggingFailsToo() throws Exception {
        // Out of file descriptors, the JDK's log formatter cannot load its time-zone data: every log call throws.
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger("io.eddy.ioloop");
        java.util.logging.Handler broken = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                throw new NoClassDefFoundError("Could not initialize class sun.util.calendar.ZoneInfoFile (expected in this test)");
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(broken);
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream lastResort = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(lastResort, true));
        try (IOLoop defaultHandler = IOLoop.create();
             IOLoop failingHandler = IOLoop.builder().exceptionHandler(e -> {
                 throw new NoClassDefFoundError("handler broke (expected in this test)");
             }).build()) {
            for (IOLoop loop : List.of(defaultHandler, failingHandler)) {
                String result = loop.runSync(() -> {
                    loop.addCallback(() -> { throw new IllegalStateException("first (expected in this test)"); });
                    CompletableFuture<String> after = new CompletableFuture<>();
                    loop.addCallback(() -> loop.addCallback(() -> after.complete("survived")));
                    return after;
                });
                assertEquals("survived", result);
            }
        } finally {
            System.setErr(stderr);
            logger.removeHandler(broken);
        }
        assertTrue(lastResort.toString().contains("logging it failed"), lastResort.toString());
    }

    @Test
    void anExceptionHandlerThatRethrowsWhatItWasGivenDoesNotEndTheLoop() throws Exception {
        try (IOLoop loop = IOLoop.builder().exceptionHandler(e -> {
            throw (RuntimeException) e;
        }).build()) {
            String result = loop.runSync(() -> {
                loop.addCallback(() -> { throw new IllegalStateException("rethrown by the handler (expected in this test)"); });
                Context.empty().withExceptionHandler(e -> { throw (RuntimeException) e; })
                        .run(() -> loop.addCallback(() -> { throw new IllegalStateException("rethrown by both (expected in this test)"); }));
                CompletableFuture<String> after = new CompletableFuture<>();
                loop.addCallback(() -> loop.addCallback(() -> after.complete("survived")));
                return after;
            });
            assertEquals("survived", result);
        }
    }

    @Test
    void aVirtualMachineErrorPropagatesOutOfStart() {
        try (IOLoop loop = IOLoop.create()) {
            loop.addCallback(() -> { throw new InternalError("vm broke"); });
            InternalError e = assertThrows(InternalError.class, loop::start);
            assertEquals("vm broke", e.getMessage());
            assertFalse(loop.isRunning());
        }
    }

    @Test
    void theWatchdogCapturesTheLoopThreadsStackWhileItIsBlocked() throws Exception {
        CountDownLatch captured = new CountDownLatch(1);
        List<StackTraceElement[]> stacks = new ArrayList<>();
        try (IOLoop loop = IOLoop.create()) {
            loop.setBlockingThreshold(Duration.ofMillis(50), stack -> {
                synchronized (stacks) {
                    stacks.add(stack);
                }
                captured.countDown();
            });
            boolean[] released = new boolean[1];
            loop.runSync(() -> {
                blockUntil(captured);
                released[0] = true;
                return null;
            });
            assertTrue(released[0]);
            synchronized (stacks) {
                assertEquals(1, stacks.size(), "one report per blocked iteration");
                assertTrue(Arrays.stream(stacks.get(0)).anyMatch(f -> f.getMethodName().equals("blockUntil")),
                        "the stack shows where the loop was blocked: " + Arrays.toString(stacks.get(0)));
            }
        }
    }

    @Test
    void theWatchdogMeasuresRealTimeAlsoOnAVirtualClock() throws Exception {
        CountDownLatch captured = new CountDownLatch(1);
        VirtualClock clock = new VirtualClock();
        try (IOLoop loop = IOLoop.builder().clock(clock).build()) {
            loop.setBlockingThreshold(Duration.ofMillis(50), stack -> captured.countDown());
            loop.runSync(() -> {
                blockUntil(captured); // virtual time stands still; real time passes
                return null;
            });
            assertEquals(0, clock.nanoTime());
        }
    }

    private static void blockUntil(CountDownLatch latch) throws InterruptedException {
        // Blocks the loop thread (on purpose) until the watchdog has reported it; bounded by the timeout.
        assertTrue(latch.await(10, TimeUnit.SECONDS), "the watchdog never reported the blocked loop");
    }

    @Test
    void theBlockingLogThresholdLogsAWarningWithTheBlockedStack() throws Exception {
        java.util.logging.Logger logger = java.util.logging.Logger.getLogger("io.eddy.ioloop");
        List<java.util.logging.LogRecord> records = new ArrayList<>();
        CountDownLatch logged = new CountDownLatch(1);
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                if (r.getMessage().startsWith("IOLoop blocked for ")) {
                    synchronized (records) {
                        records.add(r);
                    }
                    logged.countDown();
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(capture);
        try (IOLoop loop = IOLoop.builder().blockingLogThreshold(Duration.ofMillis(50)).build()) {
            loop.runSync(() -> {
                blockUntil(logged);
                return null;
            });
            synchronized (records) {
                java.util.logging.LogRecord r = records.get(0);
                assertEquals(java.util.logging.Level.WARNING, r.getLevel());
                assertTrue(r.getMessage().matches("(?s)IOLoop blocked for \\d+ ms\n.*blockUntil.*"), r.getMessage());
            }
            loop.setBlockingLogThreshold(null);
            loop.setBlockingLogThreshold(Duration.ZERO);
            assertThrows(IllegalArgumentException.class, () -> loop.setBlockingLogThreshold(Duration.ofMillis(-1)));
        } finally {
            logger.removeHandler(capture);
        }
    }

    @Test
    void exceptionsInCallbacksGoToTheContextOfTheTaskNotOfTheLoop() throws Exception {
        List<Throwable> handled = new ArrayList<>();
        List<Throwable> loopErrors = new ArrayList<>();
        try (IOLoop loop = IOLoop.builder().exceptionHandler(loopErrors::add).build()) {
            IllegalStateException boom = new IllegalStateException("boom");
            loop.runSync(() -> {
                Context.current().withExceptionHandler(handled::add).run(() -> loop.addCallback(() -> { throw boom; }));
                CompletableFuture<Void> next = new CompletableFuture<>();
                loop.addCallback(() -> loop.addCallback(() -> next.complete(null)));
                return next;
            });
            assertEquals(1, handled.size());
            assertSame(boom, handled.get(0));
            assertEquals(List.of(), loopErrors);
        }
    }
}
