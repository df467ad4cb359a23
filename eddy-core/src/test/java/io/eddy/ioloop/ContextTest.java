package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ContextTest {

    private static final Context.Key<String> REQUEST = Context.key("request");
    private static final Context.Key<Integer> USER = Context.key("user");

    private IOLoop loop;
    private final List<Throwable> loopErrors = new ArrayList<>();

    @BeforeEach
    void open() {
        loop = IOLoop.builder().exceptionHandler(loopErrors::add).build();
    }

    @AfterEach
    void close() {
        loop.shutdown().join();
    }

    @Test
    void withReturnsANewContextAndLeavesTheOriginalUnchanged() {
        Context a = Context.empty().with(REQUEST, "r1");
        Context b = a.with(USER, 7).with(REQUEST, "r2");
        assertEquals("r1", a.get(REQUEST));
        assertNull(a.get(USER));
        assertEquals("r2", b.get(REQUEST));
        assertEquals(7, b.get(USER));
        assertNull(b.with(USER, null).get(USER));
        assertNull(Context.empty().get(REQUEST));
    }

    @Test
    void keysWithTheSameNameAreDifferentKeys() {
        Context.Key<String> other = Context.key("request");
        assertNull(Context.empty().with(REQUEST, "x").get(other));
    }

    @Test
    void runAndCallInstallTheContextAndRestoreThePreviousOne() throws Exception {
        Context c = Context.empty().with(REQUEST, "r1");
        c.run(() -> assertEquals("r1", Context.current().get(REQUEST)));
        assertEquals("r1", c.call(() -> Context.current().get(REQUEST)));
        assertSame(Context.empty(), Context.current());
        assertThrows(IllegalStateException.class, () -> c.run(() -> { throw new IllegalStateException(); }));
        assertSame(Context.empty(), Context.current(), "restored after an exception too");
    }

    @Test
    void wrapCarriesTheContextToAnotherThread() throws Exception {
        List<String> seen = new ArrayList<>();
        Runnable wrapped = Context.empty().with(REQUEST, "r9").wrap(() -> seen.add(Context.current().get(REQUEST)));
        Thread t = Thread.ofPlatform().start(wrapped);
        t.join();
        assertEquals(List.of("r9"), seen);
    }

    @Test
    void callbacksTimeoutsHandlersAndFutureCallbacksSeeTheContextCapturedWhenScheduled() throws Exception {
        SocketChannel[] pair = Channels.socketPair();
        try {
            List<String> seen = new ArrayList<>();
            CompletableFuture<String> future = new CompletableFuture<>();
            Context.empty().with(REQUEST, "captured").run(() -> {
                loop.addCallback(() -> seen.add("callback " + Context.current().get(REQUEST)));
                loop.execute(() -> seen.add("execute " + Context.current().get(REQUEST)));
                loop.callLater(Duration.ofMillis(1), () -> seen.add("timeout " + Context.current().get(REQUEST)));
                loop.addHandler(pair[1], (ch, ev) -> {
                    ch.read(ByteBuffer.allocate(8));
                    seen.add("handler " + Context.current().get(REQUEST));
                    loop.removeHandler(ch);
                    future.complete("x");
                }, IOLoop.READ);
                loop.addFuture(future, (v, e) -> {
                    seen.add("future " + Context.current().get(REQUEST));
                    loop.stop();
                });
            });
            // Changing the context after scheduling changes nothing for what was scheduled.
            Context.empty().with(REQUEST, "later").run(() -> loop.callLater(Duration.ofMillis(2), () -> {
                try {
                    Channels.write(pair[0], "x");
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }));
            loop.start();
            assertEquals(List.of("callback captured", "execute captured", "timeout captured", "handler captured",
                    "future captured"), seen);
        } finally {
            Channels.closeAll(pair[0], pair[1]);
        }
    }

    @Test
    void changesInsideATaskAreInvisibleToOtherTasks() {
        List<String> seen = new ArrayList<>();
        loop.addCallback(() -> Context.current().with(REQUEST, "inner").run(() -> seen.add(Context.current().get(REQUEST))));
        loop.addCallback(() -> seen.add(String.valueOf(Context.current().get(REQUEST))));
        loop.addCallback(loop::stop);
        loop.start();
        assertEquals(List.of("inner", "null"), seen);
    }

    @Test
    void exceptionHandlersSeeTheErrorInnermostFirstAndTheFirstTrueHandlesIt() {
        List<String> calls = new ArrayList<>();
        Context outer = Context.empty().withExceptionHandler(e -> calls.add("outer " + e.getMessage()));
        Context inner = outer.withExceptionHandler(e -> {
            calls.add("inner " + e.getMessage());
            return e.getMessage().equals("handled inside");
        });
        inner.run(() -> {
            loop.addCallback(() -> { throw new IllegalStateException("handled inside"); });
            loop.addCallback(() -> { throw new IllegalStateException("passed out"); });
        });
        loop.addCallback(loop::stop);
        loop.start();
        assertEquals(List.of("inner handled inside", "inner passed out", "outer passed out"), calls);
        assertEquals(List.of(), loopErrors, "the outer handler returned true for the second");
    }

    @Test
    void anUnhandledErrorReachesTheLoopsExceptionHandler() {
        Context ignoring = Context.empty().withExceptionHandler(e -> false);
        ignoring.run(() -> loop.callLater(Duration.ZERO, () -> { throw new IllegalArgumentException("unhandled"); }));
        loop.callLater(Duration.ofMillis(1), loop::stop);
        loop.start();
        assertEquals(1, loopErrors.size());
        assertEquals("unhandled", loopErrors.get(0).getMessage());
    }

    @Test
    void aThrowingExceptionHandlerPassesItsOwnErrorOutward() {
        List<Throwable> outerSaw = new ArrayList<>();
        Context c = Context.empty()
                .withExceptionHandler(e -> outerSaw.add(e))
                .withExceptionHandler(e -> { throw new IllegalStateException("handler broke"); });
        c.run(() -> loop.addCallback(() -> { throw new IllegalArgumentException("original"); }));
        loop.addCallback(loop::stop);
        loop.start();
        assertEquals("handler broke", outerSaw.get(0).getMessage());
        assertEquals("original", outerSaw.get(0).getSuppressed()[0].getMessage());
    }
}
