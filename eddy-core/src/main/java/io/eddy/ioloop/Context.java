package io.eddy.ioloop;

import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

/**
 * Values and exception handlers that follow a task from where it was scheduled to where it runs:
 * the successor of Tornado's {@code stack_context}.
 *
 * <p>The loop captures {@link #current()} when a task is scheduled ({@code addCallback}, {@code execute},
 * timeouts, {@code addHandler}, {@code addFuture}) and runs the task under it; {@code spawnCallback}
 * runs under {@link #empty()}. A Context is immutable: {@link #with} and {@link #withExceptionHandler}
 * return new ones, so what a task changes is invisible to other tasks. Thread-safe.
 *
 * <pre>{@code
 * static final Context.Key<String> REQUEST_ID = Context.key("requestId");
 *
 * Context.current().with(REQUEST_ID, "r-42")
 *        .withExceptionHandler(e -> { log(e); return true; })
 *        .run(() -> loop.callLater(Duration.ofSeconds(1), () -> {
 *            String id = Context.current().get(REQUEST_ID); // "r-42"
 *        }));
 * }</pre>
 */
public final class Context {

    /**
     * A typed key. Keys compare by identity: two keys with the same name are different keys.
     *
     * @param <T> the type of the value
     */
    public static final class Key<T> {
        private final String name;

        private Key(String name) {
            this.name = name;
        }

        /** The name given to {@link Context#key}, for diagnostics. */
        public String name() {
            return name;
        }

        @Override
        public String toString() {
            return "Context.Key[" + name + "]";
        }
    }

    private static final Object[] NO_VALUES = {};
    @SuppressWarnings("unchecked")
    private static final Predicate<? super Throwable>[] NO_HANDLERS = new Predicate[0];
    private static final Context EMPTY = new Context(NO_VALUES, NO_HANDLERS);
    /** Each thread's current context, in a cell the loop keeps a reference to (no lookup per task). */
    private static final ThreadLocal<Cell> CURRENT = ThreadLocal.withInitial(Cell::new);

    /** A thread's current context. Only its own thread touches it. */
    static final class Cell {
        Context value = EMPTY;
    }

    /** Alternating keys and values. */
    private final Object[] values;
    /** Outermost first. */
    private final Predicate<? super Throwable>[] handlers;

    private Context(Object[] values, Predicate<? super Throwable>[] handlers) {
        this.values = values;
        this.handlers = handlers;
    }

    /** The context of the running task, or of the enclosing {@link #run}; {@link #empty()} elsewhere. */
    public static Context current() {
        return CURRENT.get().value;
    }

    /** The context with no values and no exception handlers. */
    public static Context empty() {
        return EMPTY;
    }

    /** A new key; {@code name} is only for diagnostics. */
    public static <T> Key<T> key(String name) {
        return new Key<>(Objects.requireNonNull(name, "name"));
    }

    /** The value of {@code key}, or null if this context has none. */
    @SuppressWarnings("unchecked")
    public <T> T get(Key<T> key) {
        Objects.requireNonNull(key, "key");
        for (int i = 0; i < values.length; i += 2) {
            if (values[i] == key) {
                return (T) values[i + 1];
            }
        }
        return null;
    }

    /** A copy of this context with {@code key} set to {@code value} (null removes it). */
    public <T> Context with(Key<T> key, T value) {
        Objects.requireNonNull(key, "key");
        for (int i = 0; i < values.length; i += 2) {
            if (values[i] == key) {
                if (value == null) {
                    Object[] copy = new Object[values.length - 2];
                    System.arraycopy(values, 0, copy, 0, i);
                    System.arraycopy(values, i + 2, copy, i, values.length - i - 2);
                    return new Context(copy, handlers);
                }
                Object[] copy = values.clone();
                copy[i + 1] = value;
                return new Context(copy, handlers);
            }
        }
        if (value == null) {
            return this;
        }
        Object[] copy = Arrays.copyOf(values, values.length + 2);
        copy[values.length] = key;
        copy[values.length + 1] = value;
        return new Context(copy, handlers);
    }

    /**
     * A copy of this context with {@code handler} as its innermost exception handler. When a task
     * scheduled under the result throws, the handlers see the exception innermost first; the first
     * that returns true handles it. Unhandled, it goes to the loop's exception handler. A handler
     * that throws passes its own exception (with the original suppressed) on to the next one out.
     */
    public Context withExceptionHandler(Predicate<? super Throwable> handler) {
        Objects.requireNonNull(handler, "handler");
        Predicate<? super Throwable>[] copy = Arrays.copyOf(handlers, handlers.length + 1);
        copy[handlers.length] = handler;
        return new Context(values, copy);
    }

    /** Runs {@code r} with this context current on this thread, and restores the previous one after. */
    public void run(Runnable r) {
        Objects.requireNonNull(r, "r");
        Cell cell = CURRENT.get();
        Context previous = cell.value;
        cell.value = this;
        try {
            r.run();
        } finally {
            cell.value = previous;
        }
    }

    /** Calls {@code c} with this context current on this thread, and restores the previous one after. */
    public <T> T call(Callable<T> c) throws Exception {
        Objects.requireNonNull(c, "c");
        Cell cell = CURRENT.get();
        Context previous = cell.value;
        cell.value = this;
        try {
            return c.call();
        } finally {
            cell.value = previous;
        }
    }

    /** A runnable that runs {@code r} under this context, wherever it is called (e.g. another executor). */
    public Runnable wrap(Runnable r) {
        Objects.requireNonNull(r, "r");
        return () -> run(r);
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("Context{");
        for (int i = 0; i < values.length; i += 2) {
            s.append(i == 0 ? "" : ", ").append(((Key<?>) values[i]).name).append('=').append(values[i + 1]);
        }
        return s.append(handlers.length == 0 ? "" : ", handlers=" + handlers.length).append('}').toString();
    }

    /** The calling thread's cell: the loop sets and reads its thread's current context through it. */
    static Cell cell() {
        return CURRENT.get();
    }

    /** Offers {@code error} to the exception handlers, innermost first; returns the still-unhandled error or null. */
    Throwable handle(Throwable error) {
        for (int i = handlers.length - 1; i >= 0; i--) {
            try {
                if (handlers[i].test(error)) {
                    return null;
                }
            } catch (VirtualMachineError e) {
                throw e;
            } catch (Throwable thrown) {
                if (thrown != error) { // a handler that rethrows what it was given: self-suppression would throw
                    thrown.addSuppressed(error);
                }
                error = thrown;
            }
        }
        return error;
    }
}
