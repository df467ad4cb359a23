package io.eddy.bench.echo;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;

import java.net.InetSocketAddress;

/**
 * Netty 4.2's own echo server, the peer the runner measures Eddy against: one event-loop thread, the NIO,
 * the native epoll or the native io_uring transport, and Netty's fast path — {@code channelRead} writes the same pooled buffer
 * back ({@code ctx.write}), {@code channelReadComplete} flushes once per read batch (Netty's
 * {@code example/echo/EchoServerHandler}). TCP_NODELAY is on (Netty's default for accepted sockets); the
 * allocator is Netty's default. Run it with {@code -Dio.netty.leakDetection.level=disabled} and
 * {@code --sun-misc-unsafe-memory-access=allow}, as the runner does.
 *
 * <p>{@code java -cp benchmarks.jar io.eddy.bench.echo.NettyEchoServer nio|epoll|io_uring PORT}; prints
 * {@code listening on 127.0.0.1:PORT} and runs until killed. Where the kernel (or a seccomp filter) does not
 * allow io_uring, {@code io_uring} fails at once with an {@link IllegalStateException} that names Netty's
 * reason ({@link IoUring#unavailabilityCause()}); the runner reports that server as unavailable.
 */
public final class NettyEchoServer {

    @ChannelHandler.Sharable
    private static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private NettyEchoServer() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2 || !(args[0].equals("nio") || args[0].equals("epoll") || args[0].equals("io_uring"))) {
            System.err.println("usage: NettyEchoServer nio|epoll|io_uring PORT");
            System.exit(2);
        }
        IoHandlerFactory io;
        Class<? extends ServerChannel> channel;
        switch (args[0]) {
            case "epoll" -> {
                io = EpollIoHandler.newFactory();
                channel = EpollServerSocketChannel.class;
            }
            case "io_uring" -> {
                if (!IoUring.isAvailable()) {
                    throw new IllegalStateException("Netty io_uring transport unavailable: " + IoUring.unavailabilityCause(),
                            IoUring.unavailabilityCause());
                }
                io = IoUringIoHandler.newFactory();
                channel = IoUringServerSocketChannel.class;
            }
            default -> {
                io = NioIoHandler.newFactory();
                channel = NioServerSocketChannel.class;
            }
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, io);
        try {
            EchoHandler handler = new EchoHandler();
            Channel server = new ServerBootstrap()
                    .group(group)
                    .channel(channel)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(handler)
                    .bind("127.0.0.1", Integer.parseInt(args[1])).sync().channel();
            InetSocketAddress address = (InetSocketAddress) server.localAddress();
            System.out.println("listening on 127.0.0.1:" + address.getPort());
            System.out.flush();
            server.closeFuture().sync();
        } finally {
            group.shutdownGracefully();
        }
    }
}
