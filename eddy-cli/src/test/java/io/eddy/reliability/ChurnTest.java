package io.eddy.reliability;

import io.eddy.ioloop.LoopStats;
import io.eddy.iostream.SSLIOStream;
import io.eddy.reliability.Fixture.EchoServer;
import io.eddy.reliability.Fixture.Kind;
import io.eddy.reliability.Fixture.LogCapture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Churn: 20,000 connections one after the other, each connect, echo, close. Nothing accumulates: the fd
 * count comes back to where it was at every checkpoint, and the server loop's stats (handlers, queued
 * callbacks, pending timeouts) are back to their idle values at the end.
 */
class ChurnTest {

    private static final int CYCLES = 20_000;
    private static final int CHECKPOINT = 2_000;
    private static final int MESSAGE = 100;
    /** TLS cycles cost a handshake each (client and server in this JVM): fewer, still far past any cache warm-up. */
    private static final int TLS_CYCLES = 2_000;
    private static final int TLS_CHECKPOINT = 500;
    /** Growth of the retained heap allowed between the first checkpoint and the end: GC and JIT noise. */
    private static final long TLS_HEAP_SLACK = 16L << 20;

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

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("ChurnTest %s: %d cycles, fds %d -> %d, stats %s -> %s%n",
                    kind, CYCLES, fds, fdsAfter, before, server.stats());
        }
    }

    @Test
    void twoThousandTlsCyclesLeaveFdsLoopStatsAndHeapFlat() throws Exception {
        try (LogCapture log = new LogCapture(); EchoServer server = Fixture.startTls(SSLIOStream.DEFAULT_HANDSHAKE_TIMEOUT)) {
            int fds = server.warmUpAndCountFds();
            LoopStats before = server.stats();
            long heapAtFirstCheckpoint = 0;
            long heapAtEnd = 0;
            for (int i = 1; i <= TLS_CYCLES; i++) {
                Fixture.assertTlsEcho(server.address, MESSAGE);
                if (i % TLS_CHECKPOINT == 0) {
                    Fixture.assertFdsBackTo(fds);
                    long heap = heapAfterGc();
                    if (i == TLS_CHECKPOINT) {
                        heapAtFirstCheckpoint = heap;
                    }
                    heapAtEnd = heap;
                }
            }

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("ChurnTest TLS: %d handshake/echo/close cycles, fds %d -> %d, heap after GC %.1f MB at cycle %d "
                    + "-> %.1f MB at the end (client and server in this JVM), stats %s -> %s%n", TLS_CYCLES, fds, fdsAfter,
                    heapAtFirstCheckpoint / 1e6, TLS_CHECKPOINT, heapAtEnd / 1e6, before, server.stats());
            assertTrue(heapAtEnd < heapAtFirstCheckpoint + TLS_HEAP_SLACK, "heap after GC grew from "
                    + heapAtFirstCheckpoint + " to " + heapAtEnd + " bytes over " + TLS_CYCLES + " TLS cycles");
        }
    }

    /** The heap in use after a full collection: what is retained. */
    private static long heapAfterGc() {
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        memory.gc();
        return memory.getHeapMemoryUsage().getUsed();
    }
}
