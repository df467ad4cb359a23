#!/usr/bin/env bash
# The reliability soak: runs the in-process cases of the reliability suite (eddy-cli's io.eddy.reliability
# *Test: slowloris, a peer that never reads, resets, half-close, churn, TLS hostile peers) again and again
# in one JVM for DURATION (ISO-8601, default PT10M), printing the heap after a full GC and the process's fd
# count every 10 s. Fails (exit 1) if a case fails, or if at the end the fd count, or the heap after GC
# (beyond 32 MB of slack), is above what it was after the first round. Run it with nothing else busy.
#
# Usage: eddy-cli/run-soak.sh [DURATION]        e.g. eddy-cli/run-soak.sh PT10M
# SKIP_BUILD=1 reuses the compiled classes and the classpath file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
classpath="$here/target/soak-classpath.txt"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$root" && mvn -q -pl eddy-cli -am test-compile dependency:build-classpath \
        -Dmdep.includeScope=test -Dmdep.outputFile="$classpath")
fi

# The slowloris case holds about 4,100 descriptors at once.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec "$java" -Xmx1g --add-modules java.logging \
    -cp "$here/target/test-classes:$here/target/classes:$(cat "$classpath")" \
    io.eddy.reliability.Soak "${1:-PT10M}"
