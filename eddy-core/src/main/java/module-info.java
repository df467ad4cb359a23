/**
 * Eddy: Tornado's IOLoop and the I/O stack above it, for Java 25.
 *
 * <p>{@link io.eddy.ioloop} is the single-threaded event loop, {@link io.eddy.iostream} the buffered
 * streams on it, {@link io.eddy.tcp} TCP servers and clients. Everything under
 * {@code io.eddy.ioloop.internal} is implementation and not exported.
 */
module io.eddy {
    exports io.eddy.ioloop;
    exports io.eddy.iostream;
    exports io.eddy.tcp;
}
