package io.eddy.ioloop.internal;

import java.util.Arrays;

/**
 * The events of one poll, reused from poll to poll so that dispatch allocates nothing.
 * Owned by the loop thread.
 */
public final class ReadyEvents {
    private PollKey[] keys = new PollKey[256];
    private int[] events = new int[256];
    private int size;

    public void add(PollKey key, int ready) {
        if (size == keys.length) {
            keys = Arrays.copyOf(keys, size * 2);
            events = Arrays.copyOf(events, size * 2);
        }
        keys[size] = key;
        events[size] = ready;
        size++;
    }

    public int size() {
        return size;
    }

    public PollKey key(int i) {
        return keys[i];
    }

    public int events(int i) {
        return events[i];
    }

    /** Forgets every entry (and drops the references, so closed channels can be collected). */
    public void clear() {
        Arrays.fill(keys, 0, size, null);
        size = 0;
    }
}
