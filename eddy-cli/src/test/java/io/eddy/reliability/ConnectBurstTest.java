package io.eddy.reliability;

import io.eddy.reliability.Fixture.EchoServer;
import io.eddy.reliability.Fixture.Kind;
import io.eddy.reliability.Fixture.LogCapture;
import io.eddy.tcp.ServerOptions;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A burst of connections at a busy server (issue 10 #2). A thousand clients connect at once while the
 * server's loop is busy, and each trickles a short message a byte at a time (one segment per byte), as a
 * slow TLS client trickles its ClientHello. With a listen backlog of 128 the kernel's queue overflowed, Linux
 * answered with SYN cookies, and a connection rebuilt from a cookie began at whichever segment got through
 * first: about a third of the connections reached the server without their first byte, and a TLS server
 * read their ClientHello as plaintext. With the default backlog (the system's maximum) every connection
 * must get back exactly what it sent, and every trickled ClientHello must be answered with a handshake.
 */
class ConnectBurstTest {

    /** Connections in the burst: well inside the default backlog, far beyond Tornado's 128. */
    private static final int BURST = Math.min(1_000, ServerOptions.DEFAULT_BACKLOG / 2);
    /** Bytes each connection trickles one at a time; a ClientHello's rest follows in one write. */
    private static final int TRICKLED = 8;
    /** Rounds of the trickle sent while the server's loop is still busy. */
    private static final int BUSY_ROUNDS = 4;
    /** A slow client's pace: one byte per connection per round. Pacing the peer, not waiting for anything. */
    private static final long ROUND_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    enum Server {
        STREAM, RAW, TLS;

        EchoServer start() throws IOException {
            return switch (this) {
                case STREAM -> Fixture.start(Kind.STREAM);
                case RAW -> Fixture.start(Kind.RAW);
                case TLS -> Fixture.startTls(Fixture.TIMEOUT);
            };
        }

        /** What connection {@code i} sends. */
        byte[] message(int i) {
            if (this == TLS) {
                return Fixture.clientHello();
            }
            byte[] message = new byte[TRICKLED];
            for (int b = 0; b < message.length; b++) {
                message[b] = (byte) (i * 31 + b * 7 + 1);
            }
            return message;
        }
    }

    @ParameterizedTest
    @EnumSource(Server.class)
    void aBurstOfTricklingConnectionsAtABusyServerLosesNoByte(Server kind) throws Exception {
        try (LogCapture log = new LogCapture(); EchoServer server = kind.start()) {
            int fds = server.warmUpAndCountFds();
            CountDownLatch busy = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            // The loop is busy (say, with a slow handler) while the burst arrives: nothing is accepted.
            server.loop.addCallback(() -> {
                busy.countDown();
                try {
                    release.await(Fixture.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(busy.await(Fixture.TIMEOUT.toSeconds(), TimeUnit.SECONDS), "the loop ran the busy callback");

            List<SocketChannel> burst = new ArrayList<>(BURST);
            int rounds = 0;
            try {
                for (int i = 0; i < BURST; i++) {
                    SocketChannel c = SocketChannel.open();
                    burst.add(c);
                    c.configureBlocking(false);
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    c.connect(server.address);
                }
                byte[][] messages = new byte[BURST][];
                for (int i = 0; i < BURST; i++) {
                    messages[i] = kind.message(i);
                }
                int[] sent = new int[BURST];
                long deadline = System.nanoTime() + Fixture.TIMEOUT.toNanos();
                while (!allSent(messages, sent)) {
                    if (rounds == BUSY_ROUNDS) {
                        release.countDown();
                    }
                    assertTrue(System.nanoTime() - deadline < 0, "the burst connected and sent within " + Fixture.TIMEOUT);
                    trickle(burst, messages, sent);
                    rounds++;
                    LockSupport.parkNanos(ROUND_NANOS);
                }
                release.countDown();
                if (kind == Server.TLS) {
                    drainHandshakes(burst);
                } else {
                    drainEchoes(burst, messages);
                }
            } finally {
                release.countDown();
                for (SocketChannel c : burst) {
                    c.close();
                }
            }
            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("ConnectBurstTest %s: %d connections at once at a busy loop (backlog %d), %d bytes each"
                    + " trickled over %d rounds, all answered; fds %d -> %d%n",
                    kind, BURST, ServerOptions.DEFAULT_BACKLOG, TRICKLED, rounds, fds, fdsAfter);
        }
    }

    private static boolean allSent(byte[][] messages, int[] sent) {
        for (int i = 0; i < sent.length; i++) {
            if (sent[i] < messages[i].length) {
                return false;
            }
        }
        return true;
    }

    /**
     * Every connection that is connected sends its next byte (after {@link #TRICKLED} bytes, the rest of its
     * message); the others try to finish connecting.
     */
    private static void trickle(List<SocketChannel> burst, byte[][] messages, int[] sent) throws IOException {
        for (int i = 0; i < burst.size(); i++) {
            SocketChannel c = burst.get(i);
            if (sent[i] == messages[i].length || (c.isConnectionPending() && !c.finishConnect())) {
                continue;
            }
            int length = sent[i] < TRICKLED ? 1 : messages[i].length - sent[i];
            ByteBuffer next = ByteBuffer.wrap(messages[i], sent[i], length);
            assertEquals(length, c.write(next), "connection " + i + " could not send byte " + sent[i]);
            sent[i] += length;
        }
    }

    /** Reads every connection's echo and checks it byte for byte. */
    private static void drainEchoes(List<SocketChannel> burst, byte[][] messages) throws IOException {
        try (Selector selector = Selector.open()) {
            for (int i = 0; i < burst.size(); i++) {
                burst.get(i).register(selector, SelectionKey.OP_READ, new int[]{i, 0});
            }
            ByteBuffer in = ByteBuffer.allocate(TRICKLED + 1);
            int complete = 0;
            long deadline = System.nanoTime() + Fixture.TIMEOUT.toNanos();
            while (complete < burst.size()) {
                assertTrue(System.nanoTime() - deadline < 0,
                        "only " + complete + " of " + burst.size() + " connections got their echo within " + Fixture.TIMEOUT);
                selector.select(1_000);
                for (SelectionKey key : selector.selectedKeys()) {
                    int[] state = (int[]) key.attachment(); // {connection, bytes received}
                    in.clear();
                    int n = ((SocketChannel) key.channel()).read(in);
                    assertTrue(n >= 0, "connection " + state[0] + ": end of stream after " + state[1] + " bytes");
                    for (int b = 0; b < n; b++) {
                        assertEquals(messages[state[0]][state[1] + b], in.get(b),
                                "connection " + state[0] + ", byte " + (state[1] + b) + " (a lost first byte shifts the rest)");
                    }
                    state[1] += n;
                    assertTrue(state[1] <= TRICKLED, "connection " + state[0] + " got more than it sent");
                    if (state[1] == TRICKLED) {
                        key.cancel();
                        complete++;
                    }
                }
                selector.selectedKeys().clear();
            }
        }
    }

    /** Reads the first byte of every connection's answer: a TLS handshake record, not an alert or a close. */
    private static void drainHandshakes(List<SocketChannel> burst) throws IOException {
        try (Selector selector = Selector.open()) {
            for (int i = 0; i < burst.size(); i++) {
                burst.get(i).register(selector, SelectionKey.OP_READ, i);
            }
            ByteBuffer first = ByteBuffer.allocate(1);
            int answered = 0;
            long deadline = System.nanoTime() + Fixture.TIMEOUT.toNanos();
            while (answered < burst.size()) {
                assertTrue(System.nanoTime() - deadline < 0,
                        "only " + answered + " of " + burst.size() + " ClientHellos answered within " + Fixture.TIMEOUT);
                selector.select(1_000);
                for (SelectionKey key : selector.selectedKeys()) {
                    int i = (Integer) key.attachment();
                    first.clear();
                    assertEquals(1, ((SocketChannel) key.channel()).read(first), "connection " + i + ": the server answered");
                    assertEquals(0x16, first.get(0), "connection " + i + ": a TLS handshake record (0x15 is an alert)");
                    key.cancel();
                    answered++;
                }
                selector.selectedKeys().clear();
            }
        }
    }
}
