package io.eddy.cli;

import org.HdrHistogram.Histogram;

import java.util.Locale;

/**
 * What one {@code eddy bench} run measured, as the final text report or as JSON.
 *
 * @param mode        "echo", "connect-storm" or "idle"
 * @param target      host:port
 * @param connections connections (echo), concurrent connects (connect-storm) or connections held (idle)
 * @param size        message size in bytes
 * @param depth       messages in flight per connection (echo; 1 otherwise)
 * @param seconds     the measured time (after the warm-up)
 * @param operations  messages echoed (echo) or connections opened, echoed and closed (connect-storm)
 * @param bytes       bytes echoed back and checked
 * @param errors      failed operations (connect-storm: refused or reset connections)
 * @param latency     nanoseconds per message round trip (echo) or per connect-echo-close (connect-storm)
 * @param kept        idle: connections the server still echoed on at the end
 */
record LoadReport(String mode, String target, int connections, int size, int depth, double seconds,
                  long operations, long bytes, long errors, Histogram latency, int kept) {

    double operationsPerSecond() {
        return seconds > 0 ? operations / seconds : 0;
    }

    double megabytesPerSecond() {
        return seconds > 0 ? bytes / seconds / 1e6 : 0;
    }

    private double micros(double percentile) {
        return latency.getTotalCount() == 0 ? 0 : latency.getValueAtPercentile(percentile) / 1000.0;
    }

    /** The human report, several lines. */
    String toText() {
        StringBuilder b = new StringBuilder();
        switch (mode) {
            case "idle" -> b.append(String.format(Locale.ROOT, "idle: %d connections held to %s; the server kept %d%n",
                    connections, target, kept));
            case "connect-storm" -> b.append(String.format(Locale.ROOT,
                    "connect storm to %s: %,d connections opened, echoed (%d B) and closed in %.1f s, %d at a time%n"
                            + "  %,.0f connections/s, %d errors%n",
                    target, operations, size, seconds, connections, operationsPerSecond(), errors));
            default -> b.append(String.format(Locale.ROOT,
                    "echo to %s: %d connections x depth %d, %d B messages, %.1f s measured%n"
                            + "  %,d messages, %,.0f messages/s, %.2f MB/s (every byte checked)%n",
                    target, connections, depth, size, seconds, operations, operationsPerSecond(), megabytesPerSecond()));
        }
        if (!mode.equals("idle")) {
            b.append(String.format(Locale.ROOT, "  latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f%n",
                    micros(50), micros(90), micros(99), micros(99.9), latency.getMaxValue() / 1000.0));
        }
        return b.toString();
    }

    /** One JSON object, for machines. */
    String toJson() {
        return String.format(Locale.ROOT,
                "{\"mode\":\"%s\",\"target\":\"%s\",\"connections\":%d,\"size\":%d,\"depth\":%d,\"seconds\":%.3f,"
                        + "\"operations\":%d,\"operationsPerSecond\":%.1f,\"bytes\":%d,\"megabytesPerSecond\":%.3f,"
                        + "\"errors\":%d,\"kept\":%d,\"latencyMicros\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
                        + "\"p999\":%.1f,\"max\":%.1f}}",
                mode, target, connections, size, depth, seconds, operations, operationsPerSecond(), bytes,
                megabytesPerSecond(), errors, kept, micros(50), micros(90), micros(99), micros(99.9),
                latency.getMaxValue() / 1000.0);
    }
}
