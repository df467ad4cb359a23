package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TCPServerTest {

    private final List<Runnable> cleanup = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        Collections.reverse(cleanup);
        cleanup.forEach(Runnable::run);
        IOLoop.clearCurrent();
    }

    /** Echoes what it reads; the next read waits until the last write reached the kernel (flow control). */
    static void echo(IOStream stream) {
        stream.readBytes(64 * 1024, true).whenComplete((data, error) -> {
            if (error != null) {
                stream.close();
                return;
            }
            stream.write(data).thenRun(() -> echo(stream));
        });
    }

    /** A loop running on its own thread with a server listening on 127.0.0.1:0; stopped after the test. */
    private TCPServer serve(IOLoop loop, StreamHandler handler) throws Exception {
        ServingLoop serving = new ServingLoop(loop, new TCPServer(handler), "server-loop");
        cleanup.add(serving::close);
        return serving.server;
    }

    private static Socket connect(InetSocketAddress address) throws IOException {
        Socket socket = new Socket();
        socket.connect(address, 10_000);
        socket.setSoTimeout(10_000);
        return socket;
    }

    @Test
    void echoesAMegabyteMessageAndAHundredThousandSmallOnesByteForByte() throws Exception {
        IOLoop loop = IOLoop.create();
        TCPServer server = serve(loop, (stream, address) -> {
            echo(stream);
            return null;
        });
        InetSocketAddress address = server.addresses().get(0);
        byte[] big = new byte[1 << 20];
        new Random(1).nextBytes(big);
        try (Socket socket = connect(address)) {
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            Thread writer = Thread.ofPlatform().start(() -> {
                try {
                    out.write(big);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            assertArrayEquals(big, in.readNBytes(big.length));
            writer.join(10_000);

            byte[] small = new byte[100_000 * 8];
            for (int i = 0; i < 100_000; i++) {
                byte[] msg = String.format("%07d\n", i).getBytes();
                System.arraycopy(msg, 0, small, i * 8, 8);
            }
            Thread smallWriter = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 100_000; i++) {
                        out.write(small, i * 8, 8);
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            assertArrayEquals(small, in.readNBytes(small.length));
            smallWriter.join(10_000);
        }
    }

    @Test
    void aFailingHandlerIsReportedAndTheServerGoesOn() throws Exception {
        List<Throwable> reported = Collections.synchronizedList(new ArrayList<>());
        IOLoop loop = IOLoop.builder().exceptionHandler(reported::add).build();
        int[] calls = {0};
        TCPServer server = serve(loop, (stream, address) -> {
            if (calls[0]++ == 0) {
                stream.close();
                throw new IOException("handler failed on purpose");
            }
            echo(stream);
            return null;
        });
        InetSocketAddress address = server.addresses().get(0);
        try (Socket first = connect(address)) {
            assertEquals(-1, first.getInputStream().read());
        }
        try (Socket second = connect(address)) {
            second.getOutputStream().write("still here".getBytes());
            assertEquals("still here", new String(second.getInputStream().readNBytes(10)));
        }
        assertEquals("handler failed on purpose", loop.submit(() -> reported.get(0).getMessage()).get(10, TimeUnit.SECONDS));
    }

    @Test
    void aHandlerThatThrowsHasItsStreamClosedWithTheCause() throws Exception {
        CompletableFuture<Throwable> reported = new CompletableFuture<>();
        CompletableFuture<IOStream> served = new CompletableFuture<>();
        IOLoop loop = IOLoop.builder().exceptionHandler(reported::complete).build();
        TCPServer server = serve(loop, (stream, address) -> {
            served.complete(stream);
            throw new IOException("handler failed before reading");
        });
        try (Socket socket = connect(server.addresses().get(0))) {
            assertEquals(-1, socket.getInputStream().read(), "the server closed the connection");
        }
        assertEquals("handler failed before reading", reported.get(10, TimeUnit.SECONDS).getMessage());
        IOStream stream = served.get(10, TimeUnit.SECONDS);
        assertTrue(loop.submit(stream::closed).get(10, TimeUnit.SECONDS));
        assertEquals("handler failed before reading", loop.submit(() -> stream.error().getMessage()).get(10, TimeUnit.SECONDS));
    }

    @Test
    void aFailedStageFromTheHandlerIsReported() throws Exception {
        CompletableFuture<Throwable> reported = new CompletableFuture<>();
        IOLoop loop = IOLoop.builder().exceptionHandler(reported::complete).build();
        TCPServer server = serve(loop, (stream, address) -> {
            stream.close();
            return CompletableFuture.failedFuture(new IllegalStateException("stage failed"));
        });
        try (Socket socket = connect(server.addresses().get(0))) {
            assertEquals(-1, socket.getInputStream().read());
        }
        assertEquals("stage failed", reported.get(10, TimeUnit.SECONDS).getMessage());
    }

    @Test
    void stopClosesTheListeningSocketsAndOpenConnectionsGoOn() throws Exception {
        IOLoop loop = IOLoop.create();
        TCPServer server = serve(loop, (stream, address) -> {
            echo(stream);
            return null;
        });
        InetSocketAddress address = server.addresses().get(0);
        try (Socket open = connect(address)) {
            open.getOutputStream().write("a".getBytes());
            assertEquals('a', open.getInputStream().read());
            loop.submit(() -> {
                server.stop();
                server.stop(); // idempotent
                return null;
            }).get(10, TimeUnit.SECONDS);
            // The JDK releases a closed listening socket at the loop's next poll: one more iteration.
            loop.submit(() -> null).get(10, TimeUnit.SECONDS);
            assertThrows(IOException.class, () -> connect(address).close());
            open.getOutputStream().write("b".getBytes());
            assertEquals('b', open.getInputStream().read(), "the open connection still echoes");
        }
        assertThrows(IllegalStateException.class, () -> server.bind(0, "127.0.0.1"));
    }

    @Test
    void aStoppedServersLoopRunsOnWhileAConnectionThatStartedTlsIsOpen() throws Exception {
        io.eddy.iostream.TestCertificates certificates = io.eddy.iostream.TestCertificates.get();
        javax.net.ssl.SSLContext serverTls = certificates.serverContext("TLSv1.3");
        CompletableFuture<IOLoop> serverLoop = new CompletableFuture<>();
        CompletableFuture<Void> plainClosed = new CompletableFuture<>();
        TCPServer server = new TCPServer((stream, address) -> {
            serverLoop.complete(IOLoop.current());
            stream.readUntil("\n".getBytes()).thenAccept(line -> {
                if (new String(line).equals("tls\n")) {
                    stream.startTls(true, serverTls, null).thenAccept(TCPServerTest::echo);
                } else {
                    stream.setCloseCallback(() -> plainClosed.complete(null));
                    echo(stream);
                }
            });
            return null;
        });
        server.bind(0, "127.0.0.1");
        server.start(1);
        cleanup.add(server::stop);
        InetSocketAddress address = server.addresses().get(0);
        try (Socket plain = connect(address); Socket raw = connect(address)) {
            raw.getOutputStream().write("tls\n".getBytes());
            javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) certificates.clientContext("TLSv1.3").getSocketFactory()
                    .createSocket(raw, "localhost", address.getPort(), true);
            tls.getOutputStream().write('x');
            assertEquals('x', tls.getInputStream().read(), "echoed over TLS");
            plain.getOutputStream().write("plain\n".getBytes());
            plain.close();
            plainClosed.get(10, TimeUnit.SECONDS);

            server.stop(); // the loop stops once its open connections are gone: the TLS one is still open
            IOLoop loop = serverLoop.get(10, TimeUnit.SECONDS);
            loop.submit(() -> null).get(10, TimeUnit.SECONDS); // after stop's check of the open connections
            tls.getOutputStream().write('y');
            assertEquals('y', tls.getInputStream().read(), "the connection handed over to TLS still echoes");
            assertTrue(loop.isRunning());
            tls.close();
        }
    }

    @Test
    void startRunsOneLoopPerThreadSharingThePort() throws Exception {
        Set<String> threads = Collections.synchronizedSet(new HashSet<>());
        TCPServer server = new TCPServer((stream, address) -> {
            threads.add(Thread.currentThread().getName());
            echo(stream);
            return null;
        }, ServerOptions.defaults().withReusePort(true));
        server.bind(0, "127.0.0.1");
        server.start(2);
        cleanup.add(server::stop);
        List<InetSocketAddress> addresses = server.addresses();
        assertEquals(2, addresses.size(), "one listening socket per loop: " + addresses);
        assertEquals(addresses.get(0).getPort(), addresses.get(1).getPort());
        for (int i = 0; i < 40; i++) {
            try (Socket socket = connect(addresses.get(0))) {
                socket.getOutputStream().write(i);
                assertEquals(i, socket.getInputStream().read());
            }
        }
        assertEquals(Set.of("eddy-tcp-0", "eddy-tcp-1"), threads,
                "40 connections spread by SO_REUSEPORT reach both loops (all on one: odds 2^-39)");
    }

    @Test
    void aTlsServerEchoesAndClosesAPlaintextClientWithoutHarmingOthers() throws Exception {
        io.eddy.iostream.TestCertificates certificates = io.eddy.iostream.TestCertificates.get();
        TCPServer server = new TCPServer((stream, address) -> {
            echo(stream);
            return null;
        }, ServerOptions.defaults().withSslContext(certificates.serverContext("TLS")));
        ServingLoop serving = new ServingLoop(IOLoop.create(), server, "tls-server-loop");
        cleanup.add(serving::close);
        InetSocketAddress address = serving.address();
        javax.net.ssl.SSLSocketFactory factory = certificates.clientContext("TLS").getSocketFactory();
        try (javax.net.ssl.SSLSocket tls = (javax.net.ssl.SSLSocket) factory.createSocket(address.getAddress(), address.getPort())) {
            tls.setSoTimeout(10_000);
            tls.getOutputStream().write("over tls\n".getBytes());
            assertEquals("over tls\n", new String(tls.getInputStream().readNBytes(9)));
            try (Socket plain = connect(address)) {
                plain.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes());
                int first = plain.getInputStream().read(); // a TLS alert, or nothing, then the close
                if (first >= 0) {
                    assertEquals(0x15, first, "a TLS alert record");
                    plain.getInputStream().readAllBytes();
                }
            } catch (java.net.SocketException reset) {
                assertTrue(reset.getMessage() != null);
            }
            tls.getOutputStream().write("still fine\n".getBytes());
            assertEquals("still fine\n", new String(tls.getInputStream().readNBytes(11)));
        }
    }

    @Test
    void aTlsServerClosesAConnectionWhoseHandshakeOutlastsTheHandshakeTimeout() throws Exception {
        io.eddy.iostream.TestCertificates certificates = io.eddy.iostream.TestCertificates.get();
        ServerOptions options = ServerOptions.defaults().withSslContext(certificates.serverContext("TLS"))
                .withHandshakeTimeout(Duration.ofMillis(200));
        assertEquals(Duration.ofSeconds(10), ServerOptions.defaults().handshakeTimeout());
        CompletableFuture<Throwable> error = new CompletableFuture<>();
        TCPServer server = new TCPServer((stream, address) -> {
            stream.setCloseCallback(() -> error.complete(stream.error()));
            return null;
        }, options);
        ServingLoop serving = new ServingLoop(IOLoop.create(), server, "tls-server-loop");
        cleanup.add(serving::close);
        try (Socket silent = connect(serving.address())) {
            silent.setSoTimeout(10_000);
            assertEquals(-1, silent.getInputStream().read(), "the server closes the silent connection");
        }
        Throwable cause = error.get(10, TimeUnit.SECONDS);
        assertInstanceOf(javax.net.ssl.SSLHandshakeException.class, cause);
        assertTrue(cause.getMessage().contains("PT0.2S"), cause.getMessage());
    }

    @Test
    void startWithoutBindAndBadLoopCountsAreRejected() throws Exception {
        TCPServer server = new TCPServer((stream, address) -> null);
        assertThrows(IllegalStateException.class, () -> server.start(1));
        assertThrows(IllegalArgumentException.class, () -> server.start(-1));
        assertThrows(IllegalArgumentException.class, () -> new TCPServer((s, a) -> null, ServerOptions.defaults().withBacklog(0)));
        server.stop();
        assertFalse(server.addresses().iterator().hasNext());
    }
}
