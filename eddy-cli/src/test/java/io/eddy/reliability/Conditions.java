package io.eddy.reliability;

import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.fail;

/** Waiting for a condition that nothing signals (a process's descriptor count, say), with a deadline. */
final class Conditions {

    static final Duration DEADLINE = Duration.ofSeconds(20);
    private static final long POLL_MILLIS = 10;

    private Conditions() {
    }

    /** Returns once {@code condition} holds; fails naming {@code what} if it does not within {@link #DEADLINE}. */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + DEADLINE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("not within " + DEADLINE + ": " + what);
            }
            Thread.sleep(POLL_MILLIS); // polling: nothing can signal this condition
        }
    }
}
