package io.eddy.ioloop;

import java.util.concurrent.CompletableFuture;

/**
 * Where the loop is in its life, as every part reads it: the thread running it, whether it runs, is
 * closed or was asked to stop, and that thread's context cell.
 *
 * <p>Threads: the transitions ({@link #enter}, {@link #exit}, {@link #markClosed},
 * {@link #closeWhenStopped}) synchronize on this object, and {@link Lifecycle#shutdown} holds that lock
 * across a whole close so that no {@code start()} comes between its check and the close. The reads take no
 * lock: the fields are volatile, so a hot path pays one volatile read to learn whether it runs on the
 * loop thread or whether the loop is closed.
 */
final class LoopState {

    private volatile Thread loopThread;
    private volatile boolean running;
    private volatile boolean closed;
    private volatile boolean stopRequested;
    /** The loop thread's current-context cell, while it runs. Loop thread only. */
    private Context.Cell contextCell;
    private CompletableFuture<Void> shutdownFuture; // guarded by this

    /** True on the thread that runs the loop now. Any thread. */
    boolean inLoopThread() {
        return loopThread == Thread.currentThread();
    }

    /** True while {@code start()} runs. Any thread. */
    boolean isRunning() {
        return running;
    }

    /** True once {@code close()} began. Any thread. */
    boolean isClosed() {
        return closed;
    }

    /** Whether {@code stop()} was called since the loop last started or stopped. Any thread. */
    boolean stopRequested() {
        return stopRequested;
    }

    /** The context cell of the thread running the loop: the loop thread's current context. Loop thread only. */
    Context.Cell contextCell() {
        return contextCell;
    }

    /** The thread running the loop, or null. Any thread. */
    Thread loopThread() {
        return loopThread;
    }

    /** {@code stop()}: the loop leaves before its next poll, or its next start returns at once. Any thread. */
    void requestStop() {
        stopRequested = true;
    }

    /**
     * Whether the calling thread may read the loop thread's own state: it runs the loop, or no thread
     * does (and the loop is open).
     */
    boolean callerOwnsLoop() {
        Thread owner = loopThread;
        return !closed && (owner == null || owner == Thread.currentThread());
    }

    /**
     * Rejects a handler method ({@code method} names it) on a closed loop, or from a foreign thread while
     * the loop runs.
     */
    void checkHandlerCall(String method) {
        if (closed) {
            throw new IllegalStateException(method + " on a closed IOLoop");
        }
        if (running && loopThread != Thread.currentThread()) {
            throw new IllegalStateException(method + " called from thread '" + Thread.currentThread().getName()
                    + "' while the IOLoop runs on '" + loopThread.getName()
                    + "'; use addCallback to run it on the loop thread");
        }
    }

    /**
     * The calling thread starts running the loop. Returns false if a {@code stop()} came first: that stop is
     * used up, and the loop does not run.
     *
     * @throws IllegalStateException if the loop is closed or running
     */
    synchronized boolean enter() {
        if (closed) {
            throw new IllegalStateException("IOLoop is closed");
        }
        if (running) {
            throw new IllegalStateException("IOLoop is already running");
        }
        if (stopRequested) {
            stopRequested = false;
            return false;
        }
        running = true;
        contextCell = Context.cell(); // before loopThread: the loop-thread fast paths read it
        loopThread = Thread.currentThread();
        return true;
    }

    /** The loop thread leaves {@code start()}; returns the future of a shutdown that came meanwhile, or null. */
    synchronized CompletableFuture<Void> exit() {
        stopRequested = false;
        loopThread = null;
        running = false;
        return shutdownFuture;
    }

    /**
     * {@code close()} begins: from now on the loop rejects new work. Returns false if it was closed already.
     *
     * @throws IllegalStateException if the loop is running
     */
    synchronized boolean markClosed() {
        if (running) {
            throw new IllegalStateException("cannot close a running IOLoop; stop it first (or use shutdown())");
        }
        if (closed) {
            return false;
        }
        closed = true;
        return true;
    }

    /** The future that {@link #exit()} hands back, for a shutdown while the loop runs. */
    synchronized CompletableFuture<Void> closeWhenStopped() {
        if (shutdownFuture == null) {
            shutdownFuture = new CompletableFuture<>();
        }
        return shutdownFuture;
    }
}
