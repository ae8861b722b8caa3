"""Rich progress bars that can be switched off (tests, --quiet)."""

from __future__ import annotations

import contextlib

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class _Silent:
    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass


@contextlib.contextmanager
def progress_bar(show: bool = True):
    """A rich ``Progress`` (or a silent stand-in) with elapsed and remaining time."""
    if not show:
        yield _Silent()
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), transient=False) as bar:
        yield bar
