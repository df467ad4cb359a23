package io.eddy.bench.echo;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * The floor of what any Java reactor costs: a minimal echo server straight on {@link Selector}, one
 * thread. Every read lands in one shared direct buffer and is written back at once; only what the
 * kernel does not take is copied to the connection (which then stops reading until it is sent), so an
 * idle connection holds no buffer. No framework, no futures, no callbacks queue.
 *
 * <p>{@code java -cp benchmarks.jar io.eddy.bench.echo.PlainNioEchoServer PORT}; prints
 * {@code listening on 127.0.0.1:PORT} and runs until killed.
 */
public final class PlainNioEchoServer {

    private static final ByteBuffer SHARED = ByteBuffer.allocateDirect(64 * 1024);

    private PlainNioEchoServer() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: PlainNioEchoServer PORT");
            System.exit(2);
        }
        Selector selector = Selector.open();
        ServerSocketChannel server = ServerSocketChannel.open();
        server.bind(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 1024);
        server.configureBlocking(false);
        server.register(selector, SelectionKey.OP_ACCEPT);
        System.out.println("listening on 127.0.0.1:" + ((InetSocketAddress) server.getLocalAddress()).getPort());
        System.out.flush();
        while (true) {
            selector.select(PlainNioEchoServer::ready);
        }
    }

    private static void ready(SelectionKey key) {
        try {
            if (key.isAcceptable()) {
                accept(key);
            } else if (key.isWritable()) {
                drain(key);
            } else if (key.isReadable()) {
                echo(key);
            }
        } catch (IOException e) {
            close(key);
        }
    }

    private static void accept(SelectionKey key) throws IOException {
        ServerSocketChannel server = (ServerSocketChannel) key.channel();
        for (int i = 0; i < 64; i++) {
            SocketChannel c = server.accept();
            if (c == null) {
                return;
            }
            c.configureBlocking(false);
            c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            c.register(key.selector(), SelectionKey.OP_READ);
        }
    }

    private static void echo(SelectionKey key) throws IOException {
        SocketChannel c = (SocketChannel) key.channel();
        SHARED.clear();
        int n = c.read(SHARED);
        if (n < 0) {
            close(key);
            return;
        }
        SHARED.flip();
        c.write(SHARED);
        if (SHARED.hasRemaining()) {
            ByteBuffer rest = ByteBuffer.allocate(SHARED.remaining());
            rest.put(SHARED).flip();
            key.attach(rest);
            key.interestOps(SelectionKey.OP_WRITE);
        }
    }

    private static void drain(SelectionKey key) throws IOException {
        ByteBuffer rest = (ByteBuffer) key.attachment();
        ((SocketChannel) key.channel()).write(rest);
        if (!rest.hasRemaining()) {
            key.attach(null);
            key.interestOps(SelectionKey.OP_READ);
        }
    }

    private static void close(SelectionKey key) {
        key.cancel();
        try {
            key.channel().close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
