package io.eddy.ioloop.internal;

import java.nio.channels.SelectableChannel;

/** One channel's registration with a {@link Poller}. Created and used on the loop's owner thread. */
public abstract class PollKey {
    private final SelectableChannel channel;
    private final Object attachment;
    int events;

    protected PollKey(SelectableChannel channel, Object attachment, int events) {
        this.channel = channel;
        this.attachment = attachment;
        this.events = events;
    }

    public final SelectableChannel channel() {
        return channel;
    }

    public final Object attachment() {
        return attachment;
    }

    /** The loop events this registration listens for. */
    public final int events() {
        return events;
    }

    /** False once deregistered or once its channel was closed: its pending events are then dropped. */
    public abstract boolean isLive();
}
