package io.eddy.ioloop;

import io.eddy.ioloop.internal.EpollPoller;
import io.eddy.ioloop.internal.NativeSupport;
import io.eddy.ioloop.internal.NioPoller;
import io.eddy.ioloop.internal.Poller;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * Which I/O backend a new loop gets: the one place that knows the backends by name.
 * {@link IOLoop.Builder#backend} checks a name here, {@link IOLoop#create()} reads {@code -Deddy.backend}
 * here, and {@link IOLoop.Builder#build()} opens the chosen backend here: the one named, else the one the
 * property names, else the platform's best ({@code epoll} where it can run, else {@code nio}; the choice and
 * its reason are logged once at DEBUG). Any thread.
 */
final class Backends {

    /** The system property that names the backend of a loop whose builder names none. */
    static final String PROPERTY = "eddy.backend";

    private static final System.Logger LOG = System.getLogger("io.eddy.ioloop");
    /** The best available backend, decided once. */
    private static volatile String preferred;

    private Backends() {
    }

    /**
     * The backend {@code -Deddy.backend} names, checked as {@link #checked} checks it, or null (the best
     * available) when the property is not set.
     */
    static String fromSystemProperty() {
        String name = System.getProperty(PROPERTY);
        return name == null ? null : checked(name);
    }

    /**
     * Returns {@code name} if a backend of that name is available here.
     *
     * @throws IllegalStateException    for {@code epoll} where it cannot run, saying what is missing
     * @throws IllegalArgumentException for an unknown name
     */
    static String checked(String name) {
        Objects.requireNonNull(name, "name");
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
     * Opens the backend {@code name} (a name {@link #checked} accepted); if it is null, the one
     * {@code -Deddy.backend} names, else the best available.
     */
    static Poller open(String name) {
        String backend = name != null ? name : fromSystemProperty();
        if (backend == null) {
            backend = preferred();
        }
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
