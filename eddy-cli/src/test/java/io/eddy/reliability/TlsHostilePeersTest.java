package io.eddy.reliability;

import io.eddy.cli.TestTls;
import io.eddy.reliability.Fixture.EchoServer;
import io.eddy.reliability.Fixture.LogCapture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.SocketException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Hostile peers on a TLS port (the stream server with {@code ServerOptions.withSslContext}): garbage instead
 * of a handshake, handshakes that stop half-way, and resets in the middle of a handshake. Each such
 * connection is closed by the server (by a TLS alert and close, or by the handshake timeout), nothing is
 * logged above DEBUG (a peer that does not speak TLS is the peer's problem), no fd stays behind, and the
 * server goes on serving proper TLS clients.
 */
class TlsHostilePeersTest {

    /** Connections of each kind of garbage, all open at once. */
    private static final int PEERS = 100;
    private static final int RESETS = 500;
    /** Connections that trickle their ClientHello, and proper clients meanwhile. */
    private static final int TRICKLING = 500;
    private static final int PROPER = 20;
    /** Short, so the silent peers' connections end quickly; a proper client's handshake takes a few ms. */
    private static final Duration HANDSHAKE_TIMEOUT = Duration.ofMillis(500);

    /** What a hostile peer sends, after which it only reads. */
    enum Garbage {
        RANDOM_BYTES, PLAINTEXT_HTTP, TRUNCATED_CLIENT_HELLO, CLIENT_HELLO_THEN_SILENCE;

        byte[] bytes(int seed) {
            return switch (this) {
                case RANDOM_BYTES -> {
                    byte[] b = new byte[1024];
                    new Random(seed).nextBytes(b);
                    yield b;
                }
                case PLAINTEXT_HTTP -> "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
                case TRUNCATED_CLIENT_HELLO -> Arrays.copyOf(Fixture.clientHello(), Fixture.clientHello().length / 2);
                case CLIENT_HELLO_THEN_SILENCE -> Fixture.clientHello();
            };
        }
    }

    private static EchoServer tlsServer() throws IOException {
        return Fixture.startTls(HANDSHAKE_TIMEOUT);
    }

    @ParameterizedTest
    @EnumSource(Garbage.class)
    void garbageOnTheTlsPortIsClosedQuietlyAndProperClientsAreServed(Garbage garbage) throws Exception {
        try (LogCapture log = new LogCapture(); EchoServer server = tlsServer()) {
            int fds = server.warmUpAndCountFds();
            int[] ends = new int[2]; // end of stream, reset
            List<SocketChannel> peers = new ArrayList<>();
            try {
                for (int i = 0; i < PEERS; i++) {
                    SocketChannel peer = SocketChannel.open(server.address);
                    peers.add(peer);
                    ByteBuffer bytes = ByteBuffer.wrap(garbage.bytes(i));
                    while (bytes.hasRemaining()) {
                        peer.write(bytes);
                    }
                }
                // A proper client meanwhile: the garbage does not hold it up.
                Fixture.assertTlsEcho(server.address, 16 * 1024);
                for (SocketChannel peer : peers) {
                    ends[readUntilTheServerCloses(peer)]++;
                }
            } finally {
                for (SocketChannel peer : peers) {
                    peer.close();
                }
            }

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("TlsHostilePeersTest %s: %d peers closed by the server (%d end of stream, %d reset), "
                    + "fds %d -> %d%n", garbage, PEERS, ends[0], ends[1], fds, fdsAfter);
        }
    }

    @Test
    void resetsInTheMiddleOfTheHandshakeAreQuietAndLeaveNothingBehind() throws Exception {
        try (LogCapture log = new LogCapture(); EchoServer server = tlsServer()) {
            int fds = server.warmUpAndCountFds();
            byte[] hello = Fixture.clientHello();
            for (int i = 0; i < RESETS; i++) {
                try (SocketChannel peer = SocketChannel.open(server.address)) {
                    peer.setOption(StandardSocketOptions.SO_LINGER, 0);
                    peer.write(ByteBuffer.wrap(hello));
                    // The server's first flight starts arriving: it is in the middle of the handshake.
                    ByteBuffer first = ByteBuffer.allocate(1);
                    assertEquals(1, peer.read(first), "connection " + i + ": the server answered the ClientHello");
                    assertEquals(0x16, first.get(0), "connection " + i + ": a TLS handshake record");
                } // SO_LINGER 0: RST
            }

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("TlsHostilePeersTest: %d resets mid-handshake, fds %d -> %d%n", RESETS, fds, fdsAfter);
        }
    }

    @Test
    void handshakesTrickledAByteAtATimeDoNotHoldUpProperClientsAndAreUnderstood() throws Exception {
        EchoServer patient = Fixture.startTls(Fixture.TIMEOUT);
        try (LogCapture log = new LogCapture(); EchoServer server = patient) {
            int fds = server.warmUpAndCountFds();
            byte[] hello = Fixture.clientHello();
            List<SocketChannel> slow = new ArrayList<>();
            int roundsWhileNormal;
            try {
                for (int i = 0; i < TRICKLING; i++) {
                    SocketChannel c = SocketChannel.open(server.address);
                    slow.add(c);
                    c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    c.configureBlocking(false);
                    if (slow.size() % 100 == 0) { // below even Tornado's backlog of 128
                        int expected = slow.size() + 1;
                        Fixture.await("the server to accept " + slow.size() + " connections",
                                () -> server.stats().handlers() >= expected);
                    }
                }
                int round = 0;
                trickle(slow, hello[round++]);
                List<CompletableFuture<Void>> proper = new ArrayList<>();
                for (int i = 0; i < PROPER; i++) {
                    proper.add(CompletableFuture.runAsync(() -> {
                        try {
                            Fixture.assertTlsEcho(server.address, 16 * 1024);
                        } catch (Exception e) {
                            throw new AssertionError(e);
                        }
                    }, Fixture.THREADS));
                }
                CompletableFuture<Void> allProper = CompletableFuture.allOf(proper.toArray(CompletableFuture[]::new));
                // Trickle on while they run, but keep each ClientHello's last byte back: the proper clients must
                // finish while all the trickled handshakes are still incomplete, however slow this machine is.
                while (!allProper.isDone() && round < hello.length - 1) {
                    trickle(slow, hello[round++]);
                }
                roundsWhileNormal = round - 1;
                allProper.get(Fixture.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                while (round < hello.length) {
                    trickle(slow, hello[round++]);
                }
                // Each trickled ClientHello was understood: the server answers with its handshake, not an alert.
                for (int i = 0; i < slow.size(); i++) {
                    SocketChannel c = slow.get(i);
                    c.configureBlocking(true);
                    c.socket().setSoTimeout((int) Fixture.TIMEOUT.toMillis());
                    ByteBuffer first = ByteBuffer.allocate(1);
                    assertEquals(1, c.socket().getInputStream().read(first.array()), "connection " + i + ": an answer");
                    assertEquals(0x16, first.get(0), "connection " + i + ": a handshake record (0x15 is an alert)");
                }
            } finally {
                for (SocketChannel c : slow) {
                    c.close();
                }
            }

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("TlsHostilePeersTest: %d ClientHellos trickled a byte at a time (%d bytes each; %d bytes in "
                    + "while %d proper clients echoed 16 KiB), every one answered; fds %d -> %d%n",
                    TRICKLING, hello.length, roundsWhileNormal, PROPER, fds, fdsAfter);
        }
    }

    /** Every connection sends {@code b}. */
    private static void trickle(List<SocketChannel> slow, byte b) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        for (int i = 0; i < slow.size(); i++) {
            one.clear();
            one.put(0, b);
            assertEquals(1, slow.get(i).write(one), "trickling connection " + i + " could not send a byte");
        }
    }

    /**
     * Reads from {@code peer} (blocking) until the server closes it: 0 for an end of stream, 1 for a reset.
     * What the server sent first (a TLS alert, or its handshake flight) is skipped.
     */
    private static int readUntilTheServerCloses(SocketChannel peer) throws IOException {
        peer.socket().setSoTimeout((int) Fixture.TIMEOUT.toMillis());
        InputStream in = peer.socket().getInputStream();
        try {
            while (in.read(new byte[4096]) >= 0) {
                // what the server said before closing
            }
            return 0;
        } catch (SocketException reset) {
            return 1;
        }
    }
}
