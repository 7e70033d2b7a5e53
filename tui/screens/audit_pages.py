"""Which pages of a filtered, newest-first list of audit records are known, and the few held in memory.

Keyset pagination: page ``i`` is ``AuditLog.list(filters, limit=page_size, before_seq=cursors[i])``, and its last
seq is the cursor of page ``i + 1``. The cursors (one int per page) are all that is kept of the pages scrolled
past; their records are dropped once more than ``max_cached`` pages are held, and fetched again by their cursor
when they come back into view. Memory stays flat however far the user scrolls through a million records.

Plain Python, used on the UI thread only; the fetching itself happens in the table's workers.
"""

from __future__ import annotations

from collections import OrderedDict

from core.audit_types import AuditRecord

PAGE_SIZE = 100
MAX_CACHED_PAGES = 8


class RecordPages:
    """Cursors of every page found so far, and an LRU of the pages whose records are in memory."""

    def __init__(self, page_size: int = PAGE_SIZE, max_cached: int = MAX_CACHED_PAGES) -> None:
        self.page_size = page_size
        self.max_cached = max_cached
        self.exhausted = False  # the last page has been seen: no record follows it
        self.fetched_rows = 0  # records received over the lifetime of this listing (refetches included)
        self._cursors: list[int | None] = [None]  # before_seq of each page found; None: from the newest record
        self._last_len = 0  # length of the last page, once exhausted
        self._cached: OrderedDict[int, list[AuditRecord]] = OrderedDict()

    @property
    def known_rows(self) -> int:
        """Records known to exist: every page found is full except the last one, once it is seen."""
        full = len(self._cursors) - 1
        return full * self.page_size + (self._last_len if self.exhausted else 0)

    @property
    def cached_rows(self) -> int:
        """Records held in memory right now."""
        return sum(len(records) for records in self._cached.values())

    @property
    def frontier(self) -> int:
        """The index of the newest page found (the one to fetch next to discover more, unless exhausted)."""
        return len(self._cursors) - 1

    def cursor(self, page: int) -> int | None:
        """The ``before_seq`` that fetches ``page`` (which must have been found)."""
        return self._cursors[page]

    def record(self, row: int) -> AuditRecord | None:
        """The record at ``row`` if its page is in memory."""
        records = self._cached.get(row // self.page_size)
        if records is None:
            return None
        self._cached.move_to_end(row // self.page_size)
        offset = row % self.page_size
        return records[offset] if offset < len(records) else None

    def missing(self, first_row: int, last_row: int) -> list[int]:
        """Pages covering rows first_row..last_row that can be fetched and are not in memory, nearest first."""
        last_page = min(max(last_row, 0) // self.page_size, self.frontier)
        pages = range(max(first_row, 0) // self.page_size, last_page + 1)
        return [page for page in pages if page not in self._cached]

    def store(self, page: int, records: list[AuditRecord], near_page: int) -> None:
        """Keep a fetched page, learn the next cursor from it, and drop the pages farthest from ``near_page``."""
        if page > self.frontier:
            return  # a page of a listing that has since been cut short
        self.fetched_rows += len(records)
        if page == 0 and records and self._cursors[0] is None:
            # Pin the top: fetched again later, page 0 must not pick up records written since.
            self._cursors[0] = records[0].seq + 1
        if len(records) < self.page_size:
            del self._cursors[page + 1 :]  # shorter than before (records pruned meanwhile) or the end
            self.exhausted, self._last_len = True, len(records)
            for stale in [p for p in self._cached if p > page]:
                del self._cached[stale]
        elif page == self.frontier:
            self._cursors.append(records[-1].seq)
        self._cached[page] = records
        self._cached.move_to_end(page)
        while len(self._cached) > self.max_cached:
            farthest = max(self._cached, key=lambda p: abs(p - near_page))
            del self._cached[farthest]
