#!/usr/bin/env bash
# Issue 14's side-by-side comparison: builds REV (default: the commit this branch started from, the merge base
# with main; pass another as $1) in a temporary worktree, then runs `./ntk4j bench plans` with that build as the
# baseline. Prints each workload's median seconds per call under both builds and the ratio baseline / this.
#   bash ntk4j-bench/run-plans.sh [REV [OPTION...]]   # OPTIONs go to `bench plans` (REV first: '' for the default)
# The baseline worktree ($BASE) is reused between runs and moved to REV when it holds another commit.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-$(git merge-base HEAD main)}
ROUNDS=${ROUNDS:-3}
BASE=${BASE:-/tmp/ntk4j-plans-baseline}
want=$(git rev-parse --verify "$REV^{commit}")
if [ ! -d "$BASE" ]; then
  git worktree add --detach "$BASE" "$want" >&2
elif ! have=$(git -C "$BASE" rev-parse --verify HEAD 2>/dev/null); then
  echo "run-plans.sh: $BASE exists but is not a git worktree; remove it or set BASE" >&2
  exit 2
elif [ "$have" != "$want" ]; then
  echo "run-plans.sh: moving the baseline worktree $BASE from ${have:0:9} to ${want:0:9} ($REV)" >&2
  git -C "$BASE" checkout -q --detach "$want"
fi
(cd "$BASE" && mvn -B -q -o -Dmaven.test.skip=true -pl ntk4j-cli -am package >&2)
CP="$(cat "$BASE/ntk4j-cli/target/launcher.classpath"):$BASE/ntk4j-cli/target/classes"
echo "run-plans.sh: baseline $(git -C "$BASE" log -1 --format='%h %s' | cut -c1-80)" >&2
./ntk4j bench plans --baseline "$CP" --rounds "$ROUNDS" "${@:2}"
