"""Rate-limited progress lines for long loops, so CI logs stay short."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

__all__ = ["Progress"]

_LOG = logging.getLogger(__name__)


class Progress:
    """Log ``"<label>: 640/1500 (43%), 12.3 items/s, ~70 s left"`` at INFO, at most every ``min_interval_s``.

    A line is also logged once at completion, and by :meth:`close` if items were done since the last
    line. The rate and time left count only the items done since this object was created, so resumed
    work (``initial``) does not inflate the rate.

    Example:
        >>> with Progress("capture", total=len(ids)) as progress:
        ...     for batch in batches:
        ...         run(batch)
        ...         progress.update(len(batch))
    """

    def __init__(
        self,
        label: str,
        total: int,
        *,
        logger: logging.Logger | None = None,
        min_interval_s: float = 20.0,
        initial: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start tracking.

        Args:
            label: What is being counted, first word of every line.
            total: Number of items expected in all.
            logger: Where to log; defaults to this module's logger.
            min_interval_s: Least number of seconds between two progress lines.
            initial: Items already done before this object (e.g. found in a cache).
            clock: Monotonic time source in seconds; tests inject a fake one.

        Raises:
            ValueError: ``total`` or ``initial`` is negative, ``initial > total``, or ``min_interval_s < 0``.
        """
        if total < 0 or initial < 0 or initial > total:
            raise ValueError(
                f"Progress({label!r}): need 0 <= initial <= total, got initial={initial}, total={total}"
            )
        if min_interval_s < 0:
            raise ValueError(f"Progress({label!r}): min_interval_s must be >= 0, got {min_interval_s}")
        self.label = label
        self.total = total
        self.done = initial
        self._initial = initial
        self._logger = logger if logger is not None else _LOG
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._start = clock()
        self._last_log = self._start
        self._done_at_last_log = initial
        self._finished = False
        self._closed = False

    def update(self, n_done_increment: int = 1) -> None:
        """Record ``n_done_increment`` more finished items and log a line if one is due.

        Args:
            n_done_increment: Items finished since the last call (>= 0).

        Raises:
            ValueError: ``n_done_increment`` is negative.
        """
        if n_done_increment < 0:
            raise ValueError(
                f"Progress({self.label!r}).update: increment must be >= 0, got {n_done_increment}"
            )
        self.done += n_done_increment
        now = self._clock()
        if self.done >= self.total and not self._finished:
            self._finished = True
            self._log(now)
        elif not self._finished and now - self._last_log >= self._min_interval_s:
            self._log(now)

    def close(self) -> None:
        """Log the final count if it was not logged yet; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if not self._finished and self.done != self._done_at_last_log:
            self._log(self._clock())

    def format_line(self, now: float) -> str:
        """Return the progress line for time ``now`` (same clock as the constructor's).

        Args:
            now: Current time from the clock.

        Returns:
            ``"<label>: done/total (pct%), rate items/s, ~eta left"``; rate and ETA are left out
            until they can be measured.
        """
        pct = 100 if self.total == 0 else round(100 * self.done / self.total)
        if self.done < self.total:
            pct = min(pct, 99)  # never claim 100% before the end
        parts = [f"{self.label}: {self.done}/{self.total} ({pct}%)"]
        elapsed = now - self._start
        new_items = self.done - self._initial
        if elapsed > 0 and new_items > 0:
            rate = new_items / elapsed
            parts.append(f"{rate:.1f} items/s")
            if self.done < self.total:
                parts.append(f"~{_format_seconds((self.total - self.done) / rate)} left")
            else:
                parts.append(f"done in {_format_seconds(elapsed)}")
        return ", ".join(parts)

    def _log(self, now: float) -> None:
        self._logger.info("%s", self.format_line(now))
        self._last_log = now
        self._done_at_last_log = self.done

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 120 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
