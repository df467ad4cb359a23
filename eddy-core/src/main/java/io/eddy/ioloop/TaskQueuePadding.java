package io.eddy.ioloop;

/**
 * The field layout of {@link TaskQueue}: padding, the producers' fields, padding, the consumer's fields.
 * The JVM lays out a superclass's fields before a subclass's, so this chain keeps the two groups at
 * least 128 bytes apart (two cache lines, for adjacent-line prefetch) whatever it does within a class.
 */
final class TaskQueuePadding {

    private TaskQueuePadding() {
    }

    abstract static class Head {
        @SuppressWarnings("unused")
        private long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15;
    }

    abstract static class ProducerFields extends Head {
        /** The number the next task will get. */
        volatile long producerIndex;
        /** The chunk holding {@code producerIndex}, or the one before it while a producer links the next. */
        volatile TaskQueue.Chunk producerChunk;

        ProducerFields(TaskQueue.Chunk first) {
            producerChunk = first;
        }
    }

    abstract static class Middle extends ProducerFields {
        @SuppressWarnings("unused")
        private long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15;

        Middle(TaskQueue.Chunk first) {
            super(first);
        }
    }

    abstract static class ConsumerFields extends Middle {
        /** The number of the next task to take; written only by the consumer, read by anyone for size(). */
        volatile long consumerIndex;
        /** The chunk holding {@code consumerIndex}. Consumer only. */
        TaskQueue.Chunk consumerChunk;
        /** The context of the task taken last. Consumer only. */
        Context takenContext;

        ConsumerFields(TaskQueue.Chunk first) {
            super(first);
            consumerChunk = first;
        }
    }
}
