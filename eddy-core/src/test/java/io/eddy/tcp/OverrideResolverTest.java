package io.eddy.tcp;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OverrideResolverTest {

    /** What the delegate was asked. */
    private record Query(String host, int port, ProtocolFamily family) {
    }

    private final List<Query> asked = new ArrayList<>();

    private final Resolver recording = (host, port, family) -> {
        asked.add(new Query(host, port, family));
        return CompletableFuture.completedFuture(List.of(InetSocketAddress.createUnresolved(host, port)));
    };

    private Query resolveThrough(Map<String, String> overrides, String host, int port) {
        new OverrideResolver(recording, overrides).resolve(host, port, null);
        return asked.getLast();
    }

    @Test
    void aHostEntryReplacesTheHostAndKeepsThePort() {
        assertEquals(new Query("127.0.0.1", 8080, null),
                resolveThrough(Map.of("example.com", "127.0.0.1"), "example.com", 8080));
    }

    @Test
    void aHostPortEntryReplacesHostAndPortForThatPortOnly() {
        Map<String, String> overrides = Map.of("example.com:443", "localhost:8443");

        assertEquals(new Query("localhost", 8443, null), resolveThrough(overrides, "example.com", 443));
        assertEquals(new Query("example.com", 80, null), resolveThrough(overrides, "example.com", 80));
    }

    @Test
    void aHostPortEntryWinsOverAHostEntry() {
        Map<String, String> overrides = Map.of("example.com", "10.0.0.1", "example.com:443", "10.0.0.2:8443");

        assertEquals(new Query("10.0.0.2", 8443, null), resolveThrough(overrides, "example.com", 443));
        assertEquals(new Query("10.0.0.1", 80, null), resolveThrough(overrides, "example.com", 80));
    }

    @Test
    void hostsMatchWithoutRegardToCase() {
        assertEquals(new Query("127.0.0.1", 80, null), resolveThrough(Map.of("Example.COM", "127.0.0.1"), "example.com", 80));
        assertEquals(new Query("::1", 81, null), resolveThrough(Map.of("EXAMPLE.com:80", "[::1]:81"), "example.Com", 80));
    }

    @Test
    void ipv6LiteralsAreWrittenBareOrInBracketsWithAPort() {
        Map<String, String> overrides = Map.of("::1", "127.0.0.1", "[::2]:80", "[::3]:81", "[::4]", "::5");

        assertEquals(new Query("127.0.0.1", 7, null), resolveThrough(overrides, "::1", 7));
        assertEquals(new Query("::3", 81, null), resolveThrough(overrides, "::2", 80));
        assertEquals(new Query("::5", 9, null), resolveThrough(overrides, "::4", 9));
    }

    @Test
    void otherNamesAndTheFamilyGoToTheDelegateUnchanged() {
        new OverrideResolver(recording, Map.of("example.com", "127.0.0.1"))
                .resolve("other.example", 80, StandardProtocolFamily.INET6);

        assertEquals(List.of(new Query("other.example", 80, StandardProtocolFamily.INET6)), asked);
    }

    @Test
    void malformedEntriesAreRejectedNamingTheEntry() {
        List<Map<String, String>> bad = List.of(
                Map.of("a:80", "b"), Map.of("a", "b:80"), Map.of("a:x", "b:1"), Map.of("a:70000", "b:1"),
                Map.of("", "b"), Map.of("a", " "), Map.of("[::1", "b"), Map.of("[::1]x", "b"), Map.of(":80", "b:1"));
        for (Map<String, String> entry : bad) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new OverrideResolver(recording, entry), entry.toString());
            String key = entry.keySet().iterator().next();
            assertTrue(e.getMessage().contains("\"" + key + "\""), e.getMessage());
        }
    }

    @Test
    void overridesWorkOverTheSystemResolver() throws Exception {
        Resolver resolver = new OverrideResolver(Resolver.system(), Map.of("service.invalid", "127.0.0.1"));

        List<InetSocketAddress> addresses = resolver.resolve("service.invalid", 80, null).get(10, TimeUnit.SECONDS);

        assertEquals(List.of(new InetSocketAddress(InetAddress.ofLiteral("127.0.0.1"), 80)), addresses);
    }
}
