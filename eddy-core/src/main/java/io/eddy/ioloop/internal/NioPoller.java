package io.eddy.ioloop.internal;

import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The java.nio backend: one {@link Selector}, polled with {@code select(Consumer, timeout)} so that
 * no selected-key set is built or iterated.
 *
 * <p>Mapping: READ is OP_ACCEPT on a server channel and OP_READ elsewhere; WRITE is OP_CONNECT on a
 * channel whose connect is pending and OP_WRITE elsewhere. java.nio never reports the ERROR bit.
 */
public final class NioPoller implements Poller {

    private final Selector selector;
    private final Consumer<SelectionKey> collector = this::collect;
    /** Keys that reported a finished connect in the last poll; switched from OP_CONNECT to OP_WRITE next poll. */
    private final List<NioKey> connected = new ArrayList<>();
    private ReadyEvents out;
    private int collected;

    public NioPoller() throws IOException {
        this.selector = Selector.open();
    }

    @Override
    public String name() {
        return "nio";
    }

    @Override
    public PollKey register(SelectableChannel channel, int events, Object attachment) throws IOException {
        SelectionKey stale = channel.keyFor(selector);
        if (stale != null && !stale.isValid()) {
            // A cancelled key stays until the next select; flush it so the channel can register again.
            // Selection is level-triggered, so readiness this drops is reported again by the next poll.
            selector.selectNow(key -> { });
        }
        channel.configureBlocking(false);
        NioKey key = new NioKey(channel, attachment, events);
        key.selectionKey = channel.register(selector, interestOps(channel, events), key);
        return key;
    }

    @Override
    public PollKey find(SelectableChannel channel) {
        SelectionKey key = channel.keyFor(selector);
        return key != null && key.isValid() ? (NioKey) key.attachment() : null;
    }

    @Override
    public void modify(PollKey key, int events) {
        NioKey k = (NioKey) key;
        k.events = events;
        int ops = interestOps(k.channel(), events);
        if (k.selectionKey.interestOps() != ops) {
            k.selectionKey.interestOps(ops);
        }
    }

    @Override
    public void deregister(PollKey key) {
        NioKey k = (NioKey) key;
        k.removed = true;
        k.selectionKey.cancel();
    }

    @Override
    public int poll(long timeoutNanos, ReadyEvents out) throws IOException {
        if (!connected.isEmpty()) {
            finishConnectInterest();
        }
        this.out = out;
        this.collected = 0;
        try {
            if (timeoutNanos == 0) {
                selector.selectNow(collector);
            } else if (timeoutNanos < 0) {
                selector.select(collector, 0);
            } else {
                // Round up: waking before the deadline would only cost another poll.
                long millis = Math.max(1, timeoutNanos / 1_000_000 + (timeoutNanos % 1_000_000 == 0 ? 0 : 1));
                selector.select(collector, millis);
            }
        } finally {
            this.out = null;
        }
        return collected;
    }

    private void collect(SelectionKey selectionKey) {
        NioKey key = (NioKey) selectionKey.attachment();
        int ready = selectionKey.readyOps();
        int events = 0;
        if ((ready & (SelectionKey.OP_READ | SelectionKey.OP_ACCEPT)) != 0) {
            events |= READ;
        }
        if ((ready & SelectionKey.OP_WRITE) != 0) {
            events |= WRITE;
        }
        if ((ready & SelectionKey.OP_CONNECT) != 0) {
            events |= WRITE;
            connected.add(key);
        }
        out.add(key, events);
        collected++;
    }

    /**
     * Once a connect has finished, OP_CONNECT is never reported again while the socket stays writable,
     * so a key still listening for it would make every select return at once: listen for OP_WRITE instead.
     * Keys whose connect the handler has not finished yet keep OP_CONNECT and are reported again.
     */
    private void finishConnectInterest() {
        for (NioKey key : connected) {
            if (key.isLive() && key.channel() instanceof SocketChannel sc && !sc.isConnectionPending()) {
                key.selectionKey.interestOps(interestOps(sc, key.events));
            }
        }
        connected.clear();
    }

    @Override
    public void wakeup() {
        selector.wakeup();
    }

    @Override
    public void forEach(Consumer<PollKey> action) {
        for (SelectionKey key : selector.keys()) {
            NioKey k = (NioKey) key.attachment();
            if (k.isLive()) {
                action.accept(k);
            }
        }
    }

    @Override
    public void close() throws IOException {
        selector.close();
    }

    static int interestOps(SelectableChannel channel, int events) {
        int ops = 0;
        if ((events & READ) != 0) {
            ops |= channel instanceof ServerSocketChannel ? SelectionKey.OP_ACCEPT : SelectionKey.OP_READ;
        }
        if ((events & WRITE) != 0) {
            ops |= channel instanceof SocketChannel sc && sc.isConnectionPending()
                    ? SelectionKey.OP_CONNECT : SelectionKey.OP_WRITE;
        }
        int invalid = ops & ~channel.validOps();
        if (invalid != 0) {
            String event = (invalid & (SelectionKey.OP_READ | SelectionKey.OP_ACCEPT)) != 0 ? "READ" : "WRITE";
            throw new IllegalArgumentException(event + " is not a valid event for a "
                    + channel.getClass().getSimpleName() + " (events 0x" + Integer.toHexString(events) + ")");
        }
        return ops;
    }

    private static final class NioKey extends PollKey {
        SelectionKey selectionKey;
        boolean removed;

        NioKey(SelectableChannel channel, Object attachment, int events) {
            super(channel, attachment, events);
        }

        @Override
        public boolean isLive() {
            return !removed && selectionKey.isValid();
        }
    }
}
