"""The one error hierarchy of priorlab: everything the user can fix, phrased for the user.

The CLI catches :class:`PriorlabError` in one place and prints ``error: <message>`` on one line
with exit code 2 (``--debug`` shows the traceback). A message names the field, file or run it
is about and says what to change. Anything else that escapes is a bug in priorlab.

- :class:`ConfigError`: a config field, a ``--set``, a CLI option (``threads: must be >= 1``).
- :class:`InputDataError`: a file the user handed in (a checkpoint directory, a QA file, a
  result.json) is missing, malformed or inconsistent.
- :class:`CheckpointError`: a run's checkpoint is incomplete, corrupt or unsafe to load.
- :class:`LockError`: another process holds a run (its pid and host in the message).
- :class:`StorageError`: the disk is full, a directory is read-only, permission was refused.
- :class:`IncompleteError`: a sweep or a re-test finished, but some jobs or claims could not run.
"""

from __future__ import annotations


class PriorlabError(Exception):
    """Base class: a problem the user can fix; ``str()`` is the one-line message."""


class ConfigError(PriorlabError, ValueError):
    """A config value (file, ``--set``, CLI option) is invalid; the message names the field."""


class InputDataError(ConfigError):
    """A user-supplied file or directory is missing, malformed or inconsistent."""


class CheckpointError(InputDataError):
    """A checkpoint cannot be used (incomplete, corrupt, non-finite, unsafe)."""


class LockError(PriorlabError, RuntimeError):
    """Another process holds the run directory's lock; the message names it."""


class StorageError(PriorlabError, OSError):
    """Disk full, read-only directory or no permission; the message names the path."""


class IncompleteError(PriorlabError):
    """Some jobs or claims could not run; what did run is saved."""


def first_line(e: BaseException) -> str:
    """The first line of ``e``'s message (its class name when empty): a third-party error quoted
    inside a one-line priorlab message."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
