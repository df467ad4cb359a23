package io.eddy.tcp;

import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link Resolver} that rewrites some hosts, or host and port pairs, before asking another resolver:
 * Tornado's {@code OverrideResolver}, for tests and local development.
 *
 * <p>Each entry of the map is one of:
 * <ul>
 *   <li>{@code "host" -> "newhost"}: any port of {@code host} resolves {@code newhost} with that port;</li>
 *   <li>{@code "host:port" -> "newhost:newport"}: only that port of {@code host}, to another host and
 *       port.</li>
 * </ul>
 * A host:port entry wins over a host entry. Host names match without regard to case. IPv6 literals
 * are written {@code "::1"} alone and {@code "[::1]:8080"} with a port. Tornado's keys with a family
 * are not supported: the family is passed on unchanged.
 *
 * <pre>{@code
 * Resolver resolver = new OverrideResolver(Resolver.system(), Map.of(
 *         "example.com", "127.0.0.1",
 *         "example.com:443", "127.0.0.1:8443"));
 * }</pre>
 *
 * <p>Immutable and thread-safe if the delegate is.
 */
public final class OverrideResolver implements Resolver {

    private record Target(String host, int port) {
    }

    private final Resolver delegate;
    private final Map<String, String> hosts = new HashMap<>();
    private final Map<String, Target> hostPorts = new HashMap<>();

    /**
     * A resolver that applies {@code overrides} and asks {@code delegate} for the result. The map is
     * copied. Any thread.
     *
     * @throws IllegalArgumentException naming the entry, if a key or value is empty or malformed, a port
     *                                  is outside 0 to 65535, a host:port key maps to a host without a
     *                                  port, or a host key maps to a host and port
     */
    public OverrideResolver(Resolver delegate, Map<String, String> overrides) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
        Objects.requireNonNull(overrides, "overrides");
        overrides.forEach((key, value) -> {
            Target k = parse(key, "key", key, value);
            Target v = parse(value, "value", key, value);
            if ((k.port < 0) != (v.port < 0)) {
                throw new IllegalArgumentException("override \"" + key + "\" -> \"" + value + "\": "
                        + (k.port < 0 ? "a host maps to a host (use the key host:port to change the port)"
                        : "a host:port maps to a host:port"));
            }
            if (k.port < 0) {
                hosts.put(Sockets.lower(k.host), v.host);
            } else {
                hostPorts.put(key(k.host, k.port), v);
            }
        });
    }

    /**
     * Resolves {@code host} and {@code port} through the overrides, then the delegate: the delegate's
     * future, or its exception thrown for a bad argument. Any thread.
     */
    @Override
    public CompletableFuture<List<InetSocketAddress>> resolve(String host, int port, ProtocolFamily family) {
        Objects.requireNonNull(host, "host");
        Target exact = hostPorts.get(key(host, port));
        if (exact != null) {
            return delegate.resolve(exact.host, exact.port, family);
        }
        String replacement = hosts.get(Sockets.lower(host));
        return delegate.resolve(replacement != null ? replacement : host, port, family);
    }

    private static String key(String host, int port) {
        return Sockets.lower(host) + " " + port;
    }

    /** host, [v6], host:port or [v6]:port; port -1 when absent. */
    private static Target parse(String s, String what, String key, String value) {
        if (s == null) {
            throw new IllegalArgumentException("override \"" + key + "\" -> \"" + value + "\": the " + what + " is null");
        }
        String host = s;
        String port = null;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0 || (close + 1 < s.length() && s.charAt(close + 1) != ':')) {
                throw bad(what, key, value);
            }
            host = s.substring(1, close);
            port = close + 1 < s.length() ? s.substring(close + 2) : null;
        } else if (s.indexOf(':') >= 0 && s.indexOf(':') == s.lastIndexOf(':')) {
            host = s.substring(0, s.indexOf(':'));
            port = s.substring(s.indexOf(':') + 1);
        }
        if (host.isBlank()) {
            throw bad(what, key, value);
        }
        if (port == null) {
            return new Target(host, -1);
        }
        try {
            int p = Integer.parseInt(port);
            Sockets.checkPort(p);
            return new Target(host, p);
        } catch (IllegalArgumentException e) { // NumberFormatException included
            throw bad(what, key, value);
        }
    }

    private static IllegalArgumentException bad(String what, String key, String value) {
        return new IllegalArgumentException("override \"" + key + "\" -> \"" + value + "\": malformed " + what
                + " (expected host, host:port, ::1 or [::1]:port with a port from 0 to 65535)");
    }

    @Override
    public String toString() {
        return "OverrideResolver(" + hosts.size() + " hosts, " + hostPorts.size() + " host:ports, then " + delegate + ")";
    }
}
