package io.eddy.iostream;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The bytes a stream has received and not yet delivered, and the searches reads make in them: a delimiter
 * (incrementally, from where the last search stopped) or a regular expression (over the bytes as ISO-8859-1,
 * without copying). Offsets are relative to the first buffered byte.
 *
 * <p>Sized to its data: it grows (at least doubling) up to the stream's {@code maxBufferSize}, and an
 * emptied buffer larger than {@value #KEPT_BUFFER} bytes is dropped, so an idle stream holds no big array.
 *
 * <p>Threads: the stream's loop thread only; {@link #size()} is a snapshot elsewhere.
 */
final class ReadBuffer {

    private static final byte[] EMPTY = {};
    /** An emptied buffer larger than this is dropped. */
    private static final int KEPT_BUFFER = 4 * 1024;

    private final int maxSize;
    private byte[] bytes = EMPTY;
    private int start;
    private int end;

    ReadBuffer(int maxSize) {
        this.maxSize = maxSize;
    }

    /** Bytes buffered. */
    int size() {
        return end - start;
    }

    boolean isEmpty() {
        return end == start;
    }

    /** The most it may hold: the stream's {@code maxBufferSize}. */
    int maxSize() {
        return maxSize;
    }

    /** How many more bytes may be buffered before {@code maxBufferSize} is reached. */
    int room() {
        return maxSize - (end - start);
    }

    /** Appends {@code src[from, from + n)} (absolute indexes; {@code src}'s position and limit are not used). */
    void append(ByteBuffer src, int from, int n) {
        ensureSpace(n);
        src.get(from, bytes, end, n);
        end += n;
    }

    /** Removes and returns the first {@code n} bytes. */
    byte[] take(int n) {
        byte[] out = Arrays.copyOfRange(bytes, start, start + n);
        consume(n);
        return out;
    }

    /** Moves as many bytes as fit into {@code dst} (advancing its position); returns how many. */
    int moveTo(ByteBuffer dst) {
        int n = Math.min(end - start, dst.remaining());
        if (n > 0) {
            dst.put(bytes, start, n);
            consume(n);
        }
        return n;
    }

    /** The offset of the first {@code delimiter} at or after offset {@code from}, or -1. */
    int indexOf(byte[] delimiter, int from) {
        byte first = delimiter[0];
        int last = end - delimiter.length;
        outer:
        for (int i = start + from; i <= last; i++) {
            if (bytes[i] != first) {
                continue;
            }
            for (int j = 1; j < delimiter.length; j++) {
                if (bytes[i + j] != delimiter[j]) {
                    continue outer;
                }
            }
            return i - start;
        }
        return -1;
    }

    /** The offset just past the first match of {@code pattern}, or -1. */
    int matchEnd(Pattern pattern) {
        Matcher m = pattern.matcher(new Latin1(bytes, start, end));
        return m.find() ? m.end() : -1;
    }

    private void consume(int n) {
        start += n;
        if (start == end) {
            start = 0;
            end = 0;
            if (bytes.length > KEPT_BUFFER) {
                bytes = EMPTY;
            }
        }
    }

    /** Makes room for {@code n} more bytes after {@code end}: compacts, or grows (at least doubling). */
    private void ensureSpace(int n) {
        if (bytes.length - end >= n) {
            return;
        }
        int buffered = end - start;
        if (buffered + n <= bytes.length) {
            System.arraycopy(bytes, start, bytes, 0, buffered);
        } else {
            int size = Math.max(buffered + n, Math.min(bytes.length * 2, maxSize));
            byte[] bigger = new byte[size];
            System.arraycopy(bytes, start, bigger, 0, buffered);
            bytes = bigger;
        }
        start = 0;
        end = buffered;
    }

    /** Bytes as ISO-8859-1 characters, without copying, for regular expressions. */
    private record Latin1(byte[] bytes, int from, int to) implements CharSequence {
        @Override
        public int length() {
            return to - from;
        }

        @Override
        public char charAt(int index) {
            return (char) (bytes[from + index] & 0xff);
        }

        @Override
        public CharSequence subSequence(int s, int e) {
            return new Latin1(bytes, from + s, from + e);
        }

        @Override
        public String toString() {
            return new String(bytes, from, to - from, StandardCharsets.ISO_8859_1);
        }
    }
}
