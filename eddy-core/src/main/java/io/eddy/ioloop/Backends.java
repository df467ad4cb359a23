package io.eddy.ioloop;

import io.eddy.ioloop.internal.EpollPoller;
import io.eddy.ioloop.internal.NativeSupport;
import io.eddy.ioloop.internal.NioPoller;
import io.eddy.ioloop.internal.Poller;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Which I/O backend a new loop gets: the one named by the builder, else by {@code -Deddy.backend}, else the
 * platform's best ({@code epoll} where it can run, else {@code nio}; the choice and its reason are logged
 * once at DEBUG). Any thread.
 */
final class Backends {

    private static final System.Logger LOG = System.getLogger("io.eddy.ioloop");
    /** The default backend, decided once. */
    private static volatile String preferred;

    private Backends() {
    }

    /**
     * {@code name} if it is a backend that can run here.
     *
     * @throws IllegalStateException    for {@code epoll} where it cannot run, saying what is missing
     * @throws IllegalArgumentException for an unknown name
     */
    static String check(String name) {
        switch (name) {
            case "nio" -> {
            }
            case "epoll" -> {
                String missing = NativeSupport.unavailableReason();
                if (missing != null) {
                    throw new IllegalStateException("IOLoop backend 'epoll' is not available: " + missing);
                }
            }
            default -> throw new IllegalArgumentException("unknown IOLoop backend '" + name + "' (available: nio, epoll)");
        }
        return name;
    }

    /**
     * A new poller of backend {@code name}; if it is null, of the one the system property {@code eddy.backend}
     * names, else of the preferred one.
     */
    static Poller open(String name) {
        String property = name == null ? System.getProperty("eddy.backend") : null;
        String backend = name != null ? name : property != null ? check(property) : preferred();
        try {
            return backend.equals("epoll") ? new EpollPoller() : new NioPoller();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the " + backend + " backend: " + e.getMessage(), e);
        }
    }

    private static String preferred() {
        String p = preferred;
        if (p == null) {
            String missing = NativeSupport.unavailableReason();
            p = missing == null ? "epoll" : "nio";
            LOG.log(System.Logger.Level.DEBUG, missing == null ? "IOLoop backend: epoll"
                    : "IOLoop backend: nio, because " + missing);
            preferred = p;
        }
        return p;
    }
}
