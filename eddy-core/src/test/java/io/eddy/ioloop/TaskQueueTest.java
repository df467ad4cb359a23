package io.eddy.ioloop;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

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
}
