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
(cd "$BASE" && mvn -B -q -o -Dmaven.test.skip=true -pl ntk4j-cli -am package >&2)
CP="$(cat "$BASE/ntk4j-cli/target/launcher.classpath"):$BASE/ntk4j-cli/target/classes"
./ntk4j bench plans --baseline "$CP" --rounds "$ROUNDS" "${@:2}"
