package io.eddy.iostream;

/**
 * Limits and sizes of an {@link IOStream}. {@link Integer#MAX_VALUE} means unlimited.
 *
 * @param maxBufferSize      the most bytes the read buffer holds (default 100 MiB)
 * @param readChunkSize      how much one socket read asks for (default 64 KiB; at most maxBufferSize / 2)
 * @param maxWriteBufferSize the most bytes queued for writing (default unlimited)
 */
public record StreamOptions(int maxBufferSize, int readChunkSize, int maxWriteBufferSize) {

    private static final StreamOptions DEFAULTS = new StreamOptions(100 * 1024 * 1024, 64 * 1024, Integer.MAX_VALUE);

    /**
     * Checks the values and clamps {@code readChunkSize} to {@code maxBufferSize / 2}.
     *
     * @throws IllegalArgumentException if a value is not positive
     */
    public StreamOptions {
        positive("maxBufferSize", maxBufferSize);
        positive("readChunkSize", readChunkSize);
        positive("maxWriteBufferSize", maxWriteBufferSize);
        readChunkSize = Math.max(1, Math.min(readChunkSize, maxBufferSize / 2));
    }

    /** 100 MiB read buffer, 64 KiB reads, unlimited write buffer. */
    public static StreamOptions defaults() {
        return DEFAULTS;
    }

    /** A copy with {@code maxBufferSize} changed. */
    public StreamOptions withMaxBufferSize(int maxBufferSize) {
        return new StreamOptions(maxBufferSize, readChunkSize, maxWriteBufferSize);
    }

    /** A copy with {@code readChunkSize} changed. */
    public StreamOptions withReadChunkSize(int readChunkSize) {
        return new StreamOptions(maxBufferSize, readChunkSize, maxWriteBufferSize);
    }

    /** A copy with {@code maxWriteBufferSize} changed. */
    public StreamOptions withMaxWriteBufferSize(int maxWriteBufferSize) {
        return new StreamOptions(maxBufferSize, readChunkSize, maxWriteBufferSize);
    }

    private static void positive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive: " + value);
        }
    }
}
