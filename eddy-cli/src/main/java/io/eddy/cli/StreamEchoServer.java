package io.eddy.cli;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;
import io.eddy.tcp.ServerOptions;
import io.eddy.tcp.Sockets;
import io.eddy.tcp.StreamHandler;
import io.eddy.tcp.TCPServer;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;

/**
 * The echo server on {@link IOStream}s: what {@code eddy echo} runs. Each connection reads whatever has
 * arrived (up to 64 KiB), writes it back, and reads again once the write reached the kernel, so a client
 * that does not read back slows down its own sending instead of filling the server's memory.
 *
 * <p>Buffers (libuv's approach): the connections of one loop read into one direct buffer that loop thread
 * owns, each through its own view of it ({@code readInto}), and write from there. The bytes go from the
 * kernel and back without a copy in Java; what the kernel does not take at once is copied by
 * {@code write} into the stream's queue before it returns, so the buffer is free again before any other
 * connection reads. An idle connection holds no buffer.
 *
 * <p>With more than one loop, each loop has its own listening socket on the same port (SO_REUSEPORT)
 * and the kernel spreads the connections over them.
 *
 * <p>Threads: {@link #start} and {@link #shutdown} from the thread that set the server up; the streams
 * run on their loops' threads.
 */
public final class StreamEchoServer {

    private static final int READ_SIZE = 64 * 1024;
    /** Each loop thread's read buffer, shared by its connections (see the class description). */
    private static final ThreadLocal<ByteBuffer> SHARED = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(READ_SIZE));

    private final TCPServer server;
    private final List<IOLoop> loops = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final InetSocketAddress address;

    private StreamEchoServer(TCPServer server, InetSocketAddress address) {
        this.server = server;
        this.address = address;
    }

    /**
     * Listens on {@code host:port} with {@code loopCount} loops, each on its own thread.
     *
     * @param log        where to print connections and closes; null for nothing
     * @param sslContext TLS for every connection, or null for plain TCP
     */
    public static StreamEchoServer start(String host, int port, int loopCount, PrintStream log, SSLContext sslContext)
            throws IOException {
        return start(host, port, loopCount, ServerOptions.DEFAULT_BACKLOG, log, sslContext);
    }

    /**
     * Listens on {@code host:port} with {@code loopCount} loops, each on its own thread, and each listening
     * socket's backlog {@code backlog}.
     *
     * @param log        where to print connections and closes; null for nothing
     * @param sslContext TLS for every connection, or null for plain TCP
     */
    public static StreamEchoServer start(String host, int port, int loopCount, int backlog, PrintStream log,
                                         SSLContext sslContext) throws IOException {
        TCPServer server = new TCPServer(handler(log), ServerOptions.defaults()
                .withBacklog(backlog).withReusePort(loopCount > 1).withSslContext(sslContext));
        StreamEchoServer echo = null;
        try {
            for (int i = 0; i < loopCount; i++) {
                IOLoop loop = IOLoop.create();
                // Port 0 picks a free port once; the other loops' sockets join it.
                int bindPort = echo == null ? port : echo.address.getPort();
                List<ServerSocketChannel> sockets;
                try {
                    sockets = Sockets.bindSockets(bindPort, host, null, backlog, loopCount > 1);
                } catch (IOException | RuntimeException e) {
                    loop.close(); // not in echo.loops yet: the cleanup below would miss it
                    throw e;
                }
                if (echo == null) {
                    echo = new StreamEchoServer(server, (InetSocketAddress) sockets.get(0).getLocalAddress());
                }
                echo.loops.add(loop);
                loop.makeCurrent();
                try {
                    server.addSockets(sockets);
                } finally {
                    IOLoop.clearCurrent();
                }
            }
            for (int i = 0; i < echo.loops.size(); i++) {
                echo.threads.add(echo.loops.get(i).startInNewThread("eddy-echo-" + i));
            }
            return echo;
        } catch (IOException | RuntimeException e) {
            server.stop();
            if (echo != null) {
                echo.loops.forEach(IOLoop::shutdown);
            }
            throw e;
        }
    }

    /**
     * The echo of one connection, for a {@link TCPServer} of the caller's own (tests use it on a loop they
     * build). Runs on the stream's loop thread.
     *
     * @param log where to print connections and closes; null for nothing
     */
    public static StreamHandler handler(PrintStream log) {
        return (stream, address) -> {
            if (log != null) {
                String client = RawEchoServer.format(address);
                log.println("connection " + client);
                stream.setCloseCallback(() -> log.println("closing " + client));
            }
            stream.setNoDelay(true);
            new Echo(stream, SHARED.get().duplicate()).read(); // the handler runs on the stream's loop thread
            return null;
        };
    }

    /**
     * One connection: read what arrived, write it back, read again once written. It is its own read
     * completion and its own "read again" task, so a connection costs one object. Its loop thread only.
     */
    private static final class Echo implements BiFunction<Integer, Throwable, Void>, Runnable {
        private final IOStream stream;
        private final ByteBuffer view;

        Echo(IOStream stream, ByteBuffer view) {
            this.stream = stream;
            this.view = view;
        }

        /** Reads again (the write reached the kernel). */
        @Override
        public void run() {
            read();
        }

        void read() {
            // handle, not whenComplete: its own future then completes normally, so the end of every
            // connection (the pending read failing) costs no CompletionException.
            stream.readInto(view.clear(), true).handle(this);
        }

        /** The read completed. */
        @Override
        public Void apply(Integer n, Throwable error) {
            if (error != null) {
                stream.close();
            } else {
                CompletableFuture<Void> written = stream.write(view.flip());
                if (!written.isDone()) {
                    written.thenRun(this);
                } else if (!written.isCompletedExceptionally()) {
                    read(); // the kernel took it all at once (the usual case): no continuation to allocate
                }
            }
            return null;
        }
    }

    /** The I/O backend the loops run on ({@code "epoll"} or {@code "nio"}). Any thread. */
    public String backend() {
        return loops.get(0).backend();
    }

    /** The address of the first listening socket, with the real port. Any thread. */
    public InetSocketAddress address() {
        return address;
    }

    /** Stops listening, stops every loop and closes its connections; returns once the loop threads ended. */
    public void shutdown() throws InterruptedException {
        server.stop();
        for (IOLoop loop : loops) {
            loop.shutdown();
        }
        for (Thread t : threads) {
            t.join();
        }
    }
}
