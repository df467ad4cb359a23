package io.eddy.iostream;

import io.eddy.iostream.internal.OpenStreams;

import java.util.Arrays;

/**
 * {@link OpenStreams} as an array: each stream's {@link StreamCore} knows its set and its index there, so its
 * close removes it by moving the last one into its place; the array shrinks again after a burst.
 *
 * <p>Threads: as {@link OpenStreams}, so no lock. Streams that close after their loop has closed (on whichever
 * thread closes them) do not leave the set: {@link StreamCore} skips it then, as nothing counts a closed loop's
 * streams any more.
 */
final class OpenStreamSet implements OpenStreams {

    private StreamCore[] cores = new StreamCore[16];
    private int size;

    @Override
    public void add(IOStream stream) {
        StreamCore core = stream.core;
        if (core.closed) {
            return; // closed already: nothing to count (a stream handed over is counted through its successor)
        }
        if (size == cores.length) {
            cores = Arrays.copyOf(cores, size * 2);
        }
        place(core, size++);
    }

    @Override
    public int size() {
        return size;
    }

    /** {@code core} closed (StreamCore calls this once). */
    void remove(StreamCore core) {
        int slot = core.openSlot;
        StreamCore last = cores[--size];
        cores[size] = null;
        if (last != core) {
            place(last, slot);
        }
        core.openSet = null;
        if (cores.length > 64 && size < cores.length / 4) {
            cores = Arrays.copyOf(cores, cores.length / 2);
        }
    }

    /** {@code core} handed its connection to {@code successor} (startTls): the successor takes its place. */
    void replace(StreamCore core, StreamCore successor) {
        place(successor, core.openSlot);
        core.openSet = null;
    }

    private void place(StreamCore core, int slot) {
        cores[slot] = core;
        core.openSet = this;
        core.openSlot = slot;
    }
}
