package io.eddy.ioloop;

import io.eddy.ioloop.internal.LoopAccess;
import io.eddy.ioloop.internal.Poller;
import io.eddy.ioloop.internal.Watchdog;

import java.nio.channels.SelectableChannel;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * A single-threaded event loop: Tornado's IOLoop on java.nio.
 *
 * <p>The loop runs on the thread that calls {@link #start()} (the <em>loop thread</em>) until
 * {@link #stop()}. Each iteration, in order: (1) takes the callbacks queued so far and the timeouts
 * due now; (2) runs those callbacks, first in first out; (3) runs those timeouts in (deadline,
 * insertion) order, skipping any cancelled meanwhile; (4) polls for I/O, without waiting if callbacks
 * are pending, else until the next deadline (at most one hour), and not at all once {@code stop()} was
 * called; (5) calls the handlers of the ready channels.
 *
 * <pre>{@code
 * IOLoop loop = IOLoop.create();
 * loop.addHandler(serverChannel, (server, events) -> {
 *     SocketChannel client = server.accept();
 *     ...
 * }, IOLoop.READ);
 * loop.callLater(Duration.ofSeconds(30), loop::stop);
 * loop.start();
 * loop.close(true);
 * }</pre>
 *
 * <p>Threads: callbacks ({@link #addCallback}, {@link #execute}, {@link #spawnCallback}, {@link #submit},
 * {@link #addFuture}, {@link #runInExecutor}), timeouts ({@link #callAt}, {@link #callLater},
 * {@link Timeout#cancel()}), {@link #stop()}, {@link #shutdown()}, {@link #startInNewThread},
 * {@link #time()}, {@link #stats()}, the blocking thresholds, the state queries ({@link #isRunning()},
 * {@link #isClosed()}, {@link #inLoopThread()}) and the static methods are thread-safe.
 * {@link #start()} and {@link #runSync} run the loop on the calling thread; {@link #close()} is for any
 * thread once the loop has stopped. Handler methods ({@link #addHandler}, {@link #updateHandler},
 * {@link #removeHandler}) are for the loop thread, or any thread while the loop is not running.
 * Everything the loop calls (callbacks, timeouts, handlers) runs on the loop thread.
 */
public final class IOLoop implements Executor, AutoCloseable {

    /** No events: the channel stays registered but is not reported. */
    public static final int NONE = 0;
    /** The channel can be read (or, for a server channel, a connection accepted). */
    public static final int READ = 0x001;
    /** The channel can be written (or, for a connecting channel, the connect finished or failed). */
    public static final int WRITE = 0x004;
    /** An error or hang-up; always subscribed. java.nio reports these as READ or WRITE instead. */
    public static final int ERROR = 0x018;

    private static final System.Logger LOG = System.getLogger("io.eddy.ioloop");

    // The parts the loop hands its work to; each one's Javadoc says who may call what from which thread.
    static {
        LoopAccess.install(new InternalAccess());
    }

    private final Clock clock;
    final Poller poller; // InternalAccess reads these three
    final LoopState state = new LoopState();
    final Handlers handlers;
    private final Wakeup wakeup;
    private final Scheduler scheduler;
    private final LoopIteration iteration;
    private final FutureBridge futures;
    private final Lifecycle lifecycle;
    private final Watchdog.Watch watch = new Watchdog.Watch();

    private IOLoop(Builder b) {
        this.clock = b.clock;
        VirtualClock virtualClock = b.clock instanceof VirtualClock v ? v : null;
        this.poller = Backends.open(b.backend);
        this.handlers = new Handlers(poller);
        this.wakeup = new Wakeup(poller);
        this.scheduler = new Scheduler(state, clock, wakeup);
        TaskRunner tasks = new TaskRunner(state, b.exceptionHandler);
        this.iteration = new LoopIteration(state, scheduler, tasks, poller, wakeup, watch, clock);
        this.futures = new FutureBridge(this, scheduler);
        this.lifecycle = new Lifecycle(this, state, handlers, wakeup, scheduler, tasks, iteration, watch, virtualClock);
        if (virtualClock != null) {
            virtualClock.attach(this);
        }
        if (b.blockingThreshold != null) {
            setBlockingLogThreshold(b.blockingThreshold);
        }
    }

    // ---------------------------------------------------------------- creation and the current loop

    /**
     * A new loop on the platform's best backend, or the one the system property {@code eddy.backend} names
     * (checked as {@link Builder#backend} checks it). Does not change {@link #current()}.
     */
    public static IOLoop create() {
        Builder builder = builder();
        builder.backend = Backends.fromSystemProperty();
        return builder.build();
    }

    /** A builder for a loop with a chosen clock, exception handler, blocking threshold or backend. */
    public static Builder builder() {
        return new Builder();
    }

    /** Options of a new loop. Not thread-safe; use from one thread. */
    public static final class Builder {
        private Clock clock = Clock.SYSTEM;
        private Consumer<Throwable> exceptionHandler = TaskRunner::logException;
        private Duration blockingThreshold;
        /** A name {@link Backends#checked} accepted; null: the best available. */
        private String backend;

        private Builder() {
        }

        /** The clock that drives timeouts; default {@link Clock#SYSTEM}. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Receives what callbacks, timeouts and handlers throw and no {@link Context} handler took;
         * replaces the default, which logs "Exception in callback" at ERROR. Runs on the loop thread.
         */
        public Builder exceptionHandler(Consumer<Throwable> handler) {
            this.exceptionHandler = Objects.requireNonNull(handler, "handler");
            return this;
        }

        /**
         * See {@link IOLoop#setBlockingLogThreshold}.
         *
         * @throws IllegalArgumentException if {@code threshold} is negative (here, before {@link #build()} opens anything)
         */
        public Builder blockingLogThreshold(Duration threshold) {
            checkBlockingThreshold(threshold);
            this.blockingThreshold = threshold;
            return this;
        }

        /**
         * The I/O backend by name; default: the one {@code -Deddy.backend} names, else {@code "epoll"} where
         * it is available, else {@code "nio"}. {@code "nio"} (java.nio's Selector) is always available.
         * {@code "epoll"} (Linux epoll through java.lang.foreign, x86_64 and aarch64) needs native access for
         * Eddy's module and java.base's {@code sun.nio.ch} exported to it: {@code --enable-native-access=io.eddy
         * --add-exports java.base/sun.nio.ch=io.eddy} ({@code ALL-UNNAMED} for both on the class path).
         *
         * @throws IllegalStateException    for {@code "epoll"} where it is not available, saying what is missing
         * @throws IllegalArgumentException for an unknown name
         */
        public Builder backend(String name) {
            this.backend = Backends.checked(name);
            return this;
        }

        /** A new loop. */
        public IOLoop build() {
            return new IOLoop(this);
        }
    }

    /** The process-wide loop, created on first use. Thread-safe. */
    public static IOLoop instance() {
        return LoopRegistry.instance();
    }

    /**
     * Makes this loop the process-wide {@link #instance()}. Thread-safe.
     *
     * @throws IllegalStateException if an instance exists already
     */
    public void install() {
        LoopRegistry.install(this);
    }

    /** Forgets the process-wide instance (without closing it). Thread-safe. */
    public static void clearInstance() {
        LoopRegistry.clearInstance();
    }

    /** The loop current on this thread (running here, or set by {@link #makeCurrent()}), else {@link #instance()}. */
    public static IOLoop current() {
        return current(true);
    }

    /** Like {@link #current()}, but with {@code instance == false} returns null when this thread has no loop. */
    public static IOLoop current(boolean instance) {
        return LoopRegistry.current(instance);
    }

    /** Makes this loop current on the calling thread. */
    public void makeCurrent() {
        LoopRegistry.makeCurrent(this);
    }

    /** Makes no loop current on the calling thread. */
    public static void clearCurrent() {
        LoopRegistry.clearCurrent();
    }

    // ---------------------------------------------------------------- handlers

    /**
     * Calls {@code handler} on the loop thread whenever {@code channel} is ready for {@code events}.
     * The channel is put in non-blocking mode. READ on a server channel means a connection can be
     * accepted; WRITE on a connecting channel means the connect finished or failed.
     * The handler runs under the {@link Context} current now.
     *
     * <p>Loop thread, or any thread while the loop is not running.
     *
     * @throws IllegalArgumentException if the channel is registered already (the first handler stays),
     *                                  is closed, or does not support {@code events}
     * @throws IllegalStateException    from a foreign thread while the loop runs, or on a closed loop
     */
    public <C extends SelectableChannel> void addHandler(C channel, Handler<? super C> handler, int events) {
        Objects.requireNonNull(channel, "channel");
        Objects.requireNonNull(handler, "handler");
        Handlers.checkEvents(events);
        state.checkHandlerCall("addHandler");
        handlers.add(channel, handler, events, Context.current());
    }

    /**
     * Changes the events {@code channel} is watched for.
     *
     * <p>Loop thread, or any thread while the loop is not running.
     *
     * @throws IllegalArgumentException if the channel has no handler (or was closed)
     */
    public void updateHandler(SelectableChannel channel, int events) {
        Objects.requireNonNull(channel, "channel");
        Handlers.checkEvents(events);
        state.checkHandlerCall("updateHandler");
        handlers.update(channel, events);
    }

    /**
     * Stops watching {@code channel}; an event of it already polled in this iteration is dropped.
     * Does nothing if the channel has no handler. Does not close the channel. (A java.nio channel that
     * was registered and is then closed releases its socket at the loop's next poll: until then, a
     * closed listening socket can still complete a client's connect.)
     *
     * <p>Loop thread, or any thread while the loop is not running.
     */
    public void removeHandler(SelectableChannel channel) {
        Objects.requireNonNull(channel, "channel");
        state.checkHandlerCall("removeHandler");
        handlers.remove(channel);
    }

    // ---------------------------------------------------------------- running

    /**
     * Runs the loop on the calling thread until {@link #stop()}, or until the thread is interrupted (the
     * interrupt flag stays set). The loop is current on this thread meanwhile. If {@code stop()} was
     * called before, returns at once without running anything.
     *
     * @throws IllegalStateException if the loop is running already (also from one of its own
     *                               callbacks) or closed
     */
    public void start() {
        lifecycle.start(null);
    }

    /**
     * Stops the loop: {@link #start()} returns before its next poll. The callbacks and due timeouts of
     * the current iteration still run; those queued later are kept for the next {@code start()}.
     * Before {@code start()}, makes the next {@code start()} return at once. Thread-safe.
     */
    public void stop() {
        lifecycle.stop();
    }

    /**
     * Runs {@code fn} as a callback, runs the loop on the calling thread until the stage it returns
     * completes, and returns the stage's value (a null stage counts as a null value). Once it has returned
     * or thrown, nothing it left behind acts on the loop: a later completion of the stage does not stop a
     * later {@code start()}, and {@code fn} never runs if the loop stopped before it did.
     *
     * @throws Exception             what {@code fn} threw, or the stage's failure (unwrapped)
     * @throws IllegalStateException if the loop is running already, or was stopped before the stage completed
     */
    public <T> T runSync(Callable<? extends CompletionStage<? extends T>> fn) throws Exception {
        return runSync(fn, null);
    }

    /**
     * Like {@link #runSync(Callable)}, giving up after {@code timeout} on the loop's clock (null: never).
     *
     * @throws TimeoutException         if the stage did not complete in time; the stage is cancelled if it is a
     *                                  {@link Future}
     * @throws IllegalArgumentException if {@code timeout} is zero or negative
     */
    public <T> T runSync(Callable<? extends CompletionStage<? extends T>> fn, Duration timeout) throws Exception {
        return RunSync.run(this, fn, timeout);
    }

    /** True while {@link #start()} runs. Any thread. */
    public boolean isRunning() {
        return state.isRunning();
    }

    /** True once {@link #close()} ran. Any thread. */
    public boolean isClosed() {
        return state.isClosed();
    }

    /** True on the thread that runs this loop now. Any thread. */
    public boolean inLoopThread() {
        return state.inLoopThread();
    }

    /** {@code close(false)}. */
    @Override
    public void close() {
        close(false);
    }

    /**
     * Closes the backend and, if {@code closeChannels}, every channel with a handler. Pending timeouts
     * are cancelled and queued callbacks discarded (logged at DEBUG with their count; a discarded callback
     * that is a {@link Future}, such as a {@link java.util.concurrent.FutureTask}, is cancelled, and the
     * future of a {@link #submit} whose task never ran fails with {@link RejectedExecutionException}); later
     * callbacks and timeouts are rejected with {@link RejectedExecutionException}. Idempotent.
     * Any thread, once the loop has stopped.
     *
     * @throws IllegalStateException if the loop is running
     */
    public void close(boolean closeChannels) {
        lifecycle.close(closeChannels);
    }

    /**
     * Stops the loop and closes it with its channels once {@link #start()} has returned (at once if
     * it is not running). For shutdown hooks and other threads. Thread-safe.
     *
     * @return completes when the loop is closed
     */
    public CompletableFuture<Void> shutdown() {
        return lifecycle.shutdown();
    }

    /**
     * Starts the loop on a new platform thread named {@code threadName} and returns the thread once the
     * loop runs there (so a {@link #shutdown()} right after stops it rather than racing its start).
     *
     * @throws IllegalStateException if the loop is running or closed
     */
    public Thread startInNewThread(String threadName) {
        Objects.requireNonNull(threadName, "threadName");
        return lifecycle.startInNewThread(threadName);
    }

    /** The I/O backend this loop runs on: {@code "epoll"} or {@code "nio"} (see {@link Builder#backend}). Any thread. */
    public String backend() {
        return poller.name();
    }

    /**
     * The loop's bookkeeping: exact on the loop thread (or while it is not running), a recent
     * snapshot elsewhere. A channel closed without {@link #removeHandler} stops counting once the
     * loop thread asks.
     */
    public LoopStats stats() {
        if (state.callerOwnsLoop()) {
            handlers.recount();
        }
        return new LoopStats(handlers.count(), scheduler.pendingCallbacks(), scheduler.pendingTimeouts(), iteration.iterations());
    }

    // ---------------------------------------------------------------- callbacks

    /**
     * Runs {@code callback} on the loop thread in the next iteration, under the {@link Context}
     * current now. FIFO: a call that happens-before another runs its callback first. Thread-safe;
     * wakes a sleeping loop.
     *
     * @throws RejectedExecutionException if the loop is closed
     */
    public void addCallback(Runnable callback) {
        Objects.requireNonNull(callback, "callback");
        scheduler.addCallback(callback);
    }

    /** The same as {@link #addCallback}: the loop as an {@link Executor}. */
    @Override
    public void execute(Runnable command) {
        addCallback(command);
    }

    /** Like {@link #addCallback}, but runs under {@link Context#empty()}: for fire-and-forget work. */
    public void spawnCallback(Runnable callback) {
        Objects.requireNonNull(callback, "callback");
        scheduler.enqueue(callback, Context.empty());
    }

    /**
     * Runs {@code task} on the loop; the future completes (on the loop thread) with its result or
     * exception, or fails with {@link RejectedExecutionException} if the loop closes before the task ran.
     * For other threads that need something done on the loop. Thread-safe.
     *
     * @throws RejectedExecutionException if the loop is closed
     */
    public <T> CompletableFuture<T> submit(Callable<T> task) {
        Objects.requireNonNull(task, "task");
        return futures.submit(task);
    }

    /**
     * Calls {@code callback} on the loop thread, in a later iteration, once {@code stage} completes
     * (even if it is complete already), under the {@link Context} current now. A failure arrives
     * unwrapped from {@link CompletionException}. Thread-safe.
     */
    public <T> void addFuture(CompletionStage<T> stage, BiConsumer<? super T, ? super Throwable> callback) {
        Objects.requireNonNull(stage, "stage");
        Objects.requireNonNull(callback, "callback");
        futures.addFuture(stage, callback);
    }

    /**
     * Runs {@code fn} on {@code executor} (null: the default executor, one virtual thread per task);
     * the returned future completes on the loop thread, or on the executor's thread if the loop has
     * closed meanwhile. The {@link Context} is not carried to the executor ({@link Context#wrap} opts in).
     * Thread-safe.
     */
    public <T> CompletableFuture<T> runInExecutor(Executor executor, Callable<T> fn) {
        Objects.requireNonNull(fn, "fn");
        return futures.runInExecutor(executor, fn);
    }

    /**
     * The executor {@link #runInExecutor} uses for a null executor; null restores one virtual thread per task.
     * Thread-safe.
     */
    public void setDefaultExecutor(Executor executor) {
        futures.setDefaultExecutor(executor);
    }

    /** Wakes the loop if it is (about to be) blocked in poll (for {@link VirtualClock#advance}). Any thread. */
    void wakeUp() {
        wakeup.wake();
    }

    // ---------------------------------------------------------------- time and timeouts

    /** Now on the loop's clock, in nanoseconds. Thread-safe. */
    public long time() {
        return clock.nanoTime();
    }

    /**
     * Runs {@code callback} on the loop thread once {@link #time()} reaches {@code deadlineNanos}, under
     * the {@link Context} current now. A deadline in the past runs in the next iteration. Thread-safe;
     * wakes a sleeping loop if the new deadline is earlier than the one it sleeps for.
     *
     * @throws RejectedExecutionException if the loop is closed
     */
    public Timeout callAt(long deadlineNanos, Runnable callback) {
        Objects.requireNonNull(callback, "callback");
        return scheduler.callAt(deadlineNanos, callback);
    }

    /** {@link #callAt} at {@code time() + delay}, saturating at {@link Long#MAX_VALUE} (never due). */
    public Timeout callLater(Duration delay, Runnable callback) {
        Objects.requireNonNull(delay, "delay");
        return callAt(scheduler.deadlineAfter(delay), callback);
    }

    /** The same as {@link #callAt}. */
    public Timeout addTimeout(long deadlineNanos, Runnable callback) {
        return callAt(deadlineNanos, callback);
    }

    /** The same as {@link #callLater}. */
    public Timeout addTimeout(Duration delay, Runnable callback) {
        return callLater(delay, callback);
    }

    /** Cancels {@code timeout}; a no-op if it ran or was cancelled already. Thread-safe. */
    public void removeTimeout(Timeout timeout) {
        Objects.requireNonNull(timeout, "timeout").cancel();
    }

    // ---------------------------------------------------------------- errors and diagnostics

    /**
     * Logs a WARNING "IOLoop blocked for N ms" with the loop thread's stack, captured while it is still
     * blocked, whenever one iteration's work (everything but the poll) lasts longer than
     * {@code threshold} (real time, also on a {@link VirtualClock}). Null or zero disables. Any thread.
     */
    public void setBlockingLogThreshold(Duration threshold) {
        configureWatch(threshold, IOLoop::logBlocked);
    }

    /**
     * Like {@link #setBlockingLogThreshold}, with a custom {@code action}; it runs on the watchdog thread
     * while the loop is blocked. Null or zero disables. Any thread.
     */
    public void setBlockingThreshold(Duration threshold, Consumer<StackTraceElement[]> action) {
        if (threshold != null && !threshold.isZero()) {
            Objects.requireNonNull(action, "action");
        }
        configureWatch(threshold, action == null ? null : (nanos, stack) -> action.accept(stack));
    }

    private void configureWatch(Duration threshold, Watchdog.Action action) {
        checkBlockingThreshold(threshold);
        watch.configure(threshold, action);
    }

    private static void checkBlockingThreshold(Duration threshold) {
        if (threshold != null && threshold.isNegative()) {
            throw new IllegalArgumentException("blocking threshold must not be negative (null or zero: off): " + threshold);
        }
    }

    private static void logBlocked(long blockedNanos, StackTraceElement[] stack) {
        StringBuilder message = new StringBuilder("IOLoop blocked for ").append(blockedNanos / 1_000_000).append(" ms");
        for (StackTraceElement e : stack) {
            message.append("\n\tat ").append(e);
        }
        LOG.log(System.Logger.Level.WARNING, message.toString());
    }

    @Override
    public String toString() {
        return "IOLoop[" + poller.name() + (state.isRunning() ? ", running on " + state.loopThread().getName() : "")
                + (state.isClosed() ? ", closed" : "") + "]";
    }
}
