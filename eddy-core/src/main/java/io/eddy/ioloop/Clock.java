package io.eddy.ioloop;

/**
 * The time source of a loop: monotonic nanoseconds. {@link #SYSTEM} is {@link System#nanoTime()};
 * {@link VirtualClock} is time that tests move by hand.
 */
@FunctionalInterface
public interface Clock {

    /** {@link System#nanoTime()}. */
    Clock SYSTEM = System::nanoTime;

    /** Now, in nanoseconds from an arbitrary origin. Must never go backwards. */
    long nanoTime();
}
