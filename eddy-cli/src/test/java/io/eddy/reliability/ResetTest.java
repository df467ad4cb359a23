package io.eddy.reliability;

import io.eddy.reliability.Fixture.EchoServer;
import io.eddy.reliability.Fixture.Kind;
import io.eddy.reliability.Fixture.LogCapture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Resets: clients that close abortively (SO_LINGER 0: a RST, not a FIN) in the middle of a large echo,
 * while the server still has data of theirs to read and to write. A plain reset is the peer's business:
 * nothing is logged above DEBUG, nothing reaches the loop's exception handler, no fd stays behind.
 */
class ResetTest {

    private static final int CONNECTIONS = 500;
    /** What each client offers to send: more than the server echoes before the reset comes. */
    private static final int MESSAGE = 512 * 1024;
    /** Echoed bytes each client waits for (checked) before it resets: the server is mid-echo. */
    private static final int BEFORE_RESET = 16 * 1024;

    @ParameterizedTest
    @EnumSource(Kind.class)
    void abortiveClosesInTheMiddleOfALargeEchoAreQuietAndLeaveNothingBehind(Kind kind) throws Exception {
        try (LogCapture log = new LogCapture(); EchoServer server = Fixture.start(kind)) {
            int fds = server.warmUpAndCountFds();
            long unechoed = 0;

            for (int i = 0; i < CONNECTIONS; i++) {
                try (SocketChannel client = SocketChannel.open(server.address)) {
                    client.setOption(StandardSocketOptions.SO_LINGER, 0);
                    // Non-blocking: send what the kernel takes now, without waiting for the echo to drain.
                    client.configureBlocking(false);
                    ByteBuffer out = ByteBuffer.wrap(Fixture.pattern(MESSAGE, i));
                    client.write(out);
                    int sent = out.position();
                    assertTrue(sent > 0, "the kernel took nothing");
                    client.configureBlocking(true);
                    ByteBuffer in = ByteBuffer.allocate(Math.min(sent, BEFORE_RESET));
                    while (in.hasRemaining()) {
                        if (client.read(in) < 0) {
                            throw new AssertionError("connection " + i + ": end of stream after " + in.position() + " bytes");
                        }
                    }
                    for (int b = 0; b < in.capacity(); b++) {
                        assertEquals(Fixture.patternByte(i, b), in.get(b), "connection " + i + ", echoed byte " + b);
                    }
                    unechoed += sent - in.capacity();
                } // close with SO_LINGER 0: RST
            }
            assertTrue(unechoed > 0, "every reset came after the whole echo: nothing was cut off");

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("ResetTest %s: %d resets, %d bytes sent and not echoed before them, fds %d -> %d%n",
                    kind, CONNECTIONS, unechoed, fds, fdsAfter);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void abortiveClosesRightAfterConnectingAreQuietAndLeaveNothingBehind(Kind kind) throws Exception {
        // The RST may come before the server accepts, between its accept and its first read, or after.
        try (LogCapture log = new LogCapture(); EchoServer server = Fixture.start(kind)) {
            int fds = server.warmUpAndCountFds();
            for (int i = 0; i < CONNECTIONS; i++) {
                try (SocketChannel client = SocketChannel.open(server.address)) {
                    client.setOption(StandardSocketOptions.SO_LINGER, 0);
                    if (i % 2 == 0) {
                        client.write(ByteBuffer.wrap(Fixture.pattern(100, i)));
                    }
                }
            }

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("ResetTest %s: %d resets right after connecting, fds %d -> %d%n", kind, CONNECTIONS, fds, fdsAfter);
        }
    }
}
