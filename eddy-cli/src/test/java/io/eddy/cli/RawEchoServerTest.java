package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo's echo server on a loop running in another thread, talked to by blocking clients. */
final class RawEchoServerTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int SO_TIMEOUT_MILLIS = 10_000;

    private final IOLoop loop = IOLoop.create();
    private final Lines lines = new Lines();
    private Thread loopThread;

    @AfterEach
    void shutDownTheLoop() throws Exception {
        loop.shutdown().get(5, TimeUnit.SECONDS);
        if (loopThread != null) {
            loopThread.join(TIMEOUT);
            assertFalse(loopThread.isAlive(), "loop thread still running after shutdown");
        }
    }

    /** Binds a server that prints to {@link #lines} and starts the loop in its own thread. */
    private RawEchoServer serve() throws Exception {
        RawEchoServer server = RawEchoServer.bind(loop, "127.0.0.1", 0, lines.printStream());
        loopThread = loop.startInNewThread("echo-loop"); // returns once the loop runs
        return server;
    }

    private static Socket connect(InetSocketAddress server) throws IOException {
        Socket socket = new Socket();
        try {
            socket.connect(server, SO_TIMEOUT_MILLIS);
            socket.setSoTimeout(SO_TIMEOUT_MILLIS);
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    /** The client as the server prints it: its local address. */
    private static String name(Socket socket) {
        return "127.0.0.1:" + socket.getLocalPort();
    }

    private static void assertEchoes(Socket socket, byte[] message) throws IOException {
        OutputStream out = socket.getOutputStream();
        InputStream in = socket.getInputStream();
        out.write(message);
        assertArrayEquals(message, in.readNBytes(message.length));
    }

    private int handlers() throws Exception {
        return loop.submit(loop::stats).get(5, TimeUnit.SECONDS).handlers();
    }

    @Test
    void echoesEveryMessageOfTwentyConcurrentClientsByteForByteAndRemovesThemWhenTheyClose() throws Exception {
        InetSocketAddress address = serve().address();

        BlockingEchoClients.run(address, 20, 1000);

        Set<String> closed = new HashSet<>();
        for (int i = 0; i < 20; i++) {
            closed.add(lines.awaitStartingWith("closing ", TIMEOUT));
        }
        assertEquals(20, closed.size(), "distinct clients closed: " + closed);
        // The closing line is printed by the handler that removes the client; this runs after it.
        assertEquals(1, handlers(), "only the listening channel is left");
    }

    @Test
    void printsConnectionReceivedSendingQueueEmptyAndClosingForAClientThatCloses() throws Exception {
        InetSocketAddress address = serve().address();
        String client;
        try (Socket socket = connect(address)) {
            client = name(socket);
            assertEchoes(socket, "hello\n".getBytes(StandardCharsets.US_ASCII));
        }

        lines.await("connection " + client, TIMEOUT);
        lines.await("received \"hello\\n\" from " + client, TIMEOUT);
        lines.await("sending \"hello\\n\" to " + client, TIMEOUT);
        lines.await(client + " queue empty", TIMEOUT);
        lines.await("closing " + client, TIMEOUT);
        assertEquals(1, handlers(), "the closed client's handler is removed");
    }

    @Test
    void echoesAStreamLargerThanTheSocketBuffersToAClientThatReadsOnlyWhenItCannotWrite() throws Exception {
        InetSocketAddress address = serve().address();
        // 16 MiB: four times the largest send buffer Linux gives a socket by default (tcp_wmem).
        byte[] data = new byte[16 << 20];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7 + (i >> 12));
        }
        ByteBuffer toSend = ByteBuffer.wrap(data);
        ByteBuffer received = ByteBuffer.allocate(data.length);
        try (SocketChannel client = SocketChannel.open(); Selector selector = Selector.open()) {
            client.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
            client.connect(address);
            client.configureBlocking(false);
            SelectionKey key = client.register(selector, SelectionKey.OP_READ | SelectionKey.OP_WRITE);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            // Write whenever possible and read only when not: the echo backs up into the server's send
            // buffer, the server waits on WRITE and stops reading, and the client's writes stall too.
            while (received.hasRemaining()) {
                if (toSend.hasRemaining() && client.write(toSend) > 0) {
                    continue;
                }
                int read = client.read(received);
                assertTrue(read >= 0, "the server closed the connection early");
                if (read == 0) {
                    long left = deadline - System.nanoTime();
                    assertTrue(left > 0, "echoed " + received.position() + " of " + data.length + " bytes in " + TIMEOUT);
                    key.interestOps(toSend.hasRemaining() ? SelectionKey.OP_READ | SelectionKey.OP_WRITE : SelectionKey.OP_READ);
                    selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                    selector.selectedKeys().clear();
                }
            }
            assertArrayEquals(data, received.array());

            client.shutdownOutput();
            lines.await("closing " + RawEchoServer.format((InetSocketAddress) client.getLocalAddress()), TIMEOUT);
        }
        assertEquals(1, handlers());
    }

    @Test
    void printsReceivedDataEscapedAndCutAfter64Bytes() throws Exception {
        InetSocketAddress address = serve().address();
        try (Socket socket = connect(address)) {
            String client = name(socket);
            assertEchoes(socket, new byte[] {'a', '"', 'b', '\\', '\t', '\r', '\n', 0, (byte) 0xff});
            lines.await("received \"a\\\"b\\\\\\t\\r\\n\\x00\\xff\" from " + client, TIMEOUT);

            assertEchoes(socket, "z".repeat(100).getBytes(StandardCharsets.US_ASCII));
            lines.await("received \"" + "z".repeat(64) + "\"... (100 bytes) from " + client, TIMEOUT);
        }
    }

    @Test
    void keepsServingAfterAClientResetsItsConnection() throws Exception {
        InetSocketAddress address = serve().address();
        String reset;
        try (Socket socket = connect(address)) {
            reset = name(socket);
            assertEchoes(socket, "before reset\n".getBytes(StandardCharsets.US_ASCII));
            socket.setSoLinger(true, 0); // close() sends RST
        }
        // nio: the read throws ("exception on HOST:PORT: Connection reset"); epoll: the demo's ERROR branch
        // ("exception on HOST:PORT").
        String line = lines.awaitStartingWith("exception on " + reset, TIMEOUT);
        assertTrue(line.equals("exception on " + reset) || line.startsWith("exception on " + reset + ": "), line);

        String client;
        try (Socket socket = connect(address)) {
            client = name(socket);
            assertEchoes(socket, "after reset\n".getBytes(StandardCharsets.US_ASCII));
        }
        lines.await("closing " + client, TIMEOUT);
        assertEquals(1, handlers(), "both clients are removed");
    }

    @Test
    void closeStopsListeningAndClosesEveryConnection() throws Exception {
        RawEchoServer server = serve();
        try (Socket socket = connect(server.address())) {
            lines.await("connection " + name(socket), TIMEOUT);

            int left = loop.submit(() -> {
                server.close();
                return loop.stats().handlers();
            }).get(5, TimeUnit.SECONDS);

            assertEquals(0, left, "handlers left after close");
            assertEquals(-1, socket.getInputStream().read(), "the connection is closed");
            // The JDK closes a channel that was registered with a Selector only at the Selector's next
            // poll; a callback queued now runs in the next iteration, after that poll.
            loop.submit(() -> null).get(5, TimeUnit.SECONDS);
            assertThrows(ConnectException.class, () -> connect(server.address()).close());
        }
    }

    @Test
    void bindingAPortInUseThrowsBindExceptionAndRegistersNothing() throws Exception {
        InetSocketAddress address = serve().address();

        IOLoop other = IOLoop.create();
        try {
            assertThrows(BindException.class, () -> RawEchoServer.bind(other, "127.0.0.1", address.getPort(), null));
            assertEquals(0, other.stats().handlers());
        } finally {
            other.close(true);
        }
    }
}
