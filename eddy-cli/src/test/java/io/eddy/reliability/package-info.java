/**
 * The reliability suite of issue 9 (faults, bad input and load) against the echo servers of {@code eddy echo}:
 * the stream server ({@code StreamEchoServer}'s handler on a {@code TCPServer}) and the raw handler server
 * ({@code RawEchoServer}), and TLS where it applies. One class per case, each run for both servers:
 * {@link io.eddy.reliability.SlowlorisTest}, {@link io.eddy.reliability.NeverReadingPeerTest},
 * {@link io.eddy.reliability.ResetTest}, {@link io.eddy.reliability.HalfCloseTest},
 * {@link io.eddy.reliability.ChurnTest} (also TLS); {@link io.eddy.reliability.TlsHostilePeersTest} for TLS only
 * (garbage, trickled handshakes, resets mid-handshake). Two cases run {@code eddy echo} as a process (failsafe,
 * {@code *IT}): {@link io.eddy.reliability.FdExhaustionIT} (under {@code prlimit}) and
 * {@link io.eddy.reliability.ShutdownUnderLoadIT} (SIGTERM). The loop races live in eddy-core
 * ({@code IOLoopRaceTest}, {@code IOStreamRaceTest}). {@link io.eddy.reliability.Soak} runs the in-process
 * cases as a soak ({@code eddy-cli/run-soak.sh}).
 *
 * <p>Every case asserts what a user cares about: every byte of every well-behaved client echoed and
 * checked, no exception reaching the server loop's exception handler, nothing logged above what the case
 * allows, the server loop back to its idle stats, the process's fd count back to its baseline, and the
 * server still serving a fresh client. {@link io.eddy.reliability.Fixture} has what they share; a new case
 * starts from its class comment. Each case prints one line of figures (counts, bytes, fds before and after).
 *
 * <p>Run them alone: {@code mvn -B -pl eddy-cli -am test -Dtest='io.eddy.reliability.*Test'
 * -Dsurefire.failIfNoSpecifiedTests=false}. Loopback only; bounded counts and time; no sleeps. The slowloris
 * case holds about 4,100 fds at once (both ends of 2,000 connections): the JVM raises its soft limit to
 * the hard one, which must allow that ({@code ulimit -Hn}).
 */
package io.eddy.reliability;
