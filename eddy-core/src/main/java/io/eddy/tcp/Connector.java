package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.IOStream;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;

/**
 * One connection attempt of a {@link TCPClient}: connects to one address. Called on the loop thread.
 *
 * <p>The future completes with the connected stream, or fails with the attempt's error (an
 * {@link java.io.IOException} such as {@link java.net.ConnectException}). Cancelling the future abandons
 * the attempt: the implementation then closes whatever it opened. Tests replace the real one
 * ({@link TCPClient#openStream}) to simulate attempts that hang.
 */
@FunctionalInterface
interface Connector {

    /** Starts connecting to {@code address} with {@code options} on {@code loop}. */
    CompletableFuture<IOStream> connect(InetSocketAddress address, ConnectOptions options, IOLoop loop);
}
