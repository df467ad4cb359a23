package io.eddy.iostream;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ReadBuffer on its own: what goes in comes out in order, and searches report offsets from the first buffered byte. */
class ReadBufferTest {

    private static void append(ReadBuffer buffer, byte[] bytes) {
        ByteBuffer src = ByteBuffer.allocateDirect(bytes.length + 3).put(3, bytes); // like the scratch buffer
        buffer.append(src, 3, bytes.length);
    }

    private static void append(ReadBuffer buffer, String latin1) {
        append(buffer, latin1.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static String take(ReadBuffer buffer, int n) {
        return new String(buffer.take(n), StandardCharsets.ISO_8859_1);
    }

    @Test
    void bytesComeOutInTheOrderTheyWentInAcrossCompactionsAndGrowth() {
        ReadBuffer buffer = new ReadBuffer(1 << 20);
        Random random = new Random(7);
        ByteBuffer model = ByteBuffer.allocate(1 << 24);
        int modelStart = 0;
        for (int round = 0; round < 2_000; round++) {
            if (random.nextBoolean() && buffer.room() > 0) {
                byte[] chunk = new byte[1 + random.nextInt(Math.min(9_000, buffer.room()))];
                random.nextBytes(chunk);
                append(buffer, chunk);
                model.put(chunk);
            } else if (buffer.size() > 0) {
                int n = 1 + random.nextInt(buffer.size());
                byte[] expected = new byte[n];
                model.get(modelStart, expected);
                modelStart += n;
                assertArrayEquals(expected, buffer.take(n), "round " + round);
            }
            assertEquals(model.position() - modelStart, buffer.size());
            assertEquals(1 << 20, buffer.room() + buffer.size());
        }
    }

    @Test
    void indexOfFindsADelimiterSplitBetweenTwoAppendsAtItsOffsetFromTheFirstBufferedByte() {
        ReadBuffer buffer = new ReadBuffer(1024);
        append(buffer, "..hello\r");
        assertEquals("..", take(buffer, 2));
        byte[] crlf = {'\r', '\n'};
        assertEquals(-1, buffer.indexOf(crlf, 0));
        append(buffer, "\nworld\r\n");
        assertEquals(5, buffer.indexOf(crlf, 0));
        assertEquals(12, buffer.indexOf(crlf, 6));
        assertEquals("hello\r\n", take(buffer, 7));
        assertEquals(5, buffer.indexOf(crlf, 0));
    }

    @Test
    void matchEndMatchesTheBytesAsLatin1Characters() {
        ReadBuffer buffer = new ReadBuffer(1024);
        append(buffer, new byte[]{'x', 'A', (byte) 0xE9, '!', 'y'});
        assertEquals("x", take(buffer, 1));
        assertEquals(3, buffer.matchEnd(Pattern.compile("A\u00e9!")));
        assertEquals(-1, buffer.matchEnd(Pattern.compile("x")));
    }

    @Test
    void moveToFillsTheDestinationOnlyAsFarAsItHasRoom() {
        ReadBuffer buffer = new ReadBuffer(1024);
        append(buffer, "abcdef");
        ByteBuffer small = ByteBuffer.allocate(4);
        assertEquals(4, buffer.moveTo(small));
        assertEquals("abcd", new String(small.array(), StandardCharsets.ISO_8859_1));
        assertEquals(2, buffer.size());
        ByteBuffer large = ByteBuffer.allocate(10);
        assertEquals(2, buffer.moveTo(large));
        assertEquals(2, large.position());
        assertTrue(buffer.isEmpty());
        assertEquals(0, buffer.moveTo(large));
    }

    @Test
    void roomCountsWhatMayStillBeBufferedUnderTheMaximum() {
        ReadBuffer buffer = new ReadBuffer(10);
        assertEquals(10, buffer.room());
        append(buffer, "1234567");
        assertEquals(3, buffer.room());
        take(buffer, 5);
        assertEquals(8, buffer.room());
        append(buffer, "89abcdef");
        assertEquals(0, buffer.room());
        assertEquals("6789abcdef", take(buffer, 10));
    }
}
