package io.eddy.reliability;

import io.eddy.ioloop.LoopStats;
import io.eddy.reliability.Fixture.EchoServer;
import io.eddy.reliability.Fixture.Kind;
import io.eddy.reliability.Fixture.LogCapture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.logging.Level;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Churn: 20,000 connections one after the other, each connect, echo, close. Nothing accumulates: the fd
 * count comes back to where it was at every checkpoint, and the server loop's stats (handlers, queued
 * callbacks, pending timeouts) are back to their idle values at the end.
 */
class ChurnTest {

    private static final int CYCLES = 20_000;
    private static final int CHECKPOINT = 2_000;
    private static final int MESSAGE = 100;

    @ParameterizedTest
    @EnumSource(Kind.class)
    void twentyThousandConnectEchoCloseCyclesLeaveFdsAndLoopStatsFlat(Kind kind) throws Exception {
        try (LogCapture log = new LogCapture(); EchoServer server = Fixture.start(kind)) {
            int fds = server.warmUpAndCountFds();
            LoopStats before = server.stats();
            ByteBuffer in = ByteBuffer.allocate(MESSAGE);

            for (int i = 1; i <= CYCLES; i++) {
                byte[] message = Fixture.pattern(MESSAGE, i);
                try (SocketChannel client = SocketChannel.open(server.address)) {
                    client.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    client.write(ByteBuffer.wrap(message));
                    in.clear();
                    while (in.hasRemaining()) {
                        if (client.read(in) < 0) {
                            throw new AssertionError("cycle " + i + ": end of stream after " + in.position() + " bytes");
                        }
                    }
                    assertArrayEquals(message, in.array(), "cycle " + i);
                }
                if (i % CHECKPOINT == 0) {
                    // The client holds nothing between cycles; the server closes its side once it sees the FIN.
                    Fixture.assertFdsBackTo(fds);
                }
            }

            server.assertIdle();
            int fdsAfter = Fixture.assertFdsBackTo(fds);
            server.assertServesAFreshClient();
            server.assertNoUncaughtExceptions();
            log.assertNothingAbove(Level.FINE);
            System.out.printf("ChurnTest %s: %d cycles, fds %d -> %d, stats %s -> %s%n",
                    kind, CYCLES, fds, fdsAfter, before, server.stats());
        }
    }
}
