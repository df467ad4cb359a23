package io.eddy.ioloop;

import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** For the bad-input tests of every package: a call that must fail with a message naming what was wrong. */
public final class BadInput {

    private BadInput() {
    }

    /** Asserts {@code call} throws {@code type} with a message containing every one of {@code parts}. */
    public static <T extends Throwable> T assertFails(Class<T> type, Executable call, String... parts) {
        T e = assertThrows(type, call);
        for (String part : parts) {
            assertTrue(e.getMessage() != null && e.getMessage().contains(part),
                    "message should name '" + part + "': " + e.getMessage());
        }
        return e;
    }
}
