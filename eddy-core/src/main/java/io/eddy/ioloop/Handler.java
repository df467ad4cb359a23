package io.eddy.ioloop;

import java.nio.channels.SelectableChannel;

/**
 * Reacts to readiness of a channel registered with {@link IOLoop#addHandler}.
 * Called on the loop thread with the very channel that was registered.
 *
 * <pre>{@code
 * loop.addHandler(server, (ch, events) -> {
 *     SocketChannel client = ch.accept();
 *     ...
 * }, IOLoop.READ);
 * }</pre>
 *
 * @param <C> the channel type
 */
@FunctionalInterface
public interface Handler<C extends SelectableChannel> {

    /**
     * @param channel the registered channel
     * @param events  the ready events: {@link IOLoop#READ}, {@link IOLoop#WRITE} (also a finished
     *                connect), {@link IOLoop#ERROR} (native backends only)
     * @throws Exception reported to the loop's exception handling; the loop goes on
     */
    void handle(C channel, int events) throws Exception;
}
