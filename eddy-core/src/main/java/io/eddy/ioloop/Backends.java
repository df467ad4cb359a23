package io.eddy.ioloop;

import io.eddy.ioloop.internal.NioPoller;
import io.eddy.ioloop.internal.Poller;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * Which I/O backend a new loop gets: the one place that knows the backends by name.
 * {@link IOLoop.Builder#backend} checks a name here, {@link IOLoop#create()} reads {@code -Deddy.backend}
 * here, and {@link IOLoop.Builder#build()} opens the chosen backend here. Holds no state; any thread.
 */
final class Backends {

    /** The system property {@link IOLoop#create()} takes the backend's name from. */
    static final String PROPERTY = "eddy.backend";

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
     * @throws IllegalStateException    for a backend Eddy knows but cannot use here, saying what is missing
     * @throws IllegalArgumentException for an unknown name
     */
    static String checked(String name) {
        Objects.requireNonNull(name, "name");
        if (name.equals("epoll")) {
            throw new IllegalStateException("IOLoop backend 'epoll' is not available in this version of Eddy"
                    + " (available: nio)");
        }
        if (!name.equals("nio")) {
            throw new IllegalArgumentException("unknown IOLoop backend '" + name + "' (available: nio)");
        }
        return name;
    }

    /** Opens the backend {@code name} (a name {@link #checked} accepted; null: the best available). */
    static Poller open(String name) {
        try {
            return new NioPoller();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open a java.nio Selector", e);
        }
    }
}
