package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.channels.ServerSocketChannel;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;

import static io.eddy.ioloop.BadInput.assertFails;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad values given to {@link TCPClient} and {@link ConnectOptions}, and a {@link Resolver} that answers
 * nonsense: refused at call time naming the value, or a failed future (never a future left pending),
 * and the client still connects afterwards. (The port and host checks of TCPClientTest are not repeated.)
 */
@org.junit.jupiter.api.Timeout(20)
class TCPClientBadInputTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);

    private IOLoop loop;
    private ServerSocketChannel server; // the kernel completes connects to it; nothing accepts

    @BeforeEach
    void open() throws Exception {
        loop = IOLoop.create();
        server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
    }

    @AfterEach
    void close() throws Exception {
        server.close();
        loop.close(true);
        IOLoop.clearCurrent();
    }

    private int port() throws Exception {
        return ((InetSocketAddress) server.getLocalAddress()).getPort();
    }

    /** Connects with {@code client} on the loop and closes the stream: the client works. */
    private void assertConnects(TCPClient client, ConnectOptions options) throws Exception {
        IOStream stream = loop.runSync(() -> client.connect("127.0.0.1", port(), options), TIMEOUT);
        assertNotNull(stream.remoteAddress(), "connected");
        stream.close();
    }

    /** The failure of the future {@code connect} makes on the loop. */
    private Throwable connectFailure(TCPClient client) {
        return assertThrows(Exception.class, () -> loop.runSync(() -> client.connect("example.test", 80), TIMEOUT));
    }

    @Test
    void negativePortsAreRefusedNamingThem() throws Exception {
        TCPClient client = new TCPClient();
        assertFails(IllegalArgumentException.class, () -> client.connect("127.0.0.1", -1), "-1");
        assertFails(IllegalArgumentException.class, () -> client.connect("127.0.0.1", Integer.MIN_VALUE), "-2147483648");
        assertConnects(client, ConnectOptions.defaults());
    }

    @Test
    void connectingOnAClosedLoopFailsTheFutureInsteadOfThrowing() throws Exception {
        IOLoop closed = IOLoop.create();
        closed.close();
        closed.makeCurrent();
        CompletableFuture<IOStream> f;
        try {
            f = new TCPClient().connect("127.0.0.1", port());
        } finally {
            IOLoop.clearCurrent();
        }
        Throwable e = assertThrows(CompletionException.class, f::join).getCause();
        assertInstanceOf(RejectedExecutionException.class, e);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertConnects(new TCPClient(), ConnectOptions.defaults());
    }

    @Test
    void aHugeTimeoutSaturatesInsteadOfExpiringAtOnce() throws Exception {
        assertConnects(new TCPClient(), ConnectOptions.defaults().withTimeout(Duration.ofSeconds(Long.MAX_VALUE)));
        assertConnects(new TCPClient(), ConnectOptions.defaults().withTimeout(Duration.ofNanos(Long.MAX_VALUE)));
    }

    @Test
    void aResolverAnsweringNullOrThrowingFailsTheFutureNamingTheResolver() throws Exception {
        Throwable nullFuture = connectFailure(new TCPClient((host, port, family) -> null));
        assertInstanceOf(NullPointerException.class, nullFuture);
        assertTrue(nullFuture.getMessage().contains("resolver"), nullFuture.getMessage());

        IllegalStateException broken = new IllegalStateException("resolver broke");
        assertTrue(connectFailure(new TCPClient((host, port, family) -> { throw broken; })) == broken);

        Throwable empty = connectFailure(new TCPClient((host, port, family) -> CompletableFuture.completedFuture(List.of())));
        assertInstanceOf(UnknownHostException.class, empty);
        assertTrue(empty.getMessage().contains("example.test"), empty.getMessage());
    }

    @Test
    void aResolverAnsweringANullAddressFailsTheFutureInsteadOfLeavingItPending() throws Exception {
        Resolver sloppy = (host, port, family) -> CompletableFuture.completedFuture(Arrays.asList((InetSocketAddress) null));
        Throwable e = connectFailure(new TCPClient(sloppy));
        assertInstanceOf(NullPointerException.class, e, "not a TimeoutException: the future must not hang");
        assertTrue(e.getMessage().contains("null address") && e.getMessage().contains("example.test"), e.getMessage());
        assertConnects(new TCPClient(), ConnectOptions.defaults());
    }

    @Test
    void anUnresolvedAddressFromTheResolverFailsThatAttemptNamingIt() {
        InetSocketAddress unresolved = InetSocketAddress.createUnresolved("nowhere.test", 80);
        Throwable e = connectFailure(new TCPClient((host, port, family) -> CompletableFuture.completedFuture(List.of(unresolved))));
        assertInstanceOf(UnknownHostException.class, e);
        assertTrue(e.getMessage().contains("nowhere.test"), e.getMessage());
    }
}
