/**
 * Eddy: Tornado's IOLoop and the I/O stack above it, for Java 25.
 *
 * <p>{@link io.eddy.ioloop} is the single-threaded event loop. Everything under
 * {@code io.eddy.ioloop.internal} is implementation and not exported.
 */
module io.eddy {
    exports io.eddy.ioloop;
}
