package io.eddy.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code eddy} run in process with captured output; nothing here starts a server that keeps running. */
final class MainTest {

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int eddy(String... args) {
        return Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void unknownFlagIsAOneLineUsageErrorWithExitCode2() {
        assertEquals(2, eddy("echo", "--bogus"));
        assertEquals("eddy: Unknown option: '--bogus' (see 'eddy echo --help')" + System.lineSeparator(), err());
        assertEquals("", out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"--connections=4", "--size=64"})
    void loadClientFlagsGivenToEchoAreOneLineUsageErrors(String flag) {
        assertEquals(2, eddy("echo", flag));
        assertEquals(1, err().lines().count(), err());
        assertTrue(err().contains(flag.split("=")[0]), err());
    }

    @ParameterizedTest
    @ValueSource(strings = {"65536", "-1", "http"})
    void invalidPortIsAOneLineUsageError(String port) {
        assertEquals(2, eddy("echo", "--port", port));
        assertEquals(1, err().lines().count(), err());
        assertTrue(err().startsWith("eddy: Invalid value for option '--port': "), err());
        assertTrue(err().contains(port), err());
    }

    @Test
    void aNegativeLoopCountIsAOneLineUsageError() {
        assertEquals(2, eddy("echo", "--loops", "-1"));
        assertEquals(1, err().lines().count(), err());
        assertTrue(err().contains("--loops") && err().contains("-1"), err());
    }

    @Test
    void theRawServerRunsOnOneLoopOnly() {
        assertEquals(2, eddy("echo", "--raw", "--loops", "2"));
        assertEquals(1, err().lines().count(), err());
        assertTrue(err().contains("--raw") && err().contains("--loops 2"), err());
    }

    @Test
    void certWithoutKeyOrTlsIsAOneLineUsageError() {
        assertEquals(2, eddy("echo", "--tls", "--cert", "server.pem"));
        assertTrue(err().contains("--cert and --key go together"), err());
        err.reset();
        assertEquals(2, eddy("echo", "--cert", "server.pem", "--key", "server.key"));
        assertTrue(err().contains("add --tls"), err());
        err.reset();
        assertEquals(2, eddy("echo", "--raw", "--tls"));
        assertEquals(1, err().lines().count(), err());
    }

    @Test
    void unreadableCertificateFilesFailWithExitCode1NamingTheFile() {
        assertEquals(1, eddy("echo", "--tls", "--cert", "/no/such/cert.pem", "--key", "/no/such/key.pem", "--port", "0"));
        assertEquals(1, err().lines().count(), err());
        assertTrue(err().startsWith("eddy: cannot set up TLS: no such file: ") && err().contains("/no/such/cert.pem"), err());
    }

    @Test
    void noCommandIsAUsageError() {
        assertEquals(2, eddy());
        assertEquals("eddy: missing command (see 'eddy --help')" + System.lineSeparator(), err());
    }

    @Test
    void echoHelpExitsZeroAndDescribesEveryOption() {
        assertEquals(0, eddy("echo", "--help"));
        for (String option : new String[] {"--host", "--port", "--loops", "--raw", "--quiet", "--help", "--version"}) {
            assertTrue(out().contains(option), option + " missing from:\n" + out());
        }
        assertEquals("", err());
    }

    @Test
    void helpListsTheEchoCommand() {
        assertEquals(0, eddy("--help"));
        assertTrue(out().contains("echo"), out());
    }

    @Test
    void versionPrintsTheProjectVersion() {
        assertEquals(0, eddy("--version"));
        assertTrue(out().matches("(?s)eddy \\d+\\.\\d+\\.\\d+\\S*\\RJava .*"), out());
    }

    @Test
    void portInUseExitsWith1AndOneLineNamingThePort() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();

            assertEquals(1, eddy("echo", "--raw", "--port", String.valueOf(port)));

            assertEquals("eddy: cannot listen on 127.0.0.1:" + port + ": address already in use"
                    + System.lineSeparator(), err());
            assertEquals("", out(), "nothing is listening, so no 'listening on' line");
        }
    }

    @Test
    void unknownHostExitsWith1AndOneLine() {
        assertEquals(1, eddy("echo", "--host", "no-such-host.invalid", "--port", "0"));
        assertEquals("eddy: cannot listen on no-such-host.invalid:0: unknown host" + System.lineSeparator(), err());
    }
}
