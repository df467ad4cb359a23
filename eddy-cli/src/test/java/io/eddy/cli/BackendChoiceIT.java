package io.eddy.cli;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which backend a user gets: {@code java -jar eddy.jar} runs on epoll (its manifest grants the flags, see
 * EchoProcessIT); the same jar on the class path without the flags falls back to nio, and asking for epoll
 * there fails at once with one line that names the missing flag.
 */
final class BackendChoiceIT {

    private static List<String> java(String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of(args));
        return command;
    }

    private static String jar() {
        return System.getProperty("eddy.jar");
    }

    @Test
    void withoutTheFlagsTheLoopRunsOnNio() throws Exception {
        try (EddyProcess eddy = EddyProcess.onClassPath("echo", "--port", "0")) {
            eddy.awaitListening();
            assertEquals("io loop: nio", eddy.stdout.next(java.time.Duration.ofSeconds(20)));
            assertEquals(0, eddy.stopWith("TERM"), "exit code; stderr: " + eddy.stderr);
        }
    }

    @Test
    void askingForEpollWithoutTheFlagsNamesTheMissingFlag() throws Exception {
        Process p = new ProcessBuilder(java("-Deddy.backend=epoll", "-cp", jar(), "io.eddy.cli.Main", "echo", "--port", "0"))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS), "eddy exits");
        assertEquals(1, p.exitValue(), err);
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertTrue(err.startsWith("eddy: IOLoop backend 'epoll' is not available") && err.contains("--enable-native-access=ALL-UNNAMED"), err);
    }
}
