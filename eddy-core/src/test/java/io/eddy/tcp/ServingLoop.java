package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;

import java.io.IOException;
import java.net.InetSocketAddress;

/** For tests: a {@link TCPServer} listening on 127.0.0.1:0 on a loop that runs on its own thread. */
final class ServingLoop implements AutoCloseable {

    final IOLoop loop;
    final TCPServer server;
    private final Thread thread;

    ServingLoop(IOLoop loop, TCPServer server, String threadName) throws IOException {
        this.loop = loop;
        this.server = server;
        loop.makeCurrent();
        try {
            server.listen(0, "127.0.0.1");
        } finally {
            IOLoop.clearCurrent();
        }
        this.thread = loop.startInNewThread(threadName);
    }

    /** Where the server listens, with the real port. */
    InetSocketAddress address() {
        return server.addresses().get(0);
    }

    /** Stops the server, shuts the loop down (closing its connections) and waits for its thread. */
    @Override
    public void close() {
        server.stop();
        loop.shutdown().join();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
