/**
 * Buffered non-blocking streams on an {@link io.eddy.ioloop.IOLoop}: read until a delimiter, read n
 * bytes, write with futures that complete when the bytes reached the kernel.
 */
package io.eddy.iostream;
