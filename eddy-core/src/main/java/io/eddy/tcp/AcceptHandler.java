package io.eddy.tcp;

import io.eddy.ioloop.Handler;
import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.internal.LibC;
import io.eddy.ioloop.internal.NativeIO;
import io.eddy.ioloop.internal.NativeSupport;
import io.eddy.ioloop.internal.QuietLog;
import io.eddy.ioloop.Timeout;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.function.BiConsumer;

import static java.lang.System.Logger.Level.DEBUG;
import static java.lang.System.Logger.Level.ERROR;
import static java.lang.System.Logger.Level.INFO;
import static java.lang.System.Logger.Level.WARNING;

/**
 * The READ handler behind {@link Sockets#addAcceptHandler}: accepts in batches, hands connections to
 * the callback, and backs off while accept fails. Loop thread only.
 */
final class AcceptHandler implements Handler<ServerSocketChannel> {

    /** {@link ServerSocketChannel#accept()}, replaceable so that tests can make it fail. */
    @FunctionalInterface
    interface Acceptor {
        /** A connection, or null when none is waiting. */
        SocketChannel accept(ServerSocketChannel server) throws IOException;
    }

    static final Duration FIRST_BACKOFF = Duration.ofMillis(100);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(1);

    private static final System.Logger LOG = System.getLogger("io.eddy.tcp");

    /** A connection for a native stream: its descriptor (owned by the callee from now on) and peer. */
    @FunctionalInterface
    interface DescriptorCallback {
        void accept(int fd, InetSocketAddress remote);
    }

    /** Accepts one connection and hands it over; false when none was waiting. */
    @FunctionalInterface
    private interface Intake {
        boolean acceptOne() throws IOException;
    }

    private final IOLoop loop;
    private final ServerSocketChannel server;
    private final Intake intake;

    private boolean removed;
    /** Accept failures since the last accept that did not fail. */
    private int failuresInARow;
    /** Whether accepting is failing and was paused at least once since the last accept that did not fail. */
    private boolean failing;
    private Duration backoff = FIRST_BACKOFF;
    private Timeout retry;

    /** Accepts JDK channels with {@code acceptor} and hands each to {@code callback}. */
    AcceptHandler(IOLoop loop, ServerSocketChannel server, BiConsumer<SocketChannel, InetSocketAddress> callback,
                  Acceptor acceptor) {
        this.loop = loop;
        this.server = server;
        this.intake = () -> {
            SocketChannel connection = acceptor.accept(server);
            if (connection == null) {
                return false;
            }
            handOver(connection, callback);
            return true;
        };
    }

    /**
     * Accepts native descriptors (accept4 on the listening channel's descriptor, epoll loops) and hands each
     * to {@code callback}: no {@code SocketChannel} per connection.
     */
    AcceptHandler(IOLoop loop, ServerSocketChannel server, NativeIO io, DescriptorCallback callback) {
        this.loop = loop;
        this.server = server;
        int listening = NativeSupport.fdOf(server);
        this.intake = () -> {
            if (!server.isOpen()) {
                throw new ClosedChannelException();
            }
            int fd = io.accept(listening);
            if (fd < 0) {
                return false;
            }
            InetSocketAddress remote;
            try {
                remote = io.acceptedPeer();
            } catch (IOException e) {
                LibC.closeQuietly(fd); // ours until handed over
                LOG.log(DEBUG, "accepted connection on " + local() + " has no readable peer address; closing it", e);
                return true;
            }
            try {
                callback.accept(fd, remote);
            } catch (VirtualMachineError e) {
                throw e;
            } catch (RuntimeException | Error e) {
                reportLater(e);
            }
            return true;
        };
    }

    @Override
    public void handle(ServerSocketChannel channel, int events) {
        for (int i = 0; i < Sockets.ACCEPTS_PER_EVENT && !removed; i++) {
            boolean accepted;
            try {
                accepted = intake.acceptOne();
            } catch (ClosedChannelException closed) {
                return; // the server was closed; the loop drops its registration
            } catch (IOException e) {
                if (failed(e)) {
                    return;
                }
                continue;
            }
            acceptWorked();
            if (!accepted) {
                return;
            }
        }
    }

    /** Stops accepting and removes the handler. Idempotent. Loop thread, or any while it is not running. */
    void remove() {
        if (removed) {
            return;
        }
        if (!loop.isClosed()) {
            loop.removeHandler(server); // throws from a foreign thread while the loop runs: nothing changed yet
        }
        removed = true;
        if (retry != null) {
            retry.cancel();
            retry = null;
        }
    }

    /** Handles an accept failure; true if accepting is paused now. */
    private boolean failed(IOException e) {
        failuresInARow++;
        boolean exhausted = outOfResources(e);
        if (!exhausted && failuresInARow < 2) {
            QuietLog.log(LOG, ERROR, "Error accepting a connection on " + local() + "; trying the next one", e);
            return false;
        }
        // Pause first, log after: out of descriptors, logging may fail too (it may need a file).
        loop.updateHandler(server, IOLoop.NONE);
        Duration wait = backoff;
        backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
        retry = loop.callLater(wait, this::resume);
        if (!failing) {
            failing = true; // one WARNING per failing period, not one per failure
            QuietLog.log(LOG, WARNING, (exhausted ? "Out of file descriptors or memory" : "Accept keeps failing")
                    + " on " + local() + " (" + e.getMessage() + "): not accepting for " + wait.toMillis()
                    + " ms, then retrying with back-off up to " + MAX_BACKOFF.toMillis()
                    + " ms until it works; open connections are served meanwhile", null);
        }
        return true;
    }

    private void resume() {
        retry = null;
        if (removed || !server.isOpen()) {
            return;
        }
        try {
            loop.updateHandler(server, IOLoop.READ);
        } catch (IllegalArgumentException closedMeanwhile) {
            return;
        }
        handle(server, IOLoop.READ); // accept now: no need to wait for the next poll
    }

    private void acceptWorked() {
        failuresInARow = 0;
        backoff = FIRST_BACKOFF;
        if (failing) {
            failing = false;
            QuietLog.log(LOG, INFO, "Accepting connections again on " + local(), null);
        }
    }

    private void handOver(SocketChannel connection, BiConsumer<SocketChannel, InetSocketAddress> callback) {
        InetSocketAddress remote;
        try {
            connection.configureBlocking(false);
            remote = (InetSocketAddress) connection.getRemoteAddress();
        } catch (IOException e) {
            LOG.log(DEBUG, "accepted connection on " + local() + " failed at once; closing it", e);
            try {
                connection.close();
            } catch (IOException ignored) {
                // already broken
            }
            return;
        }
        try {
            callback.accept(connection, remote);
        } catch (VirtualMachineError e) {
            throw e;
        } catch (RuntimeException | Error e) {
            reportLater(e);
        }
    }

    /** Reports {@code e} (a RuntimeException or an Error) on the loop like a handler's exception, after this batch. */
    private void reportLater(Throwable e) {
        loop.addCallback(() -> {
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw (Error) e;
        });
    }

    /** EMFILE, ENFILE, ENOBUFS, ENOMEM, recognised by the JDK's (strerror) message. */
    static boolean outOfResources(IOException e) {
        String m = e.getMessage();
        return m != null && (m.contains("Too many open files") || m.contains("No buffer space")
                || m.contains("Cannot allocate memory"));
    }

    private String local() {
        try {
            return String.valueOf(server.getLocalAddress());
        } catch (IOException e) {
            return String.valueOf(server);
        }
    }
}
