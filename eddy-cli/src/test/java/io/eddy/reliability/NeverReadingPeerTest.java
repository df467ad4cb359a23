package io.eddy.reliability;

import io.eddy.cli.TestTls;
import io.eddy.iostream.IOStream;
import io.eddy.reliability.Fixture.Clients;
import io.eddy.reliability.Fixture.EchoServer;
import io.eddy.reliability.Fixture.Kind;
import io.eddy.reliability.Fixture.LogCapture;
import io.eddy.reliability.Fixture.Max;
import io.eddy.tcp.ServerOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLSocket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A peer that writes and never reads (50 MiB offered). The echo server pushes back: it stops reading the
 * peer while its echo waits for the kernel, so what it holds for that connection (the stream's buffered
 * read and write bytes; the raw server's queue) stays within one read's worth, and the peer's own writes
 * stall long before 50 MiB. Other clients are served meanwhile. Once the peer reads, all 50 MiB come back,
 * every byte checked, the held bytes still bounded.
 */
class NeverReadingPeerTest {

    private static final int OFFERED = 50 << 20;
    private static final int CHUNK = 64 * 1024;
    /** One read's worth: StreamEchoServer reads at most 64 KiB and writes it back before reading again. */
    private static final long STREAM_BOUND = 64 * 1024;
    /** One read's worth: RawEchoServer reads at most 16 KiB and stops reading until it is echoed. */
    private static final long RAW_BOUND = 16 * 1024;
    private static final int SEED = 4242;

    private final List<IOStream> streams = new CopyOnWriteArrayList<>();

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aPeerThatNeverReadsIsHeldToOneReadsWorthAndOthersAreServed(Kind kind) throws Exception {
        try (LogCapture log = new LogCapture();
             EchoServer server = kind == Kind.STREAM ? Fixture.startStream(ServerOptions.defaults(), streams::add) : Fixture.startRaw();
             Clients clients = new Clients()) {
            int fds = server.warmUpAndCountFds();
            streams.clear();
            long bound = kind == Kind.STREAM ? STREAM_BOUND : RAW_BOUND;
            Max held = new Max();
            long sent = 0;
            long received = 0;
            long stalledAt;

            try (SocketChannel hog = SocketChannel.open(server.address); Selector selector = Selector.open()) {
                hog.configureBlocking(false);
                IOStream stream = kind == Kind.STREAM ? awaitHogStream() : null;
                ByteBuffer out = ByteBuffer.allocate(CHUNK).limit(0);

                // 1. Write, never read, until the server pushes back.
                sent = writeUntilPushedBack(hog, out, sent, server, stream, held, bound);
                stalledAt = sent;

                // 2. Others are served while the peer is stalled; the peer, still not reading, stays held.
                clients.echoAll(server.address, 20, 20, 16 * 1024).get(Fixture.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                sent = writeUntilPushedBack(hog, out, sent, server, stream, held, bound);

                // 3. The peer reads: all it offered comes back, in order.
                hog.register(selector, SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                ByteBuffer in = ByteBuffer.allocate(CHUNK);
                long nextSample = 0;
                long deadline = System.nanoTime() + Fixture.TIMEOUT.toNanos();
                while (received < OFFERED) {
                    assertTrue(System.nanoTime() - deadline < 0, "only " + received + " of " + OFFERED + " bytes echoed");
                    selector.select(1_000);
                    selector.selectedKeys().clear();
                    if (sent < OFFERED) {
                        if (!out.hasRemaining()) {
                            fill(out, sent);
                            out.limit((int) Math.min(CHUNK, OFFERED - sent));
                        }
                        sent += hog.write(out);
                        if (sent == OFFERED) {
                            hog.register(selector, SelectionKey.OP_READ);
                        }
                    }
                    in.clear();
                    int n = hog.read(in);
                    assertTrue(n >= 0, "end of stream after " + received + " bytes");
                    for (int i = 0; i < n; i++) {
                        if (in.get(i) != Fixture.patternByte(SEED, received + i)) {
                            throw new AssertionError("echoed byte " + (received + i) + " differs from the one sent");
                        }
                    }
                    received += n;
                    if (received >= nextSample) {
                        assertTrue(held.sample(() -> held(server, stream)) <= bound, "held " + held.get());
                        nextSample += 1 << 20;
                    }
                }
            }

            clients.assertNoUncaughtExceptions();
            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("NeverReadingPeerTest %s: the peer stalled after sending %d bytes; at most %d bytes held "
                    + "by the server (bound %d); %d bytes echoed in the end; fds %d -> %d%n",
                    kind, stalledAt, held.get(), bound, received, fds, fdsAfter);
        }
    }

    @Test
    void aTlsPeerThatNeverReadsIsHeldToOneReadsWorthAndOthersAreServed() throws Exception {
        try (LogCapture log = new LogCapture();
             EchoServer server = Fixture.startStream(ServerOptions.defaults().withSslContext(TestTls.serverContext()), streams::add)) {
            int fds = server.warmUpAndCountFds();
            streams.clear();
            Max held = new Max();
            long received = 0;
            long stalledAt;
            try (SSLSocket hog = (SSLSocket) TestTls.clientTrustingAnyServer().getSocketFactory().createSocket()) {
                hog.connect(server.address, (int) Fixture.TIMEOUT.toMillis());
                hog.setSoTimeout((int) Fixture.TIMEOUT.toMillis());
                hog.startHandshake();
                IOStream stream = awaitHogStream();
                AtomicLong sent = new AtomicLong();
                // A blocking TLS writer on its own thread: it stalls inside write() once the server pushes back.
                CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                    ByteBuffer out = ByteBuffer.allocate(CHUNK);
                    try {
                        while (sent.get() < OFFERED) {
                            fill(out, sent.get());
                            int n = (int) Math.min(CHUNK, OFFERED - sent.get());
                            hog.getOutputStream().write(out.array(), 0, n);
                            sent.addAndGet(n);
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }, Fixture.THREADS);

                // 1. The server pushes back (waits for the kernel to take its echo, does not read the peer).
                Fixture.await("the server to push back", () -> sent.get() > 0 && pushingBack(server, stream));
                assertTrue(held.sample(() -> held(server, stream)) <= STREAM_BOUND, "held " + held.get());
                // 2. Others are served meanwhile; the peer stays held and its writer stalled.
                for (int i = 0; i < 20; i++) {
                    Fixture.assertTlsEcho(server.address, 16 * 1024);
                }
                assertTrue(held.sample(() -> held(server, stream)) <= STREAM_BOUND, "held " + held.get());
                stalledAt = sent.get();
                assertTrue(stalledAt < OFFERED && !writer.isDone(), "the server took all " + OFFERED + " bytes");

                // 3. The peer reads: all it offered comes back, in order.
                byte[] in = new byte[CHUNK];
                long nextSample = 0;
                while (received < OFFERED) {
                    int n = hog.getInputStream().read(in);
                    assertTrue(n >= 0, "end of stream after " + received + " bytes");
                    for (int i = 0; i < n; i++) {
                        if (in[i] != Fixture.patternByte(SEED, received + i)) {
                            throw new AssertionError("echoed byte " + (received + i) + " differs from the one sent");
                        }
                    }
                    received += n;
                    if (received >= nextSample) {
                        assertTrue(held.sample(() -> held(server, stream)) <= STREAM_BOUND, "held " + held.get());
                        nextSample += 1 << 20;
                    }
                }
                writer.get(Fixture.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            }

            int fdsAfter = server.assertUnharmed(fds, log);
            System.out.printf("NeverReadingPeerTest TLS: the peer's writer stalled with %d bytes taken; at most %d bytes "
                    + "held by the server's stream (bound %d); %d bytes echoed in the end; fds %d -> %d%n",
                    stalledAt, held.get(), STREAM_BOUND, received, fds, fdsAfter);
        }
    }

    /**
     * Writes the pattern from offset {@code sent} without reading until the kernel refuses more while the
     * server pushes back, sampling what the server holds each time a write is refused; returns the new
     * offset. Fails if the server takes all it is offered or holds more than {@code bound}.
     */
    private static long writeUntilPushedBack(SocketChannel hog, ByteBuffer out, long sent, EchoServer server,
                                             IOStream stream, Max held, long bound) throws IOException {
        long deadline = System.nanoTime() + Fixture.TIMEOUT.toNanos();
        while (true) {
            if (!out.hasRemaining()) {
                fill(out, sent);
            }
            int n = hog.write(out);
            sent += n;
            assertTrue(sent < OFFERED, "the server took all " + OFFERED + " bytes from a peer that never reads");
            if (n == 0) {
                assertTrue(held.sample(() -> held(server, stream)) <= bound,
                        "the server holds " + held.get() + " bytes for the peer, more than " + bound);
                if (pushingBack(server, stream)) {
                    int more = hog.write(out); // and the kernel still refuses
                    sent += more;
                    if (more == 0) {
                        return sent;
                    }
                }
                assertTrue(System.nanoTime() - deadline < 0, "no back-pressure within " + Fixture.TIMEOUT);
            }
        }
    }

    private IOStream awaitHogStream() {
        Fixture.await("the server to accept the peer", () -> !streams.isEmpty());
        return streams.getFirst();
    }

    /** Fills {@code out} with the pattern from offset {@code from}. */
    private static void fill(ByteBuffer out, long from) {
        out.clear();
        for (int i = 0; i < out.capacity(); i++) {
            out.put(i, Fixture.patternByte(SEED, from + i));
        }
    }

    /** What the server holds for the peer now (read on its loop thread). */
    private static long held(EchoServer server, IOStream stream) {
        return stream != null
                ? server.onLoop(() -> (long) stream.bufferedReadBytes() + stream.bufferedWriteBytes())
                : server.rawQueuedBytes();
    }

    /**
     * Stream server: true while it waits for the kernel to take its echo and does not read the peer
     * meanwhile (back-pressure). The raw server cannot be asked whether it reads (it stops reading as soon
     * as it has something to echo, and may have handed all of it to the kernel and still be waiting for
     * WRITE): for it, the refused writes and the bound on what it holds say it.
     */
    private static boolean pushingBack(EchoServer server, IOStream stream) {
        return stream == null || server.onLoop(() -> stream.writing() && !stream.reading());
    }
}
