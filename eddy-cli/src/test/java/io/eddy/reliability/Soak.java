package io.eddy.reliability;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.platform.engine.discovery.ClassNameFilter.includeClassNamePatterns;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

/**
 * The reliability suite as a soak: every in-process case of this package ({@code *Test}) run again and
 * again in one JVM for a given time, the heap (after a full GC) and the process's fd count sampled every
 * 10 s and printed. It fails (exit 1) if a case fails, or if between rounds at the end the fd count is above,
 * or the heap after GC more than {@link #HEAP_SLACK_BYTES} above, what they were after the first round.
 *
 * <p>Run it with {@code eddy-cli/run-soak.sh [DURATION]} (default PT10M); nothing else should be busy.
 */
public final class Soak {

    private static final Duration SAMPLE_EVERY = Duration.ofSeconds(10);
    /** Heap growth allowed from the first sample to the last: noise of the JIT, class data, caches. */
    private static final long HEAP_SLACK_BYTES = 32L << 20;

    private record Sample(long atMillis, int rounds, long heapAfterGc, int fds) {
    }

    private Soak() {
    }

    public static void main(String[] args) throws Exception {
        Duration duration = args.length > 0 ? Duration.parse(args[0]) : Duration.ofMinutes(10);
        LauncherDiscoveryRequest suite = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectPackage("io.eddy.reliability"))
                .filters(includeClassNamePatterns(".*Test"))
                .build();
        Launcher launcher = LauncherFactory.create();
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
        long start = System.currentTimeMillis();
        AtomicInteger rounds = new AtomicInteger();
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "soak-sampler");
            t.setDaemon(true);
            return t;
        });
        sampler.scheduleAtFixedRate(() -> print("", sample(memory, start, rounds.get())), 0,
                SAMPLE_EVERY.toMillis(), TimeUnit.MILLISECONDS);

        long failures = 0;
        long tests = 0;
        Sample afterFirstRound = null;
        long deadline = System.nanoTime() + duration.toNanos();
        while (System.nanoTime() - deadline < 0) {
            SummaryGeneratingListener listener = new SummaryGeneratingListener();
            launcher.execute(suite, listener);
            TestExecutionSummary summary = listener.getSummary();
            tests += summary.getTestsSucceededCount() + summary.getTotalFailureCount();
            if (summary.getTotalFailureCount() > 0) {
                failures += summary.getTotalFailureCount();
                summary.printFailuresTo(new PrintWriter(System.out, true), 20);
            }
            rounds.incrementAndGet();
            if (afterFirstRound == null) {
                afterFirstRound = sample(memory, start, rounds.get()); // every class and cache loaded once
                print("after the first round: ", afterFirstRound);
            }
        }
        sampler.shutdown();
        sampler.awaitTermination(1, TimeUnit.MINUTES);
        Sample last = sample(memory, start, rounds.get());
        print("at the end: ", last);
        System.out.printf("[soak] done: %s, %d rounds, %d test runs, %d failed; from after the first round to the end: "
                        + "heap after GC %.1f -> %.1f MB, fds %d -> %d%n", duration, last.rounds(), tests, failures,
                afterFirstRound.heapAfterGc() / 1e6, last.heapAfterGc() / 1e6, afterFirstRound.fds(), last.fds());
        boolean heapGrew = last.heapAfterGc() > afterFirstRound.heapAfterGc() + HEAP_SLACK_BYTES;
        boolean fdsGrew = last.fds() > afterFirstRound.fds();
        if (failures > 0 || heapGrew || fdsGrew) {
            System.out.println("[soak] FAILED" + (failures > 0 ? ": failing cases" : "") + (heapGrew ? ": heap grew" : "")
                    + (fdsGrew ? ": fds grew" : ""));
            System.exit(1);
        }
        System.out.println("[soak] passed");
        System.exit(0);
    }

    /** The heap after a full GC and the fd count now (between rounds, or during one for the periodic log). */
    private static Sample sample(MemoryMXBean memory, long start, int rounds) {
        memory.gc();
        return new Sample(System.currentTimeMillis() - start, rounds, memory.getHeapMemoryUsage().getUsed(),
                Fixture.openFds());
    }

    private static void print(String label, Sample s) {
        System.out.printf("[soak] %4d s  %srounds %3d  heap after GC %6.1f MB  fds %d%n",
                s.atMillis() / 1000, label, s.rounds(), s.heapAfterGc() / 1e6, s.fds());
    }
}
