package io.eddy.ioloop;

import io.eddy.ioloop.internal.EpollPoller;
import io.eddy.ioloop.internal.FdHandler;
import io.eddy.ioloop.internal.LoopAccess;
import io.eddy.ioloop.internal.NativeIO;
import io.eddy.ioloop.internal.PollKey;

/**
 * The non-public access of Eddy's streams and servers to a loop (see {@link LoopAccess}): native descriptors
 * on an epoll loop, checked like {@link IOLoop#addHandler}'s channels. Thread rules as the handler methods.
 */
final class InternalAccess extends LoopAccess {

    @Override
    public NativeIO nativeIO(IOLoop loop) {
        return loop.poller instanceof EpollPoller epoll ? epoll.io() : null;
    }

    @Override
    public PollKey addFd(IOLoop loop, int fd, FdHandler handler, int events) {
        Handlers.checkEvents(events);
        loop.state.checkHandlerCall("addHandler");
        return loop.handlers.addFd(fd, handler, events, Context.current());
    }

    @Override
    public void modifyFd(IOLoop loop, PollKey key, int events) {
        loop.state.checkHandlerCall("updateHandler");
        loop.handlers.modifyFd(key, events);
    }

    @Override
    public void removeFd(IOLoop loop, PollKey key, boolean closing) {
        loop.state.checkHandlerCall("removeHandler");
        loop.handlers.removeFd(key, closing);
    }
}
