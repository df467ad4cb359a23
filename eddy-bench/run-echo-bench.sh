#!/usr/bin/env bash
# Builds eddy.jar and eddy-bench, then runs the side-by-side echo benchmark (EchoRunner): a minimal C
# epoll server (the floor; compiled with `cc -O2` into eddy-bench/target at run time), Eddy raw and
# streams (and on the native epoll backend, reported "not available yet" until it exists), Netty 4.2 NIO,
# epoll and io_uring, and a plain java.nio server, each in turn pinned to CPU 0 with `eddy bench` on CPU 1,
# six scenarios, five interleaved rounds (about 24 minutes on 2 cores). Server CPU per message is taken
# from /proc/PID/stat. Run it with nothing else busy. Writes
#   eddy-bench/results/echo/echo-bench.md     the tables (medians and ratios)
#   eddy-bench/results/echo/echo-bench.json   every run
#   eddy-bench/results/echo/echo-bench.png    the chart
#
# Usage: eddy-bench/run-echo-bench.sh [--rounds N] [--duration S] [--warmup S] [--idle N]
#                                     [--servers c-epoll,eddy-stream,netty-epoll,...] [--scenarios 1,2,...]
#                                     [--eddy-jvm "FLAGS"] [--netty-jvm "FLAGS"]
# SKIP_BUILD=1 reuses the built jars.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"

version="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [ "${version%%.*}" -lt 25 ] 2>/dev/null || [ -z "$version" ]; then
    echo "run-echo-bench.sh: needs JDK 25 or later, found '$java' (version '${version:-?}'); set JAVA_HOME" >&2
    exit 1
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && mvn -q -pl eddy-cli,eddy-bench -am package -DskipTests)
fi

# 10,000 idle connections need as many descriptors in the client and in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cd "$root"
"$java" -cp "$here/target/benchmarks.jar" io.eddy.bench.echo.EchoRunner \
    --eddy-jar "$root/eddy-cli/target/eddy.jar" --out "$here/results/echo" "$@"
