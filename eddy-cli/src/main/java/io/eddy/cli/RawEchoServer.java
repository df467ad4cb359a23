package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.tcp.ServerOptions;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * The echo server of the reference document's demo ({@code reference/seed-ioloop.md}, "Demo echo
 * server"), written against Eddy's {@link IOLoop} the way the demo is written against Tornado's: a
 * non-blocking listening socket with a raw handler, a message queue per connection, and each
 * connection's registration switched READ → WRITE → READ. The comments quote the lines of the demo
 * that each part stands for.
 *
 * <p>It prints what it accepts, receives, sends and closes, as the demo does, to the {@code log}
 * given to {@link #bind}; data is printed escaped and truncated.
 *
 * <p>Threads: {@link #bind} and {@link #close} on the loop thread, or on any thread while the loop is
 * not running (the rule of {@link IOLoop#addHandler}); {@link #address} on any thread. The handlers,
 * and so every line printed, run on the loop thread.
 */
public final class RawEchoServer implements AutoCloseable {

    // s.recv(1024): larger, so that a message of a few KB is usually one read and one send.
    private static final int READ_BUFFER_SIZE = 16 * 1024;

    /** How long accepting pauses after a failed accept (out of file descriptors, say). */
    static final Duration ACCEPT_PAUSE = Duration.ofMillis(100);

    /** Received and sent data is printed up to this many bytes, then elided. */
    private static final int PRINTED_BYTES = 64;

    private final IOLoop loop;
    private final ServerSocketChannel server;
    private final InetSocketAddress address;
    private final PrintStream log;

    // message_queue_map = {}: each connection's data waiting to be echoed. The demo's fd_map is not
    // needed: an Eddy handler is given the channel itself, not a file descriptor.
    private final Map<SocketChannel, ArrayDeque<ByteBuffer>> messageQueues = new HashMap<>();

    /** Accepting failed and has not worked since: the failure was printed once. */
    private boolean acceptFailing;

    // One read buffer for every connection: handlers run one at a time, on the loop thread.
    // Each read is copied out of it into the connection's queue.
    private final ByteBuffer readBuffer = ByteBuffer.allocate(READ_BUFFER_SIZE);

    private RawEchoServer(IOLoop loop, ServerSocketChannel server, PrintStream log) throws IOException {
        this.loop = loop;
        this.server = server;
        this.address = (InetSocketAddress) server.getLocalAddress();
        this.log = log;
    }

    /**
     * Listens on {@code host:port} (port 0: any free port, see {@link #address()}) and serves every
     * connection on {@code loop}. Loop thread, or any thread while the loop is not running.
     *
     * @param log where to print what the server does; null for nothing
     * @throws IOException if the address cannot be resolved or bound (e.g. {@link java.net.BindException}
     *                     when the port is in use)
     */
    public static RawEchoServer bind(IOLoop loop, String host, int port, PrintStream log) throws IOException {
        return bind(loop, host, port, ServerOptions.DEFAULT_BACKLOG, log);
    }

    /**
     * As {@link #bind(IOLoop, String, int, PrintStream)}, with the listening socket's backlog (positive; the
     * kernel caps it at its maximum).
     */
    public static RawEchoServer bind(IOLoop loop, String host, int port, int backlog, PrintStream log)
            throws IOException {
        if (backlog < 1) {
            throw new IllegalArgumentException("backlog must be positive: " + backlog);
        }
        // sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM); sock.setblocking(0)
        ServerSocketChannel server = ServerSocketChannel.open();
        try {
            server.configureBlocking(false);
            // server_address = ("localhost", 10000); sock.bind(server_address); sock.listen(5)
            InetSocketAddress serverAddress = new InetSocketAddress(host, port);
            if (serverAddress.isUnresolved()) {
                throw new UnknownHostException(host);
            }
            // sock.listen(5): a backlog of 5 refuses or delays connections as soon as more than five
            // arrive between two accepts, and an overflowing queue can lose data (see ServerOptions).
            server.bind(serverAddress, backlog);
            RawEchoServer echo = new RawEchoServer(loop, server, log);
            // ioloop.add_handler(fd, handle_server, IOLoop.READ)
            loop.addHandler(server, echo::handleServer, IOLoop.READ);
            return echo;
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /**
     * The bytes received and not yet echoed, over all connections: what the server holds for peers that
     * do not read. Each connection holds at most one read's worth (it reads again only once its queue is
     * empty). Loop thread, or any thread while the loop is not running.
     */
    public long queuedBytes() {
        long n = 0;
        for (ArrayDeque<ByteBuffer> queue : messageQueues.values()) {
            for (ByteBuffer b : queue) {
                n += b.remaining();
            }
        }
        return n;
    }

    /** The address the server listens on, with the real port. Any thread. */
    public InetSocketAddress address() {
        return address;
    }

    // def handle_server(fd, event): READ on a listening channel means a connection can be accepted.
    private void handleServer(ServerSocketChannel s, int events) throws IOException {
        // conn, cli_addr = s.accept()
        SocketChannel conn;
        try {
            conn = s.accept();
        } catch (IOException e) {
            // Not in the demo, which would spin here: out of file descriptors, the connection stays in the
            // backlog and READ fires again at once. Pause accepting for a while; open connections go on.
            pauseAccepting(e);
            return;
        }
        acceptFailing = false;
        if (conn == null) {
            return; // readiness is a hint: the connection went away before the accept
        }
        String cliAddr = format((InetSocketAddress) conn.getRemoteAddress());
        // print "connection %s" % cli_addr[0]
        if (log != null) {
            log.println("connection " + cliAddr);
        }
        // conn.setblocking(0); handle = partial(handle_client, cli_addr[0])
        // ioloop.add_handler(conn_fd, handle, IOLoop.READ)   (addHandler makes the channel non-blocking)
        loop.addHandler(conn, (client, ev) -> handleClient(cliAddr, client, ev), IOLoop.READ);
        // message_queue_map[conn] = Queue.Queue()
        messageQueues.put(conn, new ArrayDeque<>());
    }

    /** Stops watching the listening socket for {@link #ACCEPT_PAUSE}, printing why once until an accept works again. */
    private void pauseAccepting(IOException e) {
        loop.updateHandler(server, IOLoop.NONE);
        loop.callLater(ACCEPT_PAUSE, () -> {
            if (server.isOpen()) {
                loop.updateHandler(server, IOLoop.READ);
            }
        });
        if (log != null && !acceptFailing) {
            log.println("accept failed: " + e.getMessage() + "; retrying every " + ACCEPT_PAUSE.toMillis() + " ms");
        }
        acceptFailing = true;
    }

    // def handle_client(cli_addr, fd, event)
    private void handleClient(String cliAddr, SocketChannel s, int events) throws IOException {
        ArrayDeque<ByteBuffer> queue = messageQueues.get(s);
        try {
            // if event & IOLoop.READ:
            if ((events & IOLoop.READ) != 0) {
                // data = s.recv(1024)
                readBuffer.clear();
                int n = s.read(readBuffer);
                if (n > 0) {
                    ByteBuffer data = ByteBuffer.allocate(n).put(readBuffer.flip()).flip();
                    // print "received '%s' from %s" % (data, cli_addr)
                    if (log != null) {
                        log.println("received " + quote(data) + " from " + cliAddr);
                    }
                    // switch to WRITE to send the data back; message_queue_map[s].put(data)
                    loop.updateHandler(s, IOLoop.WRITE);
                    queue.add(data);
                } else if (n < 0) {
                    // recv returned '' (end of stream): print "closing %s" % cli_addr
                    if (log != null) {
                        log.println("closing " + cliAddr);
                    }
                    // ioloop.remove_handler(fd); s.close(); del message_queue_map[s]
                    closeClient(s);
                    return;
                }
                // n == 0: readiness was a hint and there was nothing to read after all.
            }
            // if event & IOLoop.WRITE:
            if ((events & IOLoop.WRITE) != 0) {
                // next_msg = message_queue_map[s].get_nowait()
                ByteBuffer nextMsg = queue.peek();
                if (nextMsg == null) {
                    // except Queue.Empty: print "%s queue empty" % cli_addr
                    if (log != null) {
                        log.println(cliAddr + " queue empty");
                    }
                    // ioloop.update_handler(fd, IOLoop.READ)
                    loop.updateHandler(s, IOLoop.READ);
                } else {
                    // s.send(next_msg), which may send only part of it: the rest stays at the head of the
                    // queue for the next WRITE event (the demo drops it).
                    int start = nextMsg.position();
                    int sent = s.write(nextMsg);
                    // print 'sending "%s" to %s' % (next_msg, cli_addr)
                    if (log != null) {
                        log.println("sending " + quote(nextMsg.slice(start, sent)) + " to " + cliAddr);
                    }
                    if (!nextMsg.hasRemaining()) {
                        queue.remove();
                    }
                }
            }
            // if event & IOLoop.ERROR: print "exception on %s" % cli_addr. The epoll backend reports a reset
            // or hang-up as ERROR (usually with READ or WRITE, whose read or write throws first, below).
            if ((events & IOLoop.ERROR) != 0 && s.isOpen()) {
                if (log != null) {
                    log.println("exception on " + cliAddr);
                }
                // ioloop.remove_handler(fd); s.close(); del message_queue_map[s]
                closeClient(s);
            }
        } catch (IOException e) {
            // java.nio never reports ERROR: a reset or error shows as READ or WRITE, whose read or write
            // throws. print "exception on %s" % cli_addr
            if (log != null) {
                log.println("exception on " + cliAddr + ": " + e.getMessage());
            }
            // ioloop.remove_handler(fd); s.close(); del message_queue_map[s]
            closeClient(s);
        }
    }

    private void closeClient(SocketChannel s) throws IOException {
        loop.removeHandler(s);
        messageQueues.remove(s);
        s.close();
    }

    /**
     * Stops listening and closes every connection, dropping the data not echoed yet. Loop thread, or any
     * thread while the loop is not running.
     */
    @Override
    public void close() throws IOException {
        loop.removeHandler(server);
        server.close();
        for (SocketChannel s : messageQueues.keySet()) {
            loop.removeHandler(s);
            s.close();
        }
        messageQueues.clear();
    }

    /** {@code HOST:PORT} with the numeric host ({@code [HOST]:PORT} for IPv6). */
    static String format(InetSocketAddress address) {
        String host = address.getAddress() != null ? address.getAddress().getHostAddress() : address.getHostString();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    /**
     * The bytes between {@code data}'s position and limit as a double-quoted, escaped ASCII string,
     * cut after {@value #PRINTED_BYTES} bytes with the total size: {@code "a\n\x00"} or
     * {@code "aaaa"... (4096 bytes)}.
     */
    static String quote(ByteBuffer data) {
        int size = data.remaining();
        StringBuilder s = new StringBuilder(Math.min(size, PRINTED_BYTES) + 24).append('"');
        for (int i = 0; i < Math.min(size, PRINTED_BYTES); i++) {
            int b = data.get(data.position() + i) & 0xff;
            switch (b) {
                case '"', '\\' -> s.append('\\').append((char) b);
                case '\n' -> s.append("\\n");
                case '\r' -> s.append("\\r");
                case '\t' -> s.append("\\t");
                default -> {
                    if (b >= 0x20 && b < 0x7f) {
                        s.append((char) b);
                    } else {
                        s.append("\\x").append(HexFormat.of().toHexDigits((byte) b));
                    }
                }
            }
        }
        s.append('"');
        if (size > PRINTED_BYTES) {
            s.append("... (").append(size).append(" bytes)");
        }
        return s.toString();
    }
}
