package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.StreamOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static io.eddy.ioloop.BadInput.assertFails;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Bad values given to {@link TCPServer} and {@link ServerOptions}: refused naming the value, nothing left
 * bound or half-registered, and the server still serves an echo client afterwards.
 */
@org.junit.jupiter.api.Timeout(20)
class TCPServerBadInputTest {

    private IOLoop loop;
    private Thread loopThread;
    private TCPServer server;

    @BeforeEach
    void open() {
        loop = IOLoop.create();
        server = new TCPServer((stream, address) -> {
            TCPServerTest.echo(stream);
            return null;
        });
    }

    @AfterEach
    void close() throws InterruptedException {
        server.stop();
        loop.shutdown().join();
        if (loopThread != null) {
            loopThread.join(10_000);
        }
        IOLoop.clearCurrent();
    }

    /** {@code call} with {@link #loop} current on this thread (listen and addSockets use the current loop). */
    private void withLoopCurrent(Executable call) throws Throwable {
        loop.makeCurrent();
        try {
            call.execute();
        } finally {
            IOLoop.clearCurrent();
        }
    }

    /** Starts the loop if needed, then echoes a line through the server's first address. */
    private void assertServes(InetSocketAddress address) throws IOException {
        if (loopThread == null) {
            loopThread = loop.startInNewThread("bad-input-server");
        }
        try (Socket socket = new Socket()) {
            socket.connect(address, 10_000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("ping\n".getBytes(StandardCharsets.ISO_8859_1));
            InputStream in = socket.getInputStream();
            assertEquals("ping\n", new String(in.readNBytes(5), StandardCharsets.ISO_8859_1));
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void nullHandlerOrOptionsAreRefusedNamingThem() {
        assertFails(NullPointerException.class, () -> new TCPServer(null), "handler");
        assertFails(NullPointerException.class, () -> new TCPServer((s, a) -> null, null), "options");
    }

    @Test
    void portsOutOfRangeAreRefusedNamingThemAndTheServerCanStillListen() throws Throwable {
        withLoopCurrent(() -> {
            assertFails(IllegalArgumentException.class, () -> server.listen(-1), "-1");
            assertFails(IllegalArgumentException.class, () -> server.listen(65536, "127.0.0.1"), "65536");
            assertFails(IllegalArgumentException.class, () -> server.bind(Integer.MIN_VALUE, "127.0.0.1"), "-2147483648");
            assertEquals(List.of(), server.addresses());
            server.listen(0, "127.0.0.1");
        });
        assertServes(server.addresses().getFirst());
    }

    @Test
    void serverOptionsRefuseBadValuesNamingThem() {
        ServerOptions d = ServerOptions.defaults();
        assertFails(IllegalArgumentException.class, () -> d.withBacklog(0), "backlog", "0");
        assertFails(IllegalArgumentException.class, () -> d.withBacklog(-1), "backlog", "-1");
        assertFails(NullPointerException.class, () -> d.withStreamOptions(null), "streamOptions");
        assertEquals(Integer.MAX_VALUE, d.withBacklog(Integer.MAX_VALUE).backlog(), "the kernel caps a huge backlog");
        assertEquals(d, d.withSslContext(null).withStreamOptions(StreamOptions.defaults()), "null TLS means plain");
    }

    @Test
    void listenAfterStopIsRefusedAndLeavesThePortFree() throws Throwable {
        int port = freePort();
        server.stop();
        withLoopCurrent(() -> assertFails(IllegalStateException.class, () -> server.listen(port, "127.0.0.1"), "stopped"));
        try (ServerSocketChannel again = ServerSocketChannel.open()) {
            again.bind(new InetSocketAddress("127.0.0.1", port)); // a BindException if the refused listen kept it
        }
        assertEquals(List.of(), server.addresses());
    }

    @Test
    void socketsThatCannotAcceptAreRefusedAndNotListedAsAddresses() throws Throwable {
        try (ServerSocketChannel unbound = ServerSocketChannel.open()) {
            withLoopCurrent(() -> {
                assertFails(NullPointerException.class, () -> server.addSockets(null), "channels");
                assertFails(NullPointerException.class, () -> server.addSockets(Arrays.asList((ServerSocketChannel) null)),
                        "server");
                assertFails(IllegalArgumentException.class, () -> server.addSockets(List.of(unbound)), "not bound");
                assertEquals(List.of(), server.addresses(), "no half-added socket is listed");
                server.listen(0, "127.0.0.1");
            });
        }
        assertEquals(1, server.addresses().size());
        assertServes(server.addresses().getFirst());
    }

    @Test
    void aListOfSocketsWithOneRefusedAddsNoneOfThem() throws Throwable {
        try (ServerSocketChannel good = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             ServerSocketChannel unbound = ServerSocketChannel.open()) {
            withLoopCurrent(() -> assertFails(IllegalArgumentException.class,
                    () -> server.addSockets(List.of(good, unbound)), "not bound"));
            assertEquals(List.of(), server.addresses(), "the good socket is not listed either");
            assertEquals(0, loop.stats().handlers(), "and no accept handler is left on it");
            withLoopCurrent(() -> server.addSockets(List.of(good)));
        }
    }

    @Test
    void aLoopCountNoMachineCouldRunIsRefusedNamingItAndStartStillWorks() throws Exception {
        server.bind(0, "127.0.0.1");
        assertFails(IllegalArgumentException.class, () -> server.start(Integer.MAX_VALUE), "2147483647");
        assertFails(IllegalArgumentException.class, () -> server.start(TCPServer.MAX_LOOPS + 1),
                String.valueOf(TCPServer.MAX_LOOPS + 1));
        server.start(1);
        assertFails(IllegalStateException.class, () -> server.start(1), "already");
        try (Socket socket = new Socket()) {
            socket.connect(server.addresses().getFirst(), 10_000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("pong\n".getBytes(StandardCharsets.ISO_8859_1));
            assertEquals("pong\n", new String(socket.getInputStream().readNBytes(5), StandardCharsets.ISO_8859_1));
        }
    }

    @Test
    void listenOnAClosedLoopIsRefusedAndLeavesThePortFree() throws Throwable {
        int port = freePort();
        IOLoop closed = IOLoop.create();
        closed.close();
        closed.makeCurrent();
        try {
            assertFails(IllegalStateException.class, () -> server.listen(port, "127.0.0.1"), "closed");
        } finally {
            IOLoop.clearCurrent();
        }
        try (ServerSocketChannel again = ServerSocketChannel.open()) {
            again.bind(new InetSocketAddress("127.0.0.1", port)); // a BindException if the refused listen kept it
        }
        assertEquals(List.of(), server.addresses());
        withLoopCurrent(() -> server.listen(0, "127.0.0.1"));
        assertServes(server.addresses().getFirst());
    }
}
