package io.eddy.ioloop;

import java.util.Arrays;

/**
 * A binary min-heap of timeouts ordered by (deadline, insertion order), whose entries know their
 * index so that removal is O(log n). The array shrinks when it is mostly empty, so add/cancel
 * churn leaves nothing behind. Loop's owner thread only.
 */
final class TimerHeap {

    private static final int MIN_CAPACITY = 64;
    private ScheduledTimeout[] heap = new ScheduledTimeout[MIN_CAPACITY];
    private int size;
    private long nextSeq;

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    ScheduledTimeout peek() {
        return size == 0 ? null : heap[0];
    }

    void add(ScheduledTimeout t) {
        if (size == heap.length) {
            heap = Arrays.copyOf(heap, size * 2);
        }
        t.seq = nextSeq++;
        siftUp(size++, t);
    }

    ScheduledTimeout poll() {
        ScheduledTimeout first = heap[0];
        removeAt(0);
        return first;
    }

    void remove(ScheduledTimeout t) {
        int i = t.index;
        if (i >= 0 && i < size && heap[i] == t) {
            removeAt(i);
        }
    }

    /** Empties the heap and returns what it held. */
    ScheduledTimeout[] drain() {
        ScheduledTimeout[] all = Arrays.copyOf(heap, size);
        for (ScheduledTimeout t : all) {
            t.index = -1;
        }
        heap = new ScheduledTimeout[MIN_CAPACITY];
        size = 0;
        return all;
    }

    private void removeAt(int i) {
        ScheduledTimeout removed = heap[i];
        removed.index = -1;
        ScheduledTimeout last = heap[--size];
        heap[size] = null;
        if (i != size) {
            siftDown(i, last);
            if (heap[i] == last) {
                siftUp(i, last);
            }
        }
        if (heap.length > MIN_CAPACITY && size < heap.length / 4) {
            heap = Arrays.copyOf(heap, Math.max(MIN_CAPACITY, heap.length / 2));
        }
    }

    private void siftUp(int i, ScheduledTimeout t) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            ScheduledTimeout p = heap[parent];
            if (!t.before(p)) {
                break;
            }
            heap[i] = p;
            p.index = i;
            i = parent;
        }
        heap[i] = t;
        t.index = i;
    }

    private void siftDown(int i, ScheduledTimeout t) {
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            ScheduledTimeout c = heap[child];
            int right = child + 1;
            if (right < size && heap[right].before(c)) {
                child = right;
                c = heap[child];
            }
            if (!c.before(t)) {
                break;
            }
            heap[i] = c;
            c.index = i;
            i = child;
        }
        heap[i] = t;
        t.index = i;
    }
}
