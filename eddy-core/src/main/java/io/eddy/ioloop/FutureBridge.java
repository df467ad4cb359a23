package io.eddy.ioloop;

import io.eddy.ioloop.internal.Discardable;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;

/**
 * Where futures meet the loop: {@link IOLoop#submit} (a task whose future the loop completes),
 * {@link IOLoop#addFuture} (a stage whose completion queues a callback) and
 * {@link IOLoop#runInExecutor} (work on another executor whose result comes back through the loop).
 * Each becomes a callback on the {@link Scheduler}. Any thread; the arguments are checked for null by
 * {@link IOLoop}.
 */
final class FutureBridge {

    private static final System.Logger LOG = System.getLogger("io.eddy.ioloop");

    private final IOLoop loop;
    private final Scheduler scheduler;
    private volatile Executor defaultExecutor;

    FutureBridge(IOLoop loop, Scheduler scheduler) {
        this.loop = loop;
        this.scheduler = scheduler;
    }

    /** {@link IOLoop#submit}. */
    <T> CompletableFuture<T> submit(Callable<T> task) {
        CompletableFuture<T> future = new CompletableFuture<>();
        scheduler.addCallback(new Discardable() {
            @Override
            public void run() {
                try {
                    future.complete(task.call());
                } catch (Throwable t) {
                    future.completeExceptionally(t);
                }
            }

            @Override
            public void discarded() {
                future.completeExceptionally(new RejectedExecutionException(loop + " closed before the task ran"));
            }
        });
        return future;
    }

    /** {@link IOLoop#addFuture}. */
    <T> void addFuture(CompletionStage<T> stage, BiConsumer<? super T, ? super Throwable> callback) {
        Context context = Context.current();
        if (loop.isClosed()) {
            throw new RejectedExecutionException("IOLoop is closed");
        }
        stage.whenComplete((value, error) -> {
            Throwable cause = unwrap(error);
            try {
                scheduler.enqueue(() -> callback.accept(value, cause), context);
            } catch (RejectedExecutionException e) {
                LOG.log(System.Logger.Level.DEBUG, "addFuture callback dropped: the IOLoop closed first");
            }
        });
    }

    /** {@link IOLoop#runInExecutor}. */
    <T> CompletableFuture<T> runInExecutor(Executor executor, Callable<T> fn) {
        Executor target = executor != null ? executor : defaultExecutor();
        CompletableFuture<T> future = new CompletableFuture<>();
        scheduler.executorTaskStarted();
        Runnable work = () -> {
            T value = null;
            Throwable error = null;
            try {
                value = fn.call();
            } catch (Throwable t) {
                error = t;
            }
            T v = value;
            Throwable e = error;
            Runnable complete = () -> {
                scheduler.executorTaskEnded();
                if (e == null) {
                    future.complete(v);
                } else {
                    future.completeExceptionally(e);
                }
            };
            try {
                scheduler.enqueue(complete, null);
            } catch (RejectedExecutionException closedMeanwhile) {
                complete.run();
            }
        };
        try {
            Context.empty().run(() -> target.execute(work));
        } catch (RejectedExecutionException e) {
            scheduler.executorTaskEnded();
            future.completeExceptionally(e);
        }
        return future;
    }

    /** {@link IOLoop#setDefaultExecutor}. */
    void setDefaultExecutor(Executor executor) {
        this.defaultExecutor = executor;
    }

    private Executor defaultExecutor() {
        Executor e = defaultExecutor;
        return e != null ? e : command -> Thread.ofVirtual().name("eddy-executor").start(command);
    }

    private static Throwable unwrap(Throwable error) {
        while ((error instanceof CompletionException || error instanceof ExecutionException) && error.getCause() != null) {
            error = error.getCause();
        }
        return error;
    }
}
