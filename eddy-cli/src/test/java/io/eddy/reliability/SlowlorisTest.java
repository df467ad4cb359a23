package io.eddy.reliability;

import io.eddy.reliability.Fixture.Clients;
import io.eddy.reliability.Fixture.EchoServer;
import io.eddy.reliability.Fixture.Kind;
import io.eddy.reliability.Fixture.LogCapture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Slowloris: 2,000 connections that trickle one byte at a time (TCP_NODELAY, one segment per byte) for as
 * long as 20 normal clients echo 16 KiB messages. The normal clients all finish, every byte checked,
 * while the slow connections are still open and sending: no head-of-line blocking. The slow ones get
 * their bytes back too.
 */
class SlowlorisTest {

    private static final int SLOW = 2_000;
    /** Connections opened before waiting for the server to accept them: below even Tornado's backlog of 128. */
    private static final int BATCH = 100;
    private static final int NORMAL = 20;
    private static final int NORMAL_ROUNDS = 20;
    private static final int NORMAL_SIZE = 16 * 1024;
    /** A bound on the trickle (bytes per slow connection), reached only if the normal clients hang. */
    private static final int MAX_ROUNDS = 1_000;

    @ParameterizedTest
    @EnumSource(Kind.class)
    void twoThousandTricklingConnectionsDoNotHoldUpTwentyNormalClients(Kind kind) throws Exception {
        try (LogCapture log = new LogCapture(); EchoServer server = Fixture.start(kind); Clients clients = new Clients()) {
            int fds = server.warmUpAndCountFds();
            List<SocketChannel> slow = new ArrayList<>(SLOW);
            int rounds = 0;
            int roundsWhileNormal;
            try {
                for (int i = 0; i < SLOW; i++) {
                    SocketChannel c = SocketChannel.open(server.address);
                    slow.add(c);
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    c.configureBlocking(false);
                    if (slow.size() % BATCH == 0) {
                        int expected = slow.size() + 1; // and the listening socket
                        Fixture.await("the server to accept " + slow.size() + " connections",
                                () -> server.loop.stats().handlers() >= expected);
                    }
                }
                trickle(slow, rounds++);

                CompletableFuture<Void> normal = clients.echoAll(server.address, NORMAL, NORMAL_ROUNDS, NORMAL_SIZE);
                while (!normal.isDone() && rounds < MAX_ROUNDS) {
                    trickle(slow, rounds++);
                }
                roundsWhileNormal = rounds - 1;
                normal.get(Fixture.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                assertTrue(roundsWhileNormal > 0, "the normal clients finished before the slow ones sent a second byte");
                trickle(slow, rounds++); // the slow ones are still there and still served

                drainEchoes(slow, rounds);
            } finally {
                for (SocketChannel c : slow) {
                    c.close();
                }
            }

            clients.assertNoUncaughtExceptions();
            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("SlowlorisTest %s: %d slow connections x %d bytes (%d rounds while %d clients echoed %d x %d bytes), fds %d -> %d%n",
                    kind, SLOW, rounds, roundsWhileNormal, NORMAL, NORMAL_ROUNDS, NORMAL_SIZE, fds, fdsAfter);
        }
    }

    /** Byte {@code round} of slow connection {@code i}. */
    private static byte slowByte(int i, int round) {
        return (byte) (i * 31 + round * 7);
    }

    /** Every slow connection sends one byte. */
    private static void trickle(List<SocketChannel> slow, int round) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        for (int i = 0; i < slow.size(); i++) {
            one.clear();
            one.put(0, slowByte(i, round));
            assertEquals(1, slow.get(i).write(one), "slow connection " + i + " could not send byte " + round);
        }
    }

    /** Reads every slow connection's echo ({@code rounds} bytes each) and checks it. */
    private static void drainEchoes(List<SocketChannel> slow, int rounds) throws IOException {
        try (Selector selector = Selector.open()) {
            for (int i = 0; i < slow.size(); i++) {
                slow.get(i).register(selector, SelectionKey.OP_READ, new int[]{i, 0});
            }
            ByteBuffer in = ByteBuffer.allocate(MAX_ROUNDS + 1);
            int complete = 0;
            long deadline = System.nanoTime() + Fixture.TIMEOUT.toNanos();
            while (complete < slow.size()) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("only " + complete + " of " + slow.size() + " slow connections got their "
                            + rounds + " bytes back within " + Fixture.TIMEOUT);
                }
                selector.select(1_000);
                for (SelectionKey key : selector.selectedKeys()) {
                    int[] state = (int[]) key.attachment(); // {connection, bytes received}
                    in.clear();
                    int n = ((SocketChannel) key.channel()).read(in);
                    if (n < 0) {
                        throw new AssertionError("slow connection " + state[0] + ": end of stream after " + state[1] + " bytes");
                    }
                    for (int b = 0; b < n; b++) {
                        assertEquals(slowByte(state[0], state[1] + b), in.get(b), "slow connection " + state[0] + ", byte " + (state[1] + b));
                    }
                    state[1] += n;
                    assertTrue(state[1] <= rounds, "slow connection " + state[0] + " got more than it sent");
                    if (state[1] == rounds) {
                        key.cancel();
                        complete++;
                    }
                }
                selector.selectedKeys().clear();
            }
        }
    }
}
