/**
 * TCP servers and clients on {@link io.eddy.ioloop.IOLoop}s: listening sockets, accept handlers, name
 * resolution off the loop thread.
 */
package io.eddy.tcp;
