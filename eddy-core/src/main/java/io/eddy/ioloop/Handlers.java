package io.eddy.ioloop;

import io.eddy.ioloop.internal.EpollPoller;
import io.eddy.ioloop.internal.FdHandler;
import io.eddy.ioloop.internal.PollKey;
import io.eddy.ioloop.internal.Poller;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectableChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * The loop's handler table: which channel's readiness calls which {@link Handler}. The table is the
 * {@link Poller}'s registrations themselves; each carries a {@link Registration}, which the loop reads
 * back when it dispatches an event, so dispatch looks nothing up.
 *
 * <p>Loop's owner thread only: the loop thread, or any one thread while the loop is not running.
 * {@link IOLoop} checks that (and that it is open) before it calls in; {@link #count()} alone may be
 * read anywhere, as a snapshot.
 */
final class Handlers {

    private static final System.Logger LOG = System.getLogger("io.eddy.ioloop");

    private final Poller poller;
    /** Registered handlers: exact on the owner thread, a snapshot elsewhere. */
    private int count;

    Handlers(Poller poller) {
        this.poller = poller;
    }

    /** What a ready channel calls: its handler, under the {@link Context} captured at {@code addHandler}. */
    record Registration(Handler<SelectableChannel> handler, Context context) {
    }

    /** Registers {@code handler} for {@code channel}; see {@link IOLoop#addHandler} for the rules. */
    @SuppressWarnings("unchecked")
    <C extends SelectableChannel> void add(C channel, Handler<? super C> handler, int events, Context context) {
        if (!channel.isOpen()) {
            throw new IllegalArgumentException("cannot add a handler for a closed channel: " + channel);
        }
        if (poller.find(channel) != null) {
            throw new IllegalArgumentException("channel already has a handler: " + channel);
        }
        // Safe: the poller hands the handler back only the channel registered here, which is a C.
        Registration reg = new Registration((Handler<SelectableChannel>) handler, context);
        try {
            poller.register(channel, events, reg);
        } catch (ClosedChannelException e) {
            throw new IllegalArgumentException("cannot add a handler for a closed channel: " + channel, e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot register " + channel, e);
        }
        count++;
    }

    /** Registers a native descriptor (epoll only); its handler is called with a null channel. */
    PollKey addFd(int fd, FdHandler handler, int events, Context context) {
        if (!(poller instanceof EpollPoller epoll)) {
            throw new IllegalStateException("native descriptors need the epoll backend; this loop runs " + poller.name());
        }
        try {
            PollKey key = epoll.registerFd(fd, events, new Registration(handler, context));
            count++;
            return key;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot register descriptor " + fd, e);
        }
    }

    void modifyFd(PollKey key, int events) {
        poller.modify(key, events);
    }

    void removeFd(PollKey key, boolean closing) {
        if (key.isLive()) {
            if (closing) {
                poller.deregisterBeforeClose(key);
            } else {
                poller.deregister(key);
            }
            count--;
        }
    }

    /** Changes the events {@code channel} is watched for; see {@link IOLoop#updateHandler}. */
    void update(SelectableChannel channel, int events) {
        PollKey key = poller.find(channel);
        if (key == null) {
            throw new IllegalArgumentException("channel has no handler (never added, removed or closed): " + channel);
        }
        poller.modify(key, events);
    }

    /** Stops watching {@code channel}, if it is watched; see {@link IOLoop#removeHandler}. */
    void remove(SelectableChannel channel) {
        PollKey key = poller.find(channel);
        if (key != null) {
            poller.deregister(key);
            count--;
        }
    }

    /**
     * For {@code close()}: closes every channel with a handler if {@code closeChannels}, then the poller,
     * and forgets every handler. A failure to close one of them is logged at DEBUG.
     */
    void close(boolean closeChannels) {
        if (closeChannels) {
            // Collected first: closing a channel changes the poller's key set.
            List<SelectableChannel> channels = new ArrayList<>();
            List<FdHandler> descriptors = new ArrayList<>();
            poller.forEach(key -> {
                if (key.channel() != null) {
                    channels.add(key.channel());
                } else {
                    descriptors.add((FdHandler) ((Registration) key.attachment()).handler());
                    poller.deregister(key); // before its descriptor closes (its number may be reused at once)
                }
            });
            for (FdHandler owner : descriptors) {
                try {
                    owner.closeDescriptor();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.DEBUG, "error closing " + owner, e);
                }
            }
            for (SelectableChannel channel : channels) {
                try {
                    channel.close();
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.DEBUG, "error closing " + channel, e);
                }
            }
        }
        try {
            poller.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "error closing the poller", e);
        }
        count = 0;
    }

    /** Counts the live registrations again, so a channel closed without {@code removeHandler} stops counting. */
    void recount() {
        int[] live = {0};
        poller.forEach(key -> live[0]++);
        count = live[0];
    }

    /** The number of handlers: exact on the owner thread after {@link #recount()}, a snapshot elsewhere. */
    int count() {
        return count;
    }

    /** Rejects {@code events} with bits other than READ, WRITE and ERROR ({@link IllegalArgumentException}). */
    static void checkEvents(int events) {
        int unknown = events & ~(IOLoop.READ | IOLoop.WRITE | IOLoop.ERROR);
        if (unknown != 0) {
            throw new IllegalArgumentException("unknown event bits 0x" + Integer.toHexString(unknown)
                    + " in events 0x" + Integer.toHexString(events) + " (use READ, WRITE, ERROR)");
        }
    }
}
