package io.eddy.tcp;

import io.eddy.iostream.IOStream;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;

/**
 * What a {@link TCPServer} does with each connection. Called on the loop thread that accepted it.
 *
 * <pre>{@code
 * StreamHandler echo = (stream, address) -> stream.readUntil("\n".getBytes())
 *         .thenCompose(stream::write);
 * }</pre>
 */
@FunctionalInterface
public interface StreamHandler {

    /**
     * Handles one connection.
     *
     * @param stream  the connection, on the loop that accepted it
     * @param address the client's address
     * @return null, or a stage whose failure is reported like a callback's (the stream is not closed for it)
     * @throws Exception reported like a callback's, and the stream is closed with it as the cause (nobody
     *                   serves it: open, its socket would stay open until the process ends); the server goes on
     */
    CompletionStage<?> handleStream(IOStream stream, InetSocketAddress address) throws Exception;
}
