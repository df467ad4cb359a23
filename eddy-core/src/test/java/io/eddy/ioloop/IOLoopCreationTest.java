package io.eddy.ioloop;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IOLoopCreationTest {

    @AfterEach
    void forgetGlobals() {
        IOLoop.clearCurrent();
        IOLoop.clearInstance();
    }

    @Test
    void eventConstantsHaveTornadosValues() {
        assertEquals(0, IOLoop.NONE);
        assertEquals(0x001, IOLoop.READ);
        assertEquals(0x004, IOLoop.WRITE);
        assertEquals(0x018, IOLoop.ERROR);
    }

    @Test
    void createDoesNotChangeCurrent() {
        try (IOLoop loop = IOLoop.create()) {
            assertNull(IOLoop.current(false));
            assertNotSame(loop, IOLoop.current(false));
        }
    }

    @Test
    void instanceIsCreatedOnceAndSharedByAllThreads() throws Exception {
        IOLoop first = IOLoop.instance();
        AtomicReference<IOLoop> seen = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> seen.set(IOLoop.instance()));
        t.join();
        assertSame(first, seen.get());
        first.close();
    }

    @Test
    void installMakesTheLoopTheInstanceAndFailsWhenOneExists() {
        try (IOLoop loop = IOLoop.create(); IOLoop other = IOLoop.create()) {
            loop.install();
            assertSame(loop, IOLoop.instance());
            IllegalStateException e = assertThrows(IllegalStateException.class, other::install);
            assertTrue(e.getMessage().contains("exists already"), e.getMessage());
            IOLoop.clearInstance();
            other.install();
            assertSame(other, IOLoop.instance());
        }
    }

    @Test
    void currentFallsBackToInstanceAndCurrentFalseToNull() {
        assertNull(IOLoop.current(false));
        IOLoop current = IOLoop.current();
        assertSame(IOLoop.instance(), current);
        assertNull(IOLoop.current(false), "current() must not make the instance current");
        current.close();
    }

    @Test
    void makeCurrentAndClearCurrentAreThreadLocal() throws Exception {
        try (IOLoop loop = IOLoop.create()) {
            loop.makeCurrent();
            assertSame(loop, IOLoop.current());
            AtomicReference<IOLoop> other = new AtomicReference<>(loop);
            Thread t = Thread.ofPlatform().start(() -> other.set(IOLoop.current(false)));
            t.join();
            assertNull(other.get());
            IOLoop.clearCurrent();
            assertNull(IOLoop.current(false));
        }
    }

    @Test
    void startMakesTheLoopCurrentAndRestoresThePreviousOne() throws Exception {
        try (IOLoop outer = IOLoop.create(); IOLoop loop = IOLoop.create()) {
            outer.makeCurrent();
            IOLoop seen = loop.runSync(() -> java.util.concurrent.CompletableFuture.completedFuture(IOLoop.current()));
            assertSame(loop, seen);
            assertSame(outer, IOLoop.current(false));
        }
    }

    @Test
    void builderRejectsAnUnknownBackendByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IOLoop.builder().backend("kqueue"));
        assertTrue(e.getMessage().contains("kqueue") && e.getMessage().contains("nio"), e.getMessage());
        try (IOLoop loop = IOLoop.builder().backend("nio").build()) {
            assertTrue(loop.toString().contains("nio"));
        }
    }

    @Test
    void theSystemPropertyChoosesTheBackendAndEachLoopSaysWhichItRuns() {
        try (IOLoop epoll = IOLoop.builder().backend("epoll").build(); IOLoop nio = IOLoop.builder().backend("nio").build()) {
            assertEquals("epoll", epoll.backend(), "the build grants epoll's flags on Linux");
            assertEquals("nio", nio.backend());
            assertTrue(epoll.toString().contains("epoll"), epoll.toString());
        }
        String previous = System.getProperty("eddy.backend");
        try {
            for (String name : new String[]{"nio", "epoll"}) {
                System.setProperty("eddy.backend", name);
                try (IOLoop loop = IOLoop.create()) {
                    assertEquals(name, loop.backend());
                }
            }
            System.setProperty("eddy.backend", "poll");
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, IOLoop::create);
            assertTrue(bad.getMessage().contains("'poll'"), bad.getMessage());
        } finally {
            if (previous == null) {
                System.clearProperty("eddy.backend");
            } else {
                System.setProperty("eddy.backend", previous);
            }
        }
    }

    @Test
    void closingTheInstanceForgetsIt() {
        IOLoop first = IOLoop.instance();
        first.close();
        IOLoop second = IOLoop.instance();
        assertNotSame(first, second);
        second.close();
    }
}
