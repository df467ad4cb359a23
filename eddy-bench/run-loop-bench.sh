#!/usr/bin/env bash
# Builds eddy-bench and runs LoopBenchmark (Eddy's IOLoop beside Netty's event loop) with settings
# suited to a 2-core machine; run it with nothing else busy. Writes
#   eddy-bench/results/loop-bench.json   JMH's JSON results
#   eddy-bench/results/loop-bench.txt    the side-by-side table
#   eddy-bench/results/loop-bench.log    the whole JMH output
# and prints JMH's table followed by the side-by-side one.
#
# Usage: eddy-bench/run-loop-bench.sh [JMH options and patterns...]    e.g.  -i 10    or  'LoopBenchmark.timeouts.*'
# With no pattern, all of LoopBenchmark runs.
# SKIP_BUILD=1 reuses eddy-bench/target/benchmarks.jar.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"

version="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
if [ "${version%%.*}" -lt 25 ] 2>/dev/null || [ -z "$version" ]; then
    echo "run-loop-bench.sh: needs JDK 25 or later, found '$java' (version '${version:-?}'); set JAVA_HOME" >&2
    exit 1
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && mvn -q -pl eddy-bench -am package -DskipTests)
fi

mkdir -p "$here/results"
# The short settings are LoopBenchmark's annotations: 1 fork, 3 warm-up and 5 measured iterations of
# 2 s each (about 3 minutes in all); the forked JVM gets --sun-misc-unsafe-memory-access=allow and a
# fixed 1 GB heap from @Fork (passing -jvmArgsAppend here would replace those). JMH takes each option
# once, so override with e.g. -i 10, not by repeating the defaults; -rf and -rff are set here.
"$java" --sun-misc-unsafe-memory-access=allow -cp "$here/target/benchmarks.jar" io.eddy.bench.SideBySide \
    -rf json -rff "$here/results/loop-bench.json" "$@" \
    | tee "$here/results/loop-bench.log"
# The side-by-side table is the last block of the output, from its header on.
sed -n '/^Operation /,$p' "$here/results/loop-bench.log" > "$here/results/loop-bench.txt"
echo
echo "Results: $here/results/loop-bench.json, $here/results/loop-bench.txt"
