#!/usr/bin/env bash
# Run the test suite: the one test command, for developers and for CI.
#
#   scripts/test.sh [pytest arguments...]
#
# Installs the package with its test extras into the current Python
# environment, starts the throwaway MariaDB/PostgreSQL servers
# (scripts/dbservers.sh) unless they already run, runs pytest with the
# servers' URLs exported, and stops the servers again if it started them.
# Exits with pytest's exit code; "no tests collected" (5) counts as failure.
#
# Environment:
#   PYTHON                 interpreter to use (default: python, else python3)
#   SYNCD_TEST_NO_INSTALL  set to 1 to skip the pip install step
#   SYNCD_DBSERVERS_KEEP   set to 1 to leave servers this script started running
#   (and those of scripts/dbservers.sh: ports, state directory, ...)

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

if [[ -z ${PYTHON:-} ]]; then
    if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi

log() { printf 'test.sh: %s\n' "$*" >&2; }

if [[ ${SYNCD_TEST_NO_INSTALL:-0} != 1 ]]; then
    log "installing the package with test extras ($("$PYTHON" --version 2>&1))"
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q -e '.[test]'
fi

DBSERVERS=(bash "$REPO/scripts/dbservers.sh")
started=0

cleanup() {
    if (( started )) && [[ ${SYNCD_DBSERVERS_KEEP:-0} != 1 ]]; then
        log "stopping the test servers"
        "${DBSERVERS[@]}" stop || log "warning: stopping the test servers failed"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if "${DBSERVERS[@]}" status >/dev/null 2>&1; then
    log "test servers already running; leaving them running afterwards"
    "${DBSERVERS[@]}" start  # makes sure they answer
else
    started=1
    "${DBSERVERS[@]}" start
fi
eval "$("${DBSERVERS[@]}" env)"
export SYNCD_TEST_MARIADB_URL SYNCD_TEST_POSTGRESQL_URL

rc=0
"$PYTHON" -m pytest "$@" || rc=$?
if (( rc == 5 )); then
    log "error: no tests were collected"
    rc=1
fi
exit "$rc"
