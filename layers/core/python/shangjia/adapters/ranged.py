"""A read-only, seekable file over an object that is read by ranged GETs (``Range: bytes=a-b``).

``ports.Blobs.open`` returns one: a sheet is read from S3 without holding the object in memory.
A zip workbook needs random access (the central directory at the end, then each part where it
lies); a CSV is read front to back. Both are served from a small cache of blocks:

- a miss fetches one block starting at the position read; a miss right where the last fetched
  block ended (a sequential read) doubles the next block, up to ``max_block``, so a long
  sequential read costs few requests; a miss elsewhere starts again at ``min_block``;
- at most ``cache_blocks`` blocks are kept (least recently used goes), so the memory held is at
  most ``cache_blocks × max_block`` whatever the object's size.

Every GET is counted (``gets``, ``bytes_fetched``): they are billed per request.

No boto3 here: the adapter passes ``fetch(start, end_inclusive) -> bytes``.
"""

from __future__ import annotations

import io
from typing import Callable

MIN_BLOCK = 1 << 20          # 1 MiB: a zip's directory, a small part
MAX_BLOCK = 16 << 20         # 16 MiB: sequential reads grow to this (a 1 GB file: ~70 GETs)
CACHE_BLOCKS = 3             # the sheet part, the shared strings, one more: ≤ 48 MiB held


class RangedFile(io.RawIOBase):
    """``fetch(start, end)`` returns the bytes ``start..end`` (inclusive) of an object of
    ``size`` bytes. ``metadata``: the object's user metadata, for the caller."""

    def __init__(self, fetch: Callable[[int, int], bytes], size: int, *, name: str = "",
                 metadata: dict[str, str] | None = None, min_block: int = MIN_BLOCK,
                 max_block: int = MAX_BLOCK, cache_blocks: int = CACHE_BLOCKS) -> None:
        super().__init__()
        self._fetch = fetch
        self.size = size
        self.name = name
        self.metadata = dict(metadata or {})
        self.min_block = max(1, min_block)
        self.max_block = max(self.min_block, max_block)
        self.cache_blocks = max(1, cache_blocks)
        self._pos = 0
        self._blocks: list[tuple[int, bytes]] = []     # (start, data), most recently used last
        self._next_block = self.min_block
        self._last_end = -1                            # where the last fetched block ended
        self.gets = 0
        self.bytes_fetched = 0
        self.peak_cached = 0                           # the most bytes the cache ever held

    # ---- io.RawIOBase -------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def read(self, n: int = -1) -> bytes:
        if self.closed:
            raise ValueError("read of a closed file")
        if n is None or n < 0:
            n = self.size - self._pos
        n = min(n, self.size - self._pos)
        if n <= 0:
            return b""
        out: list[bytes] = []
        while n > 0:
            start, data = self._block_at(self._pos)
            off = self._pos - start
            piece = data[off: off + n] if off or n < len(data) else data
            out.append(piece)
            self._pos += len(piece)
            n -= len(piece)
        return out[0] if len(out) == 1 else b"".join(out)

    read1 = read

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def close(self) -> None:
        self._blocks = []
        super().close()

    # ---- the cache --------------------------------------------------------------------------
    def _block_at(self, pos: int) -> tuple[int, bytes]:
        blocks = self._blocks
        for i in range(len(blocks) - 1, -1, -1):
            start, data = blocks[i]
            if start <= pos < start + len(data):
                if i != len(blocks) - 1:
                    blocks.append(blocks.pop(i))
                return start, data
        if pos == self._last_end:                      # sequential: read further ahead next time
            want = self._next_block
            self._next_block = min(self.max_block, self._next_block * 2)
        else:
            want = self.min_block
            self._next_block = min(self.max_block, self.min_block * 2)
        end = min(self.size, pos + want) - 1
        data = self._fetch(pos, end)
        if len(data) != end - pos + 1:
            raise OSError(f"{self.name}: asked for bytes {pos}-{end}, got {len(data)} bytes")
        self.gets += 1
        self.bytes_fetched += len(data)
        self._last_end = end + 1
        blocks.append((pos, data))
        while len(blocks) > self.cache_blocks:
            blocks.pop(0)
        self.peak_cached = max(self.peak_cached, sum(len(d) for _, d in blocks))
        return pos, data


def bytes_file(data: bytes, *, name: str = "", metadata: dict[str, str] | None = None,
               **kw) -> RangedFile:
    """A ``RangedFile`` over bytes already in memory (fakes and tests count its 'GETs' too)."""
    return RangedFile(lambda a, b: data[a: b + 1], len(data), name=name, metadata=metadata, **kw)
