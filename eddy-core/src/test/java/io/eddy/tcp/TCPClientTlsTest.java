package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import io.eddy.iostream.SSLIOStream;
import io.eddy.iostream.TestCertificates;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** TCPClient with ConnectOptions.sslContext against a TLS TCPServer (SPEC §3, reference §4.6). */
class TCPClientTlsTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);
    private static final TestCertificates CERTS = TestCertificates.get();

    private final List<AutoCloseable> opened = new ArrayList<>();
    private final IOLoop loop = IOLoop.create();

    @AfterEach
    void closeEverything() throws Exception {
        Collections.reverse(opened);
        for (AutoCloseable c : opened) {
            c.close();
        }
        loop.close(true);
        IOLoop.clearCurrent();
    }

    private <T> T run(Callable<? extends CompletionStage<? extends T>> fn) throws Exception {
        return loop.runSync(() -> {
            loop.makeCurrent(); // TCPClient.connect works on the calling thread's current loop
            return fn.call();
        }, TIMEOUT);
    }

    /** An echo TCPServer with TLS on 127.0.0.1, on its own loop thread. */
    private InetSocketAddress tlsEchoServer() throws Exception {
        IOLoop serverLoop = IOLoop.create();
        TCPServer server = new TCPServer((stream, address) -> {
            echo(stream);
            return null;
        }, ServerOptions.defaults().withSslContext(CERTS.serverContext("TLS")));
        serverLoop.makeCurrent();
        server.listen(0, "127.0.0.1");
        IOLoop.clearCurrent();
        Thread thread = serverLoop.startInNewThread("tls-server-loop");
        opened.add(() -> {
            server.stop();
            serverLoop.shutdown().join();
            thread.join(TIMEOUT.toMillis());
        });
        return server.addresses().get(0);
    }

    private static void echo(IOStream stream) {
        stream.readBytes(4096, true).thenCompose(stream::write).whenComplete((v, e) -> {
            if (e == null) {
                echo(stream);
            }
        });
    }

    private static ConnectOptions tls() throws Exception {
        return ConnectOptions.defaults().withSslContext(CERTS.clientContext("TLS"));
    }

    private String echoOnce(IOStream stream, String text) throws Exception {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        return new String(run(() -> stream.write(bytes).thenCompose(v -> stream.readBytes(bytes.length))),
                StandardCharsets.US_ASCII);
    }

    @Test
    void connectsOverTlsByNameAndByAddressAfterCheckingTheCertificate() throws Exception {
        InetSocketAddress server = tlsEchoServer();
        ConnectOptions tls = tls();
        // localhost may resolve to ::1 first, where nothing listens: Happy Eyeballs falls back to 127.0.0.1.
        for (String host : List.of("localhost", "127.0.0.1")) {
            IOStream stream = run(() -> new TCPClient().connect(host, server.getPort(), tls));
            opened.add(stream);
            SSLIOStream secure = assertInstanceOf(SSLIOStream.class, stream);
            assertEquals("TLSv1.3", run(() -> java.util.concurrent.CompletableFuture.completedFuture(
                    secure.session().getProtocol())));
            assertEquals("hello " + host, echoOnce(stream, "hello " + host));
        }
    }

    @Test
    void aHostTheCertificateDoesNotNameFailsWithSslExceptionThoughItResolvesToTheServer() throws Exception {
        InetSocketAddress server = tlsEchoServer();
        TCPClient client = new TCPClient(new OverrideResolver(Resolver.system(), Map.of("wrong.example", "127.0.0.1")));
        ConnectOptions tls = tls();

        SSLException e = assertThrows(SSLException.class,
                () -> run(() -> client.connect("wrong.example", server.getPort(), tls)));

        assertTrue(e.getMessage().contains("wrong.example"), e.getMessage());
    }

    @Test
    void aTimeoutDuringTheHandshakeFailsTheConnectAndClosesTheSocket() throws Exception {
        ServerSocketChannel silent = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        opened.add(silent);
        int port = ((InetSocketAddress) silent.getLocalAddress()).getPort();
        ConnectOptions tls = tls().withTimeout(Duration.ofMillis(300));

        TimeoutException e = assertThrows(TimeoutException.class,
                () -> run(() -> new TCPClient().connect("127.0.0.1", port, tls)));

        assertTrue(e.getMessage().startsWith("connecting to 127.0.0.1:" + port + " timed out"), e.getMessage());
        // The server end got the ClientHello, never answered, and sees the client's socket close.
        SocketChannel accepted = silent.accept();
        opened.add(accepted);
        Socket socket = accepted.socket();
        socket.setSoTimeout((int) TIMEOUT.toMillis());
        // java.nio releases a closed channel's socket at its selector's next poll: let the client loop poll.
        Thread closer = loop.startInNewThread("client-loop");
        opened.add(() -> {
            loop.stop();
            closer.join(TIMEOUT.toMillis());
        });
        byte[] hello = socket.getInputStream().readAllBytes();
        assertTrue(hello.length > 0 && hello[0] == 0x16, "a TLS handshake record, then the end of the stream");
    }

    @Test
    void aHandshakeTimeoutFailsTheConnectWithAnSslHandshakeExceptionSayingSo() throws Exception {
        ServerSocketChannel silent = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        opened.add(silent);
        int port = ((InetSocketAddress) silent.getLocalAddress()).getPort();
        assertEquals(Duration.ofSeconds(10), ConnectOptions.defaults().handshakeTimeout());
        ConnectOptions tls = tls().withHandshakeTimeout(Duration.ofMillis(200));

        SSLHandshakeException e = assertThrows(SSLHandshakeException.class,
                () -> run(() -> new TCPClient().connect("127.0.0.1", port, tls)));

        assertTrue(e.getMessage().contains("PT0.2S"), e.getMessage());
        assertEquals(0, (int) loop.runSync(() -> CompletableFuture.completedFuture(loop.stats().pendingTimeouts())),
                "no timer left behind");
    }

    @Test
    void anAttemptFailingDuringTheWinnersHandshakeDoesNotFailTheConnect() throws Exception {
        InetSocketAddress server = tlsEchoServer();
        InetSocketAddress a1 = new InetSocketAddress("::1", 9);
        InetSocketAddress a2 = new InetSocketAddress("::1", 10);
        CompletableFuture<IOStream> a2Attempt = new CompletableFuture<>();
        Resolver resolver = (host, port, family) -> CompletableFuture.completedFuture(List.of(a1, a2, server));
        Connector connector = (address, options, l) -> {
            if (address.equals(a1)) {
                return CompletableFuture.failedFuture(new java.net.ConnectException("refused (fake)"));
            }
            if (address.equals(a2)) {
                return a2Attempt;
            }
            CompletableFuture<IOStream> real = TCPClient.openStream(address, options, l);
            // Once the real attempt has won (two iterations later), the primary family's last one fails:
            // the TLS handshake of the winner is then under way.
            real.thenRun(() -> l.addCallback(() -> l.addCallback(() ->
                    a2Attempt.completeExceptionally(new java.net.ConnectException("refused later (fake)")))));
            return real;
        };
        ConnectOptions tls = tls();

        IOStream stream = run(() -> new TCPClient(resolver, connector).connect("localhost", server.getPort(), tls));

        opened.add(stream);
        assertInstanceOf(SSLIOStream.class, stream);
        assertEquals("still here", echoOnce(stream, "still here"));
    }
}
