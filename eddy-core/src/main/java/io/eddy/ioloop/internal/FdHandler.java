package io.eddy.ioloop.internal;

import io.eddy.ioloop.Handler;

import java.nio.channels.SelectableChannel;

/**
 * The handler of a native descriptor registered with an epoll loop ({@link LoopAccess#addFd}): the loop calls
 * {@link #handle} with a null channel. It owns the descriptor, so the loop asks it to close it when it closes
 * with its channels ({@code close(true)}). Loop thread.
 */
public interface FdHandler extends Handler<SelectableChannel> {

    /** The loop closes with its channels: close the descriptor (the registration is gone already). */
    void closeDescriptor();
}
