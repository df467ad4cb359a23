package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import io.eddy.iostream.internal.OpenStreams;
import io.eddy.iostream.internal.StreamAccess;
import org.junit.jupiter.api.Test;

import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;

class OpenStreamSetTest {

    @Test
    void streamsLeaveTheSetAsTheyCloseInAnyOrder() throws Exception {
        try (IOLoop loop = IOLoop.create()) {
            OpenStreams set = StreamAccess.get().openStreams();
            List<IOStream> streams = new ArrayList<>();
            List<Integer> sizes = loop.runSync(() -> {
                for (int i = 0; i < 200; i++) {
                    IOStream stream = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
                    streams.add(stream);
                    set.add(stream);
                }
                List<Integer> seen = new ArrayList<>();
                // The middle, the last, the first, then the rest: each close moves another stream's place.
                for (int i : new int[]{20, 199, 0}) {
                    streams.get(i).close();
                    seen.add(set.size());
                }
                streams.get(20).close(); // closing twice leaves once
                seen.add(set.size());
                IOStream closedFirst = new IOStream(SocketChannel.open(), loop, StreamOptions.defaults());
                closedFirst.close();
                set.add(closedFirst); // a closed stream is not counted
                seen.add(set.size());
                streams.forEach(IOStream::close); // the array shrinks on the way down, moving the rest
                seen.add(set.size());
                return CompletableFuture.completedFuture(seen);
            }, Duration.ofSeconds(10));
            assertEquals(List.of(199, 198, 197, 197, 197, 0), sizes);
        }
    }
}
