#!/usr/bin/env bash
# Lint, types and the import layering: what CI checks before the tests.
#
#   scripts/lint.sh
#
# ruff (pyproject.toml), mypy over syncd/ (pyproject.toml) and import-linter (.importlinter).
# Installs the `lint` extra first unless SYNCD_TEST_NO_INSTALL=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -z ${PYTHON:-} ]]; then
    if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi
log() { printf 'lint.sh: %s\n' "$*" >&2; }

if [[ ${SYNCD_TEST_NO_INSTALL:-0} != 1 ]]; then
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install -q -e '.[lint]'
fi

log "ruff"
"$PYTHON" -m ruff check syncd bench
log "mypy"
"$PYTHON" -m mypy
log "import-linter"
lint-imports --no-cache
log "all clean"
