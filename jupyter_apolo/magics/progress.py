"""Progress bars for transfers: ``tqdm.auto`` (a widget in notebooks, text in terminals) fed by
the client's ``TransferProgress`` callbacks (called from the client's background thread)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from tqdm.auto import tqdm

from ..client import TransferProgress


@contextmanager
def progress_bar(desc: str) -> Iterator[Callable[[TransferProgress], None]]:
    """A bar in bytes labelled ``desc``; yields the ``progress`` callback for ``api.transfer``
    calls and closes the bar on exit. Totals appear once the client knows them."""
    bar = tqdm(desc=desc, unit="B", unit_scale=True, unit_divisor=1024, total=None, leave=True)
    seen = 0
    lock = threading.Lock()

    def update(p: TransferProgress) -> None:
        nonlocal seen
        with lock:
            if p.bytes_total is not None and bar.total != p.bytes_total:
                bar.total = p.bytes_total
            files = f"{p.files_done}/{p.files_total}" if p.files_total is not None else f"{p.files_done}"
            bar.set_postfix_str(f"{files} files", refresh=False)
            bar.update(p.bytes_done - seen)
            seen = p.bytes_done

    try:
        yield update
    finally:
        bar.close()
