package io.eddy.ioloop.internal;

/**
 * Logging that cannot throw: for the paths that report a failure and must go on whatever happens (the loop's
 * last-resort report, the accept back-off). Out of file descriptors, a log backend may fail too (the JDK's
 * formatter loads its time-zone data from a file); then one line goes to standard error, or nothing.
 */
public final class QuietLog {

    private QuietLog() {
    }

    /** Logs {@code message} (and {@code thrown}, if not null); throws nothing but a {@link VirtualMachineError}. */
    public static void log(System.Logger logger, System.Logger.Level level, String message, Throwable thrown) {
        try {
            logger.log(level, message, thrown);
        } catch (VirtualMachineError e) {
            throw e;
        } catch (Throwable logFailed) {
            try {
                System.err.println(logger.getName() + ": " + message + (thrown != null ? " (" + thrown + ")" : "")
                        + "; logging it failed (" + logFailed + ")");
            } catch (VirtualMachineError e) {
                throw e;
            } catch (Throwable ignored) {
                // nowhere left to report to
            }
        }
    }
}
