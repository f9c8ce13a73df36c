#!/usr/bin/env bash
# Mutation checks: do the tests catch the bugs that matter? (docs/testing.md)
#
#   scripts/mutation.sh                 both parts
#   scripts/mutation.sh --tool          mutmut over the pure core with the fast tests (>= 80 % killed)
#   scripts/mutation.sh --curated       scripts/mutations.yaml against the real-server tests (all killed)
#   scripts/mutation.sh --check         only: which curated entries are stale in this checkout
#   scripts/mutation.sh --curated --only ID[,ID...] [--include tests/new_test.py] [--keep]
#
# Each part runs in a temporary `git worktree` of HEAD, never in this checkout. The curated part
# needs the test servers (scripts/dbservers.sh start; their URLs are taken from its env); the tool
# part needs none and installs the 'mutation' extra's mutmut if it is missing. Exit 0 only when
# every part reached its goal. More options: scripts/mutation.sh --help.

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [[ -z ${PYTHON:-} ]]; then
    if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi
export PYTHON

exec "$PYTHON" "$REPO/scripts/mutation.py" "$@"
