package io.eddy.ioloop;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The loop's callback queue: lock-free, many producers, one consumer (the loop's owner thread), and
 * no allocation per task.
 *
 * <p>Tasks are numbered in the order producers claim them (one CAS on {@code producerIndex}), so FIFO
 * holds across threads: an offer that happens-before another claims a lower number. Task {@code i}
 * lives in slot {@code i - base} of a chunk of {@value #CHUNK} slots; a producer that finds its chunk
 * full links the next one. Numbering also gives the consumer a snapshot ({@link #last()}: take every
 * task numbered below it) and a size (a subtraction).
 *
 * <p>{@link #close} sets the top bit of the producers' index, so that closing and claiming a number are one
 * CAS apart: an offer either claimed its number before the close (its task is in the queue, for whoever
 * drains it) or fails. No counter of offers in flight, no second atomic per offer.
 *
 * <p>The producers' fields and the consumer's sit on different cache lines (the padding superclasses
 * below), so that a producer's CAS does not evict the line the loop updates after every task.
 */
final class TaskQueue extends TaskQueuePadding.ConsumerFields {

    private static final int CHUNK = 1024;
    /** The bit of {@code producerIndex} that {@link #close} sets. */
    private static final long CLOSED = Long.MIN_VALUE;

    /** Slots of {@value #CHUNK} tasks: {@code slots[2k]} the context, {@code slots[2k+1]} the task (published last). */
    static final class Chunk {
        final long base;
        final Object[] slots = new Object[2 * CHUNK];
        volatile Chunk next;

        Chunk(long base) {
            this.base = base;
        }
    }

    private static final VarHandle PRODUCER_INDEX;
    private static final VarHandle PRODUCER_CHUNK;
    private static final VarHandle CONSUMER_INDEX;
    private static final VarHandle NEXT;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Object[].class);

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            PRODUCER_INDEX = lookup.findVarHandle(TaskQueuePadding.ProducerFields.class, "producerIndex", long.class);
            PRODUCER_CHUNK = lookup.findVarHandle(TaskQueuePadding.ProducerFields.class, "producerChunk", Chunk.class);
            CONSUMER_INDEX = lookup.findVarHandle(TaskQueuePadding.ConsumerFields.class, "consumerIndex", long.class);
            NEXT = lookup.findVarHandle(Chunk.class, "next", Chunk.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Padding after the consumer's fields, so that what follows this object in memory does not share their line. */
    @SuppressWarnings("unused")
    private long p0, p1, p2, p3, p4, p5, p6, p7;

    TaskQueue() {
        super(new Chunk(0));
    }

    /**
     * Queues {@code task} to run under {@code context} (null: the empty context); false, queueing nothing,
     * once the queue is {@link #close closed}. Any thread.
     */
    boolean offer(Runnable task, Context context) {
        if (context == Context.empty()) {
            context = null; // decided before the claim: between the CAS and the publication, only stores
        }
        while (true) {
            // Chunk first, then index: the chunk only moves on after the index reached its end.
            Chunk chunk = producerChunk;
            long index = producerIndex;
            if (index < 0) {
                return false; // CLOSED
            }
            long offset = index - chunk.base;
            if (offset < CHUNK) {
                if (PRODUCER_INDEX.compareAndSet(this, index, index + 1)) {
                    int slot = (int) offset << 1;
                    if (context != null) {
                        chunk.slots[slot] = context; // a fresh chunk's slots are null: the empty context costs no store
                    }
                    SLOT.setRelease(chunk.slots, slot + 1, task);
                    return true;
                }
            } else {
                Chunk next = chunk.next;
                if (next == null) {
                    Chunk fresh = new Chunk(chunk.base + CHUNK);
                    next = NEXT.compareAndSet(chunk, null, fresh) ? fresh : chunk.next;
                }
                PRODUCER_CHUNK.compareAndSet(this, chunk, next);
            }
        }
    }

    /**
     * Fails every offer from now on. Those that succeeded before are in the queue or a few instructions from
     * it ({@link #take} waits for their tasks). Any thread; idempotent.
     */
    void close() {
        PRODUCER_INDEX.getAndBitwiseOr(this, CLOSED);
    }

    /** The number of the next task to be queued: taking every task below it takes a snapshot. Any thread. */
    long last() {
        return producerIndex & ~CLOSED;
    }

    /** Whether every task numbered below {@code last} was taken. Consumer only. */
    boolean takenUpTo(long last) {
        return consumerIndex >= last;
    }

    /**
     * Takes the next task; its context is then {@link #takenContext()}. The caller has checked that one
     * was queued. Consumer only.
     */
    Runnable take() {
        long index = consumerIndex;
        Chunk chunk = consumerChunk;
        int offset = (int) (index - chunk.base);
        if (offset == CHUNK) {
            chunk = awaitNext(chunk);
            consumerChunk = chunk;
            offset = 0;
        }
        int slot = offset << 1;
        Object task = SLOT.getAcquire(chunk.slots, slot + 1);
        while (task == null) {
            // Its producer claimed the number but has not stored the task yet: a few instructions away.
            Thread.onSpinWait();
            task = SLOT.getAcquire(chunk.slots, slot + 1);
        }
        Context context = (Context) chunk.slots[slot];
        if (context != null) {
            chunk.slots[slot] = null;
        }
        takenContext = context;
        chunk.slots[slot + 1] = null;
        CONSUMER_INDEX.setRelease(this, index + 1);
        return (Runnable) task;
    }

    private static Chunk awaitNext(Chunk chunk) {
        Chunk next = chunk.next;
        while (next == null) {
            Thread.onSpinWait();
            next = chunk.next;
        }
        return next;
    }

    /** The context of the task {@link #take()} returned last (null for the empty context). Consumer only. */
    Context takenContext() {
        return takenContext;
    }

    /** True when nothing is queued. Any thread (a snapshot elsewhere than the consumer). */
    boolean isEmpty() {
        return (producerIndex & ~CLOSED) == consumerIndex;
    }

    /** The number of queued tasks. Any thread (a snapshot elsewhere than the consumer). */
    int size() {
        long n = (producerIndex & ~CLOSED) - consumerIndex;
        return n <= 0 ? 0 : (int) Math.min(n, Integer.MAX_VALUE);
    }
}
