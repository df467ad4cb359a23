package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One loop holds 10,000 concurrent connections open and echoes each of them.
 *
 * <p>The clients run in a child JVM: one thread, one {@link Selector}. A process may have at most
 * {@code ulimit -n} file descriptors open, and this machine's hard limit is 20,000; 10,000 connections
 * need 10,000 descriptors on each side, so both sides in one JVM would need 20,000 plus the JVM's own.
 * Each process needs its 10,000 plus a few. If even that does not fit, the test fails and names the limit.
 */
class ManyConnectionsTest {

    private static final int CONNECTIONS = 10_000;
    /** Connections opened but not yet echoed at most: keeps the accept queue below the backlog. */
    private static final int WINDOW = 500;
    private static final int BACKLOG = 1024;
    /** The descriptors a JVM uses besides the connections (jars, selectors, pipes, the listening socket). */
    private static final int OWN_FDS = 200;
    private static final long TIMEOUT_SECONDS = 60;

    private final List<Runnable> cleanup = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        Collections.reverse(cleanup);
        cleanup.forEach(Runnable::run);
        IOLoop.clearCurrent();
    }

    @Test
    void oneLoopHoldsAndEchoesTenThousandConcurrentConnections() throws Exception {
        String limitProblem = Clients.fdLimitProblem(CONNECTIONS + OWN_FDS, "the server's JVM");
        if (limitProblem != null) {
            fail(limitProblem);
        }

        AtomicInteger accepted = new AtomicInteger();
        AtomicInteger open = new AtomicInteger();
        AtomicInteger peak = new AtomicInteger();
        AtomicInteger closed = new AtomicInteger();
        CompletableFuture<Void> allClosed = new CompletableFuture<>();
        IOLoop loop = IOLoop.create();
        TCPServer server = new TCPServer((stream, address) -> {
            accepted.incrementAndGet();
            peak.accumulateAndGet(open.incrementAndGet(), Math::max);
            stream.setCloseCallback(() -> {
                open.decrementAndGet();
                if (closed.incrementAndGet() == CONNECTIONS) {
                    allClosed.complete(null);
                }
            });
            TCPServerTest.echo(stream);
            return null;
        }, ServerOptions.defaults().withBacklog(BACKLOG));
        ServingLoop serving = new ServingLoop(loop, server, "many-connections-loop");
        cleanup.add(serving::close);
        InetSocketAddress address = serving.address();

        ClientProcess clients = ClientProcess.start(address, CONNECTIONS, WINDOW, TIMEOUT_SECONDS);
        cleanup.add(clients::destroy);

        clients.expect("verified " + CONNECTIONS);
        // Every connection is open on both sides now: the client keeps them until told to close.
        assertEquals(CONNECTIONS, loop.submit(accepted::get).get(10, TimeUnit.SECONDS), "connections accepted");
        assertEquals(CONNECTIONS, loop.submit(open::get).get(10, TimeUnit.SECONDS), "streams open at once on the loop");
        assertTrue(loop.stats().handlers() >= CONNECTIONS, "one handler per stream: " + loop.stats());

        clients.send("close");
        clients.expect("closed");
        assertEquals(0, clients.exitCode(), clients.output());
        allClosed.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertEquals(0, loop.submit(open::get).get(10, TimeUnit.SECONDS), "every stream saw its peer close");
        assertEquals(CONNECTIONS, peak.get());
    }

    /** The child JVM running {@link Clients}, talked to by lines on its stdin and stdout. */
    private record ClientProcess(Process process, BlockingQueue<String> lines, List<String> seen) {

        static ClientProcess start(InetSocketAddress server, int count, int window, long timeoutSeconds) throws IOException {
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            List<String> command = List.of(java.toString(), "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-cp", classpathRoot().toString(), Clients.class.getName(),
                    server.getAddress().getHostAddress(), Integer.toString(server.getPort()),
                    Integer.toString(count), Integer.toString(window), Long.toString(timeoutSeconds));
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            List<String> seen = Collections.synchronizedList(new ArrayList<>());
            Thread.ofPlatform().daemon().name("many-connections-client-output").start(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        seen.add(line);
                        lines.add(line);
                    }
                } catch (IOException e) {
                    seen.add("(reading the client's output failed: " + e + ")");
                } finally {
                    lines.add("EOF");
                }
            });
            return new ClientProcess(process, lines, seen);
        }

        /** The directory the test classes are in: the child needs only {@link Clients} and the JDK. */
        private static Path classpathRoot() {
            String name = Clients.class.getName().replace('.', '/') + ".class";
            URL url = Clients.class.getResource("/" + name);
            if (url == null || !"file".equals(url.getProtocol())) {
                throw new IllegalStateException("cannot find the test classes' directory: " + name + " is at " + url);
            }
            try {
                Path file = Path.of(url.toURI());
                Path root = file;
                for (int i = 0; i < name.split("/").length; i++) {
                    root = root.getParent();
                }
                return root;
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }

        /** Waits for {@code expected} on the child's output; fails with everything it said otherwise. */
        void expect(String expected) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            while (true) {
                String line = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (line == null) {
                    fail("the client process did not say '" + expected + "' within " + TIMEOUT_SECONDS + " s; it said:\n" + output());
                }
                if (line.equals(expected)) {
                    return;
                }
                if (line.equals("EOF") || line.startsWith("FAIL")) {
                    fail("the client process failed before saying '" + expected + "':\n" + output());
                }
            }
        }

        void send(String line) throws IOException {
            OutputStream out = process.getOutputStream();
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        int exitCode() throws InterruptedException {
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                fail("the client process did not exit within " + TIMEOUT_SECONDS + " s:\n" + output());
            }
            return process.exitValue();
        }

        String output() {
            synchronized (seen) {
                return String.join("\n", seen);
            }
        }

        void destroy() {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The clients, in their own JVM: {@code main(host, port, count, window, timeoutSeconds)} opens
     * {@code count} connections (at most {@code window} of them not yet echoed), sends a distinct message
     * on each, checks each echo, says "verified COUNT" with every connection still open, waits for
     * "close" on stdin, closes them all and says "closed". A failure is a line starting with "FAIL" and
     * exit code 1. Uses the JDK only (the child's class path is the test classes' directory).
     */
    static final class Clients {

        private Clients() {
        }

        /** One connection: what it sends and what has come back. */
        private static final class Connection {
            final int index;
            final SocketChannel channel;
            final ByteBuffer out;
            final ByteBuffer in;

            Connection(int index, SocketChannel channel) {
                this.index = index;
                this.channel = channel;
                byte[] message = ("connection " + index + " says " + Integer.toHexString(index * 0x9E3779B1) + "\n")
                        .getBytes(StandardCharsets.US_ASCII);
                this.out = ByteBuffer.wrap(message);
                this.in = ByteBuffer.allocate(message.length);
            }
        }

        public static void main(String[] args) throws Exception {
            PrintStream out = System.out;
            InetSocketAddress server = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
            int count = Integer.parseInt(args[2]);
            int window = Integer.parseInt(args[3]);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[4]));
            String limitProblem = fdLimitProblem(count + OWN_FDS, "the clients' JVM");
            if (limitProblem != null) {
                fail(out, limitProblem);
            }
            Connection[] connections = new Connection[count];
            int opened = 0;
            int verified = 0;
            try (Selector selector = Selector.open()) {
                while (verified < count) {
                    while (opened < count && opened - verified < window) {
                        SocketChannel channel = SocketChannel.open();
                        Connection c = new Connection(opened, channel);
                        connections[opened++] = c;
                        channel.configureBlocking(false);
                        if (channel.connect(server)) {
                            send(c, channel.register(selector, 0, c));
                        } else {
                            channel.register(selector, SelectionKey.OP_CONNECT, c);
                        }
                    }
                    if (System.nanoTime() > deadline) {
                        fail(out, "timed out with " + opened + " connections opened and " + verified + " echoes verified");
                    }
                    selector.select(1000);
                    for (SelectionKey key : selector.selectedKeys()) {
                        Connection c = (Connection) key.attachment();
                        if (key.isConnectable()) {
                            c.channel.finishConnect();
                            send(c, key);
                        } else if (key.isWritable()) {
                            send(c, key);
                        } else if (key.isReadable()) {
                            if (c.channel.read(c.in) < 0) {
                                fail(out, "connection " + c.index + " was closed by the server after "
                                        + c.in.position() + " of " + c.in.capacity() + " echoed bytes");
                            }
                            if (!c.in.hasRemaining()) {
                                if (!Arrays.equals(c.in.array(), c.out.array())) {
                                    fail(out, "connection " + c.index + " sent '" + text(c.out.array())
                                            + "' and got back '" + text(c.in.array()) + "'");
                                }
                                verified++;
                                key.interestOps(0); // stays open, silent
                            }
                        }
                    }
                    selector.selectedKeys().clear();
                }
                out.println("verified " + verified);
                out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                String command = in.readLine();
                if (!"close".equals(command)) {
                    fail(out, "expected 'close' on stdin, got " + command);
                }
                for (Connection c : connections) {
                    c.channel.close();
                }
                out.println("closed");
                out.flush();
            } catch (IOException e) {
                fail(out, "after " + opened + " connections opened and " + verified + " echoes verified: " + e);
            }
        }

        private static void send(Connection c, SelectionKey key) throws IOException {
            c.channel.write(c.out);
            key.interestOps(c.out.hasRemaining() ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
        }

        private static String text(byte[] bytes) {
            return new String(bytes, StandardCharsets.US_ASCII).replace("\n", "\\n");
        }

        private static void fail(PrintStream out, String message) {
            out.println("FAIL " + message);
            out.flush();
            System.exit(1);
        }

        /**
         * Null if this process may open {@code needed} more file descriptors (Linux: /proc/self), or a
         * message naming the open-files limit otherwise. Elsewhere null: running out shows as
         * "Too many open files".
         */
        static String fdLimitProblem(int needed, String who) throws IOException {
            Path limits = Path.of("/proc/self/limits");
            Path fds = Path.of("/proc/self/fd");
            if (!Files.isReadable(limits) || !Files.isDirectory(fds)) {
                return null;
            }
            long soft = -1;
            String hard = "?";
            for (String line : Files.readAllLines(limits)) {
                if (line.startsWith("Max open files")) {
                    String[] f = line.substring("Max open files".length()).trim().split("\\s+");
                    soft = f[0].equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(f[0]);
                    hard = f[1];
                }
            }
            long inUse;
            try (Stream<Path> s = Files.list(fds)) {
                inUse = s.count();
            }
            if (soft >= 0 && inUse + needed > soft) {
                return who + " needs " + needed + " more file descriptors (" + inUse + " in use) but its open-files"
                        + " limit (ulimit -n) is " + soft + " (hard limit " + hard + "): raise it, as .ci/run does"
                        + " with ulimit -n \"$(ulimit -Hn)\"";
            }
            return null;
        }
    }
}
