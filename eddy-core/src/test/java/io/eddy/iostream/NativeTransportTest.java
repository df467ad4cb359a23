package io.eddy.iostream;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.internal.LibC;
import io.eddy.ioloop.internal.NativeSockets;
import io.eddy.iostream.internal.StreamAccess;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A stream on a native socket (epoll loops, whatever backend the rest of the suite runs on). */
class NativeTransportTest {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle OPEN = LINKER.downcallHandle(LINKER.defaultLookup().find("open").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle DUP2 = LINKER.downcallHandle(LINKER.defaultLookup().find("dup2").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));

    @Test
    void aSocketTheLoopCannotWatchClosesItsStreamAndFailsTheReadWithWhy() throws Throwable {
        try (IOLoop loop = IOLoop.builder().backend("epoll").build();
             ServerSocketChannel listener = ServerSocketChannel.open()
                     .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             Arena arena = Arena.ofConfined()) {
            LibC.Errno errno = new LibC.Errno(arena);
            InetSocketAddress to = (InetSocketAddress) listener.getLocalAddress();
            int fd = NativeSockets.open(errno, NativeSockets.familyOf(to.getAddress()));
            NativeSockets.connect(errno, fd, to, arena);
            try (SocketChannel peer = listener.accept()) {
                peer.write(ByteBuffer.wrap("hello".getBytes(StandardCharsets.US_ASCII)));
                IOStream stream = StreamAccess.get().accepted(loop, fd, to, StreamOptions.defaults()); // owns fd now

                byte[] first = loop.runSync(() -> stream.readBytes(5), Duration.ofSeconds(10));
                assertEquals("hello", new String(first, StandardCharsets.US_ASCII));

                // The descriptor now names /dev/null, which epoll refuses (EPERM): the next read, with nothing
                // buffered and the socket drained, has to wait for an event it can never be told of.
                int devNull = (int) OPEN.invokeExact(arena.allocateFrom("/dev/null"), 0x80000 /* O_CLOEXEC */);
                assertTrue(devNull >= 0, "open /dev/null");
                assertEquals(fd, (int) DUP2.invokeExact(devNull, fd));
                LibC.close(errno, devNull);

                CompletableFuture<byte[]> next = loop.runSync(
                        () -> CompletableFuture.completedFuture(stream.readBytes(1)), Duration.ofSeconds(10));
                ExecutionException failed = assertThrows(ExecutionException.class, () -> next.get(10, TimeUnit.SECONDS));
                assertInstanceOf(StreamClosedException.class, failed.getCause());
                Throwable why = failed.getCause().getCause();
                assertSame(stream.error(), why);
                assertTrue(why.getMessage().startsWith("cannot watch the socket for events: ")
                        && why.getMessage().contains("epoll_ctl") && why.getMessage().contains("Operation not permitted"),
                        why.getMessage());
                assertTrue(stream.closed());
            }
        }
    }
}
