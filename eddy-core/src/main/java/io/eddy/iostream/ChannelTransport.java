package io.eddy.iostream;

import io.eddy.ioloop.Handler;
import io.eddy.ioloop.IOLoop;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * A {@link Transport} on a JDK {@link SocketChannel} (non-blocking), watched through the loop's handler
 * API ({@link IOLoop#addHandler}). It is itself the handler: the loop's events go straight to the stream.
 *
 * <p>Registration is lazy (nothing until the stream first waits for something: an idle stream without a
 * close callback costs the selector nothing) and changes only when the interest does (no system call per
 * message while a stream reads and writes).
 *
 * <p>Threads: as {@link Transport}. {@link #handle} is called by the loop, on its thread.
 */
final class ChannelTransport implements Transport, Handler<SocketChannel> {

    private final SocketChannel channel;
    private final StreamCore core;
    /** Events registered with the loop; -1 while not registered. */
    private int registered = -1;

    ChannelTransport(SocketChannel channel, StreamCore core) {
        this.channel = channel;
        this.core = core;
    }

    @Override
    public void handle(SocketChannel ch, int events) {
        core.handleEvents(events);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return channel.read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        return channel.write(src);
    }

    @Override
    public long write(ByteBuffer[] srcs, int count) throws IOException {
        return channel.write(srcs, 0, count);
    }

    @Override
    public boolean hasMore() {
        return false; // the kernel holds what is left, and the selector reports it
    }

    @Override
    public boolean holdsBytes() {
        return false;
    }

    @Override
    public boolean connect(SocketAddress remote) throws IOException {
        return channel.connect(remote);
    }

    @Override
    public boolean finishConnect() throws IOException {
        return channel.finishConnect();
    }

    @Override
    public boolean isConnected() {
        return channel.isConnected();
    }

    @Override
    public boolean onConnected() {
        return true;
    }

    @Override
    public InetSocketAddress remoteAddress() {
        try {
            return (InetSocketAddress) channel.getRemoteAddress();
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public InetSocketAddress localAddress() {
        try {
            return (InetSocketAddress) channel.getLocalAddress();
        } catch (IOException e) {
            return null;
        }
    }

    @Override
    public void setNoDelay(boolean on) throws IOException {
        channel.setOption(StandardSocketOptions.TCP_NODELAY, on);
    }

    @Override
    public void shutdownOutput() throws IOException {
        channel.shutdownOutput();
    }

    @Override
    public void interest(int events) {
        if (events == registered) {
            return;
        }
        if (registered < 0) {
            if (events == 0) {
                return; // lazy: not registered until there is something to wait for
            }
            core.loop.addHandler(channel, this, events);
        } else {
            core.loop.updateHandler(channel, events);
        }
        registered = events;
    }

    @Override
    public int onEvents(int events) {
        return events;
    }

    @Override
    public void deregister() {
        if (registered >= 0) {
            core.loop.removeHandler(channel);
            registered = -1;
        }
    }

    @Override
    public void onClose(Throwable cause) {
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return channel.toString();
    }
}
