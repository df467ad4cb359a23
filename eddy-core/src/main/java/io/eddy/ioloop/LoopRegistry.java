package io.eddy.ioloop;

/**
 * The process-wide loop ({@link IOLoop#instance()}) and each thread's current loop
 * ({@link IOLoop#current()}). Thread-safe: the instance is guarded by a lock and read through a
 * volatile field; the current loop is a thread-local, so each thread sees only its own.
 */
final class LoopRegistry {

    private static final ThreadLocal<IOLoop> CURRENT = new ThreadLocal<>();
    private static final Object INSTANCE_LOCK = new Object();
    private static volatile IOLoop instance;

    private LoopRegistry() {
    }

    /** {@link IOLoop#instance()}: created on first use, once. */
    static IOLoop instance() {
        IOLoop loop = instance;
        if (loop == null) {
            synchronized (INSTANCE_LOCK) {
                loop = instance;
                if (loop == null) {
                    loop = IOLoop.create();
                    instance = loop;
                }
            }
        }
        return loop;
    }

    /** {@link IOLoop#install()}. */
    static void install(IOLoop loop) {
        synchronized (INSTANCE_LOCK) {
            if (instance != null) {
                throw new IllegalStateException("an IOLoop instance exists already: " + instance);
            }
            instance = loop;
        }
    }

    /** {@link IOLoop#clearInstance()}. */
    static void clearInstance() {
        synchronized (INSTANCE_LOCK) {
            instance = null;
        }
    }

    /** {@link IOLoop#current(boolean)}. */
    static IOLoop current(boolean orInstance) {
        IOLoop loop = CURRENT.get();
        return loop != null || !orInstance ? loop : instance();
    }

    /** {@link IOLoop#makeCurrent()}. */
    static void makeCurrent(IOLoop loop) {
        CURRENT.set(loop);
    }

    /** {@link IOLoop#clearCurrent()}. */
    static void clearCurrent() {
        CURRENT.remove();
    }

    /** Makes {@code loop} current on this thread for a run of it; returns the loop to {@link #restore} after. */
    static IOLoop enter(IOLoop loop) {
        IOLoop previous = CURRENT.get();
        CURRENT.set(loop);
        return previous;
    }

    /** Makes {@code previous} (the value {@link #enter} returned) current again. */
    static void restore(IOLoop previous) {
        if (previous == null) {
            CURRENT.remove();
        } else {
            CURRENT.set(previous);
        }
    }

    /** Forgets a closed loop: it is no longer the instance, nor current on the calling thread. */
    static void forget(IOLoop loop) {
        synchronized (INSTANCE_LOCK) {
            if (instance == loop) {
                instance = null;
            }
        }
        if (CURRENT.get() == loop) {
            CURRENT.remove();
        }
    }
}
