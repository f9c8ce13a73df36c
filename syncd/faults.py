"""Named crash points for the crash-injection tests: nothing happens unless a test asks for it.

A test process sets ``SYNCD_TEST_CRASH_AT=<point>`` (or ``<point>:<n>`` for the n-th time the
point is reached, counted per process) and runs syncd in a subprocess; when the run reaches that
point the process ends at once with ``os._exit(CRASH_EXIT)``, as a kill -9 or a power cut would
leave it: no ``finally`` blocks, no commit, no checkpoint.

The points, in the order a batch reaches them:

- ``after-read``: a batch was read from the source, nothing of it written yet;
- ``after-commit``: the target transaction committed, the checkpoint not yet written;
- ``after-checkpoint``: the watermark and the batch's rejects are in the state store;
- ``reject-retry``: pending rejects were re-read and written, their checkpoint not yet written;
- ``full-resume``: a full copy resumed after a key, before its first resumed batch is read;
- ``repair``: a reconcile repair wrote a batch to the target (re-sent rows, or rows marked
  deleted or deleted), its checkpoint not yet written.
"""

from __future__ import annotations

import os

POINTS = ("after-read", "after-commit", "after-checkpoint", "reject-retry", "full-resume", "repair")
CRASH_EXIT = 77
_ENV = "SYNCD_TEST_CRASH_AT"
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    """End the process here if the environment asks for a crash at ``name``."""
    wanted = os.environ.get(_ENV)
    if not wanted:
        return
    point, _colon, nth = wanted.partition(":")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= int(nth or 1):
        os._exit(CRASH_EXIT)
