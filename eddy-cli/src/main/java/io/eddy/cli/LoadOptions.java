package io.eddy.cli;

import java.time.Duration;

/**
 * The settings of one {@code eddy bench} run, checked by {@link BenchCommand}.
 *
 * @param host        the server's host (only this address is ever connected to)
 * @param port        the server's port
 * @param connections echo: connections; connect-storm: connects in flight at once; idle: connections to hold
 * @param size        bytes per message, at least 1
 * @param depth       messages in flight per connection (echo)
 * @param warmup      time before measuring starts
 * @param duration    the measured time
 */
record LoadOptions(String host, int port, int connections, int size, int depth, Duration warmup, Duration duration) {

    String target() {
        return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
    }

    /** How long a run may take at most before it gives up: its own time plus a minute to connect and close. */
    Duration limit() {
        return warmup.plus(duration).plusMinutes(1);
    }
}
