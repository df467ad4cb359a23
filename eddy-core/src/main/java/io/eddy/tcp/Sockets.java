package io.eddy.tcp;

import io.eddy.ioloop.IOLoop;
import io.eddy.ioloop.internal.NativeIO;

import java.io.IOException;
import java.net.BindException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Listening sockets and accept handlers: Tornado's {@code netutil}. Static methods only.
 *
 * <pre>{@code
 * IOLoop loop = IOLoop.create();
 * for (ServerSocketChannel server : Sockets.bindSockets(8888, "localhost", null, 128, false)) {
 *     Sockets.addAcceptHandler(loop, server, (channel, address) -> new IOStream(channel, loop, options));
 * }
 * loop.start();
 * }</pre>
 */
public final class Sockets {

    /** Connections accepted per READ event at most (Tornado's default listen backlog). */
    static final int ACCEPTS_PER_EVENT = 128;

    private static final boolean WINDOWS = System.getProperty("os.name", "").startsWith("Windows");

    private Sockets() {
    }

    // ---------------------------------------------------------------- bindSockets

    /**
     * Opens, binds and listens on one non-blocking server socket per address of {@code address}, all on
     * the same port. Any thread; may block on a DNS lookup when {@code address} is a host name other
     * than {@code localhost}, so call it before the loop starts or off the loop thread.
     *
     * <p>Addresses: null or {@code ""} means all interfaces; {@code "localhost"} means the loopback
     * addresses 127.0.0.1 and ::1 without a lookup (RFC 6761); an IP literal means itself; another name
     * means the addresses {@link InetAddress#getAllByName} gives. {@code family} null takes IPv4 and
     * IPv6 addresses, {@link StandardProtocolFamily#INET} or {@code INET6} only that family. Each
     * address is bound once, IPv4 before IPv6. With port 0 the port the first socket gets is reused for
     * the others (Tornado's rule), so that one port serves every family.
     *
     * <p>Every socket has SO_REUSEADDR (except on Windows, where it lets another process steal the
     * port), and SO_REUSEPORT when {@code reusePort} is true, so that several sockets (one per loop
     * thread or process) can share the port.
     *
     * <p>IPv4 and IPv6: Tornado binds a v4 and a v6 socket with IPV6_V6ONLY. The JDK offers no
     * IPV6_V6ONLY option and opens every IPv6 socket dual-stack. A socket bound to a specific IPv6
     * address (such as ::1) only ever receives IPv6 connections, so specific addresses behave as in
     * Tornado. The IPv6 wildcard {@code ::} also receives IPv4 connections (as IPv4-mapped addresses,
     * which Java reports as {@link Inet4Address}es) and would collide with a {@code 0.0.0.0} socket on
     * the same port; so all interfaces with {@code family} null gives a single dual-stack socket on
     * {@code ::} (or on {@code 0.0.0.0} where IPv6 is unavailable), which serves both families. With
     * {@code family} INET6 the wildcard socket accepts IPv4 clients too: the JDK cannot prevent that.
     * The ::1 of {@code localhost} is skipped, when {@code family} is null, if this host has no IPv6
     * loopback (as in Tornado 6.1).
     *
     * @param port      0 to 65535; 0 picks a free port
     * @param address   a host name, an IP literal, {@code "localhost"}, or null or {@code ""} for all
     *                  interfaces
     * @param family    {@link StandardProtocolFamily#INET}, {@link StandardProtocolFamily#INET6}, or
     *                  null for both
     * @param backlog   the listen backlog, at least 1 (Tornado uses 128; {@link ServerOptions#DEFAULT_BACKLOG}
     *                  is the system's maximum)
     * @param reusePort whether to set SO_REUSEPORT
     * @return the bound, listening, non-blocking sockets, in address order; never empty
     * @throws IllegalArgumentException      if the port, backlog or family is out of range, or an IP
     *                                       literal is not of {@code family}
     * @throws UnsupportedOperationException if {@code reusePort} is asked for and the platform lacks
     *                                       SO_REUSEPORT
     * @throws UnknownHostException          if the host name has no address (of that family)
     * @throws BindException                 if an address cannot be bound; the message names the
     *                                       address and the port. Nothing stays open.
     * @throws IOException                   on any other failure; nothing stays open
     */
    public static List<ServerSocketChannel> bindSockets(int port, String address, ProtocolFamily family,
                                                        int backlog, boolean reusePort) throws IOException {
        checkPort(port);
        if (backlog < 1) {
            throw new IllegalArgumentException("backlog must be at least 1, got " + backlog);
        }
        checkFamily(family);
        List<ServerSocketChannel> bound = new ArrayList<>();
        try {
            int nextPort = port;
            for (InetAddress a : bindAddresses(address, family)) {
                boolean optional = family == null && isLocalhost(address) && a instanceof Inet6Address;
                ServerSocketChannel server = bindOne(a, nextPort, backlog, reusePort, optional);
                if (server != null) {
                    bound.add(server);
                    nextPort = ((InetSocketAddress) server.getLocalAddress()).getPort();
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(bound, e);
            throw e;
        }
        return bound;
    }

    /** Binds one socket; null when it is {@code optional} and this host cannot have that address. */
    private static ServerSocketChannel bindOne(InetAddress a, int port, int backlog, boolean reusePort,
                                               boolean optional) throws IOException {
        ServerSocketChannel server;
        try {
            server = ServerSocketChannel.open(a instanceof Inet6Address
                    ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
        } catch (UnsupportedOperationException noIpv6) {
            if (optional) {
                return null;
            }
            throw noIpv6;
        }
        try {
            if (!WINDOWS) {
                server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            }
            if (reusePort) {
                if (!server.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT)) {
                    throw new UnsupportedOperationException("SO_REUSEPORT is not supported on this platform ("
                            + System.getProperty("os.name") + "): cannot bind with reusePort");
                }
                server.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            }
            try {
                server.bind(new InetSocketAddress(a, port), backlog);
            } catch (BindException e) {
                if (optional && "Cannot assign requested address".equals(e.getMessage())) {
                    server.close();
                    return null;
                }
                BindException named = new BindException("cannot bind " + hostPort(a, port) + ": " + e.getMessage());
                named.initCause(e);
                throw named;
            }
            server.configureBlocking(false);
            return server;
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(List.of(server), e);
            throw e;
        }
    }

    /** The addresses to bind, de-duplicated, IPv4 first; never empty. */
    private static List<InetAddress> bindAddresses(String address, ProtocolFamily family) throws IOException {
        InetAddress v4Any = InetAddress.ofLiteral("0.0.0.0");
        InetAddress v6Any = InetAddress.ofLiteral("::");
        if (address == null || address.isEmpty()) {
            if (family == StandardProtocolFamily.INET) {
                return List.of(v4Any);
            }
            if (family == StandardProtocolFamily.INET6 || ipv6Available()) {
                return List.of(v6Any); // dual-stack: see the class comment on bindSockets
            }
            return List.of(v4Any);
        }
        List<InetAddress> candidates;
        if (isLocalhost(address)) {
            candidates = List.of(InetAddress.ofLiteral("127.0.0.1"), InetAddress.ofLiteral("::1"));
        } else if (isValidIp(address)) {
            InetAddress literal = literal(address);
            if (!matches(literal, family)) {
                throw new IllegalArgumentException("address " + address + " is not of family " + family);
            }
            candidates = List.of(literal);
        } else {
            candidates = List.of(InetAddress.getAllByName(address));
        }
        List<InetAddress> result = ordered(candidates, family);
        if (result.isEmpty()) {
            throw new UnknownHostException("no " + familyName(family) + " address for host " + address);
        }
        return result;
    }

    /** The addresses of {@code family}, each once, IPv4 before IPv6, otherwise in the order given. */
    static List<InetAddress> ordered(List<InetAddress> candidates, ProtocolFamily family) {
        Set<InetAddress> v4 = new LinkedHashSet<>();
        Set<InetAddress> v6 = new LinkedHashSet<>();
        for (InetAddress a : candidates) {
            if (matches(a, family)) {
                (a instanceof Inet4Address ? v4 : v6).add(a);
            }
        }
        List<InetAddress> result = new ArrayList<>(v4);
        result.addAll(v6);
        return result;
    }

    private static boolean ipv6Available() {
        try (ServerSocketChannel probe = ServerSocketChannel.open(StandardProtocolFamily.INET6)) {
            return probe.isOpen();
        } catch (UnsupportedOperationException | IOException e) {
            return false;
        }
    }

    private static boolean isLocalhost(String address) {
        return address != null && address.equalsIgnoreCase("localhost");
    }

    private static void closeQuietly(List<ServerSocketChannel> channels, Throwable primary) {
        for (ServerSocketChannel c : channels) {
            try {
                c.close();
            } catch (IOException e) {
                primary.addSuppressed(e);
            }
        }
    }

    // ---------------------------------------------------------------- addAcceptHandler

    /**
     * Calls {@code callback} on the loop thread with each connection {@code server} accepts, and its
     * remote address. Registers READ for {@code server} on {@code loop}; each READ event accepts at most
     * 128 connections (Tornado's heuristic, for fairness with the other channels and between processes
     * sharing a port). The callback owns the channel it gets (non-blocking, not registered anywhere).
     * Loop thread, or any thread while the loop is not running (like {@link IOLoop#addHandler}).
     *
     * <p>A callback that throws does not stop the batch: the exception is reported on the loop in the
     * next iteration, like a handler's (the {@link io.eddy.ioloop.Context} exception handlers, then the
     * loop's exception handler), and the other connections are still accepted and handed over.
     *
     * <p>When accept fails because the process or the system is out of file descriptors (EMFILE,
     * ENFILE) or kernel memory, connections wait in the backlog and the socket stays readable; so
     * instead of spinning, the server stops listening (its registration goes to {@link IOLoop#NONE}),
     * logs one WARNING (logger {@code io.eddy.tcp}) for the whole episode, and listens again after a
     * back-off of 100 ms, doubling up to 1 s, until an accept succeeds. Open connections are served
     * meanwhile. Another accept error is logged at ERROR and the next connection is tried; a second
     * error in a row is treated like EMFILE (the JDK gives no errno, so this also covers an
     * exhaustion message it cannot recognise).
     *
     * @param server a bound {@link InetSocketAddress} server socket
     * @return the remover: stops accepting (also in the middle of a batch) and removes the handler;
     *         idempotent; loop thread, or any thread while the loop is not running. It does not close
     *         {@code server}.
     * @throws IllegalArgumentException if {@code server} is not bound to an internet address, or
     *                                  already has a handler on {@code loop}
     */
    public static Runnable addAcceptHandler(IOLoop loop, ServerSocketChannel server,
                                            BiConsumer<SocketChannel, InetSocketAddress> callback) {
        return addAcceptHandler(loop, server, callback, ServerSocketChannel::accept);
    }

    /** {@link #addAcceptHandler} with an injectable accept, for tests of accept failures. */
    static Runnable addAcceptHandler(IOLoop loop, ServerSocketChannel server,
                                     BiConsumer<SocketChannel, InetSocketAddress> callback,
                                     AcceptHandler.Acceptor acceptor) {
        Objects.requireNonNull(loop, "loop");
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(callback, "callback");
        Objects.requireNonNull(acceptor, "acceptor");
        checkBound(server);
        AcceptHandler handler = new AcceptHandler(loop, server, callback, acceptor);
        loop.addHandler(server, handler, IOLoop.READ);
        return handler::remove;
    }

    /**
     * {@link #addAcceptHandler} for native streams on an epoll loop: connections are accepted as descriptors
     * (accept4 on {@code server}'s own descriptor) and never become {@code SocketChannel}s.
     */
    static Runnable addNativeAcceptHandler(IOLoop loop, ServerSocketChannel server, NativeIO io,
                                           AcceptHandler.DescriptorCallback callback) {
        checkBound(server);
        AcceptHandler handler = new AcceptHandler(loop, server, io, callback);
        loop.addHandler(server, handler, IOLoop.READ);
        return handler::remove;
    }

    private static void checkBound(ServerSocketChannel server) {
        final Object local;
        try {
            local = server.getLocalAddress();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot accept on " + server + ": " + e, e); // a closed one's message is null
        }
        if (!(local instanceof InetSocketAddress)) {
            throw new IllegalArgumentException("server socket is not bound to an internet address: " + server);
        }
    }

    // ---------------------------------------------------------------- isValidIp

    /**
     * Whether {@code ip} is an IP address literal: an IPv4 dotted quad ({@code 127.0.0.1}, four decimal
     * numbers 0 to 255 without leading zeros, as {@code inet_pton} takes them) or an IPv6 address
     * ({@code ::1}, {@code ::ffff:1.2.3.4}, with an optional {@code %scope} of letters, digits,
     * {@code . _ -}), without brackets or surrounding blanks. Never looks anything up (no DNS, no
     * network interfaces). Thread-safe.
     */
    public static boolean isValidIp(String ip) {
        if (ip == null || ip.isEmpty() || ip.length() > 100) {
            return false;
        }
        return ip.indexOf(':') >= 0 ? isIpv6Literal(ip) : isDottedQuad(ip);
    }

    private static boolean isDottedQuad(String s) {
        int parts = 0;
        int i = 0;
        while (i <= s.length()) {
            int start = i;
            int value = 0;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                value = value * 10 + (s.charAt(i) - '0');
                i++;
                if (i - start > 3) {
                    return false;
                }
            }
            int digits = i - start;
            if (digits == 0 || value > 255 || (digits > 1 && s.charAt(start) == '0')) {
                return false;
            }
            parts++;
            if (i == s.length()) {
                break;
            }
            if (s.charAt(i) != '.' || parts == 4) {
                return false;
            }
            i++;
        }
        return parts == 4;
    }

    private static boolean isIpv6Literal(String s) {
        int percent = s.indexOf('%');
        String addr = percent < 0 ? s : s.substring(0, percent);
        if (percent >= 0) {
            String scope = s.substring(percent + 1);
            if (scope.isEmpty()) {
                return false;
            }
            for (int i = 0; i < scope.length(); i++) {
                char c = scope.charAt(i);
                if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')) {
                    return false;
                }
            }
        }
        if (addr.isEmpty() || addr.charAt(0) == '[') {
            return false;
        }
        for (int i = 0; i < addr.length(); i++) {
            char c = addr.charAt(i);
            if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.')) {
                return false;
            }
        }
        try {
            InetAddress.ofLiteral(addr); // a literal-only parser: never a lookup
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    // ---------------------------------------------------------------- shared helpers

    /**
     * The address of a literal that {@link #isValidIp} accepted. A {@code %scope} naming an interface
     * is looked up among this host's interfaces (never DNS: the JDK parses a string with ':' as an IPv6
     * literal and fails if it is none).
     */
    static InetAddress literal(String ip) throws UnknownHostException {
        try {
            return InetAddress.ofLiteral(ip);
        } catch (IllegalArgumentException e) {
            if (ip.indexOf(':') < 0) {
                throw e;
            }
            try {
                return InetAddress.getByName(ip);
            } catch (UnknownHostException u) {
                UnknownHostException named = new UnknownHostException("cannot use IP literal " + ip + ": " + u.getMessage());
                named.initCause(u);
                throw named;
            }
        }
    }

    static void checkPort(int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be between 0 and 65535, got " + port);
        }
    }

    static void checkFamily(ProtocolFamily family) {
        if (family != null && family != StandardProtocolFamily.INET && family != StandardProtocolFamily.INET6) {
            throw new IllegalArgumentException("family must be INET, INET6 or null (both), got " + family);
        }
    }

    static boolean matches(InetAddress a, ProtocolFamily family) {
        return family == null
                || (family == StandardProtocolFamily.INET ? a instanceof Inet4Address : a instanceof Inet6Address);
    }

    static String familyName(ProtocolFamily family) {
        return family == null ? "IP" : family == StandardProtocolFamily.INET ? "IPv4" : "IPv6";
    }

    /** {@code 1.2.3.4:80} or {@code [::1]:80}. */
    static String hostPort(InetAddress a, int port) {
        String host = a.getHostAddress();
        return (a instanceof Inet6Address ? "[" + host + "]" : host) + ":" + port;
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}
