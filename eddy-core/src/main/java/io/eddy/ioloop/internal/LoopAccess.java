package io.eddy.ioloop.internal;

import io.eddy.ioloop.IOLoop;

/**
 * What Eddy's own streams and servers may reach of an {@link IOLoop} beyond its public API: registering
 * native descriptors on an epoll loop, and that loop's native scratch. Not exported; {@code IOLoop} installs
 * the one implementation when it is initialised.
 *
 * <p>Threads: as {@link IOLoop#addHandler} (the loop thread, or any one thread while it is not running).
 */
public abstract class LoopAccess {

    private static volatile LoopAccess instance;

    /** The implementation. */
    public static LoopAccess get() {
        LoopAccess a = instance;
        if (a == null) {
            try {
                Class.forName(IOLoop.class.getName(), true, IOLoop.class.getClassLoader()); // installs it
            } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
            }
            a = instance;
        }
        return a;
    }

    /** Called once, by IOLoop's class initialisation. */
    public static void install(LoopAccess access) {
        instance = access;
    }

    /** The loop's native scratch if it runs on epoll, else null (streams then use JDK channels). */
    public abstract NativeIO nativeIO(IOLoop loop);

    /**
     * Watches {@code fd} for {@code events}; the loop calls {@code handler} under the context current now.
     *
     * @throws IllegalStateException as {@link IOLoop#addHandler} does (wrong thread, closed loop), or if the loop
     *                               does not run on epoll
     */
    public abstract PollKey addFd(IOLoop loop, int fd, FdHandler handler, int events);

    /** Changes the events of a registration {@link #addFd} made. */
    public abstract void modifyFd(IOLoop loop, PollKey key, int events);

    /**
     * Removes a registration {@link #addFd} made; the caller closes the descriptor after this, never before.
     * {@code closing}: it does so right away (the descriptor then leaves the epoll set with its close).
     */
    public abstract void removeFd(IOLoop loop, PollKey key, boolean closing);
}
