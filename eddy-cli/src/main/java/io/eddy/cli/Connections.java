package io.eddy.cli;

import io.eddy.iostream.IOStream;
import io.eddy.tcp.TCPClient;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Opens many connections to one address with a bounded number of connects in flight, so that a
 * server's listen backlog (128 in Tornado and in many servers) is not overrun. Loop thread only.
 */
final class Connections {

    /** Connects in flight at once. */
    static final int WINDOW = 64;

    private final TCPClient client = new TCPClient();
    private final LoadOptions options;
    private final int count;
    private final List<IOStream> opened = new ArrayList<>();
    private final CompletableFuture<List<IOStream>> done = new CompletableFuture<>();
    private int started;

    private Connections(LoadOptions options, int count) {
        this.options = options;
        this.count = count;
    }

    /**
     * Opens {@code count} connections on the current loop; fails with the first connect error (the
     * connections opened so far are closed then).
     */
    static CompletableFuture<List<IOStream>> open(LoadOptions options, int count) {
        Connections c = new Connections(options, count);
        for (int i = 0; i < Math.min(WINDOW, count); i++) {
            c.next();
        }
        return c.done;
    }

    private void next() {
        if (started == count || done.isDone()) {
            return;
        }
        started++;
        client.connect(options.host(), options.port()).whenComplete((stream, e) -> {
            if (e != null) {
                opened.forEach(IOStream::close);
                done.completeExceptionally(e);
                return;
            }
            if (done.isDone()) {
                stream.close();
                return;
            }
            stream.setNoDelay(true);
            opened.add(stream);
            if (opened.size() == count) {
                done.complete(opened);
            } else {
                next();
            }
        });
    }
}
