package io.eddy.ioloop.internal;

import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.util.function.Consumer;

/**
 * The readiness backend behind an IOLoop: it registers channels and reports which are ready.
 * It knows nothing of the loop's rules (callbacks, timers, errors); those live in {@code IOLoop}.
 *
 * <p>Events use the loop's bit values: READ {@code 0x001}, WRITE {@code 0x004}, ERROR {@code 0x018}.
 * All methods except {@link #wakeup()} are for the loop's owner thread only (the thread running the
 * loop, or any one thread while it is not running).
 */
public interface Poller extends AutoCloseable {

    int READ = 0x001;
    int WRITE = 0x004;
    int ERROR = 0x018;

    /** The backend's name, as given to {@code IOLoop.Builder.backend}. */
    String name();

    /**
     * Registers {@code channel} (put in non-blocking mode) for {@code events}; {@link #poll} reports it
     * with {@code attachment}.
     */
    PollKey register(SelectableChannel channel, int events, Object attachment) throws IOException;

    /** The live registration of {@code channel}, or null when it has none (or its channel was closed). */
    PollKey find(SelectableChannel channel);

    /** Changes the events a registration listens for. */
    void modify(PollKey key, int events);

    /** Removes a registration; an event of it already polled must not be dispatched (see {@link PollKey#isLive()}). */
    void deregister(PollKey key);

    /**
     * As {@link #deregister} for a registration of {@code registerFd} whose owner closes the descriptor right
     * after: a backend whose set forgets a descriptor when it is closed skips the call that removes it.
     */
    default void deregisterBeforeClose(PollKey key) {
        deregister(key);
    }

    /**
     * Waits for readiness and appends the ready registrations to {@code out}.
     *
     * @param timeoutNanos 0 to return at once, a negative value to wait until woken
     * @return the number of registrations appended
     */
    int poll(long timeoutNanos, ReadyEvents out) throws IOException;

    /** Makes a blocked or the next {@link #poll} return at once. Any thread. */
    void wakeup();

    /** Calls {@code action} for every live registration. */
    void forEach(Consumer<PollKey> action);

    /** Closes the backend; registrations are dropped, channels are left open. */
    @Override
    void close() throws IOException;
}
