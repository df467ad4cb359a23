/**
 * The event loop: {@link io.eddy.ioloop.IOLoop} and what it schedules.
 *
 * <p>One loop runs on one thread. It watches channels ({@link io.eddy.ioloop.IOLoop#addHandler}),
 * runs callbacks ({@link io.eddy.ioloop.IOLoop#addCallback}) and timeouts
 * ({@link io.eddy.ioloop.IOLoop#callLater}), and calls everything it runs on that thread, so the code it
 * calls needs no locks. Other threads hand work to the loop with {@code addCallback}, {@code submit}
 * or {@code callLater}, which are thread-safe.
 *
 * <p>How it is built, for readers of the source:
 * <ul>
 *   <li>{@code IOLoop} is the public face and its contract; it hands the work to small package-private
 *       parts, each of which says in its Javadoc who may call it from which thread: {@code LoopState}
 *       (which thread runs the loop, running, closed, stop requested), {@code Lifecycle} (start, stop,
 *       close, shutdown), {@code LoopIteration} (the loop's five phases, poll and dispatch),
 *       {@code Scheduler} (callbacks, timeouts, and their hand-off from other threads), {@code Wakeup}
 *       (the sleep in poll and the one wake-up per sleep), {@code TaskRunner} (running a task under its
 *       {@code Context}, reporting what it throws), {@code Handlers} (the handler table over the
 *       poller), {@code FutureBridge} ({@code submit}, {@code addFuture}, {@code runInExecutor}),
 *       {@code RunSync}, {@code LoopRegistry} ({@code instance()}, {@code current()}) and
 *       {@code Backends} (which poller a new loop gets).</li>
 *   <li>Callbacks go through one lock-free queue ({@code TaskQueue}) of array chunks: a producer claims
 *       a number with one CAS and stores the task in its slot, so FIFO holds across threads, nothing is
 *       allocated per callback, and each iteration takes exactly the callbacks numbered before it began.</li>
 *   <li>Timeouts live in a binary heap ({@code TimerHeap}) whose entries know their index, so cancel is
 *       O(log n) and frees the entry at once. Timeouts scheduled or cancelled on other threads pass
 *       through a second queue that the loop moves into the heap at the start of each iteration.</li>
 *   <li>A thread wakes the loop only when the loop is (about to be) blocked in poll: the loop announces
 *       its sleep in a volatile flag, and the first producer to flip it back makes the one wake-up
 *       syscall.</li>
 *   <li>I/O readiness comes from a small internal {@code Poller} interface; the java.nio one polls with
 *       {@code Selector.select(Consumer, timeout)} into a reused event array, then dispatches, so an
 *       event of a handler removed meanwhile is dropped.</li>
 *   <li>The blocked-loop watchdog is one daemon thread for all loops, not a signal: it reads each loop's
 *       "busy since" mark and captures the loop thread's stack while it is still blocked.</li>
 * </ul>
 */
package io.eddy.ioloop;
