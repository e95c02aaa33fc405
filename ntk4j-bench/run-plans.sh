#!/usr/bin/env bash
# Issue 14's side-by-side comparison: builds REV (default: the commit this branch started from, the merge base
# with main; pass another as $1) in a temporary worktree, then runs `./ntk4j bench plans` with that build as the
# baseline. Prints each workload's median seconds per call under both builds and the ratio baseline / this.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-$(git merge-base HEAD main)}
ROUNDS=${ROUNDS:-3}
BASE=${BASE:-/tmp/ntk4j-plans-baseline}
if [ ! -d "$BASE" ]; then
  git worktree add --detach "$BASE" "$REV" >&2
fi
(cd "$BASE" && mvn -B -q -o -Dmaven.test.skip=true -pl ntk4j-cli -am package >&2 \
  && mvn -B -q -o -pl ntk4j-cli -am dependency:build-classpath -Dmdep.outputFile=target/plans.classpath >&2)
CP="$BASE/ntk4j-core/target/classes:$BASE/ntk4j-io/target/classes:$(cat "$BASE/ntk4j-cli/target/plans.classpath")"
./ntk4j bench plans --baseline "$CP" --rounds "$ROUNDS" "${@:2}"
