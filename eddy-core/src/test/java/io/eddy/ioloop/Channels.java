package io.eddy.ioloop;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/** Connected loopback socket pairs for tests. */
final class Channels {

    private Channels() {
    }

    /** A connected pair: [0] the client end, [1] the accepted end. Both blocking; close both. */
    static SocketChannel[] socketPair() throws IOException {
        try (ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            SocketChannel client = SocketChannel.open(server.getLocalAddress());
            SocketChannel accepted = server.accept();
            return new SocketChannel[] {client, accepted};
        }
    }

    static void write(SocketChannel channel, String text) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes());
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    static void closeAll(AutoCloseable... closeables) throws Exception {
        for (AutoCloseable c : closeables) {
            if (c != null) {
                c.close();
            }
        }
    }
}
