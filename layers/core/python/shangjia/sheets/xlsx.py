"""A streaming reader for .xlsx/.xlsm: the zip's sheet XML through expat, row by row.

Why not openpyxl or calamine: openpyxl ``read_only`` reads ~5.6k rows/s at ~300 MB and
calamine loads the whole sheet (364 MB for 100k rows); expat over the inflated stream with a
shared-strings table reads ~28k rows/s in ~13 MB plus the strings (PERF-ANCHORS.md).

Safety: the zip's declared sizes and ratios are checked before anything is inflated and the
inflated byte count is enforced while reading; every XML part is parsed with DTDs forbidden
(the defusedxml rule), so entity bombs and external entities never expand.
"""

from __future__ import annotations

import codecs
import html
import re
import zipfile
from datetime import datetime, timedelta
from typing import IO, Iterator
from xml.parsers import expat

from defusedxml import DTDForbidden, EntitiesForbidden

from shangjia.errors import FindingError, finding

CHUNK = 1 << 18


class Num(str):
    """A numeric cell's text as stored in the file (e.g. "6901234567892", "1.23E+12")."""
    __slots__ = ()


class DateVal(str):
    """A numeric cell with a date format, converted to ISO text."""
    __slots__ = ()


class ErrVal(str):
    """A formula error value (#N/A, #VALUE!, ...)."""
    __slots__ = ()


_BUILTIN_DATE_FMTS = set(range(14, 23)) | set(range(27, 37)) | set(range(45, 48)) | set(range(50, 59))
_DATE_CODE = re.compile(r"(?<![\\_])[ymdhs]", re.I)
_XESC = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape_x(s: str) -> str:
    return _XESC.sub(lambda m: chr(int(m.group(1), 16)), s) if "_x" in s else s


# ---- the fast path: the canonical layout (UTF-8, unprefixed, r on every cell) by regex -------
# Excel, WPS, LibreOffice, Google Sheets, XlsxWriter and openpyxl all write cells as
# <c r="B2" s="1" t="s"><v>7</v></c>. Rows in that shape are read with two C-level regexes
# (~4x faster than one Python callback per XML event); a row with anything else in it is
# re-read with expat, and a part that is not UTF-8 or uses prefixes is read with expat whole.
_ROWNUM_RE = re.compile(r'\br="(\d+)"')
_CELL_RE = re.compile(
    r'<c r="([A-Z]{1,3})\d+"(?: s="(\d+)")?(?: t="(\w+)")?\s*(?:/>|>\s*(?:<f\b[^<>]*?(?:/>|>[^<]*</f>)\s*)?'
    r'(?:<v>([^<]*)</v>|<is>((?:[^<]*+<(?!/is>|/?c[\s>/]))*+[^<]*+)</is>)?\s*</c>)')
# Element content is matched as runs of text and tags that cannot be the element's end or the
# start of the next one, possessively: a piece never closed fails at the next cell, string or
# run instead of rescanning the rest of the row, and no backtracking state is kept per character.
# The lean form every mainstream writer uses for values: (column, attributes, value). A row with
# a formula, an inline string or spacing between tags does not match it and takes _CELL_RE.
_CELL_FAST_RE = re.compile(r'<c r="([A-Z]{1,3})\d+"([^<>/]*)(?:/>|>(?:<v>([^<]*)</v>)?</c>)')
_ROW_START_RE = re.compile(r'<row\b')
_T_RE = re.compile(r'<t\b[^<>]*?(?:/>|>((?:[^<]*+<(?!/?t[\s>/]))*+[^<]*+)</t>)')
_RPH_RE = re.compile(r'<rPh\b(?:[^<]*+<(?!/rPh>|rPh\b))*+[^<]*+</rPh>')
_TYPE_RE = re.compile(r'\bt="(\w+)"')
_STYLE_RE = re.compile(r'\bs="(\d+)"')
_SI_FAST_RE = re.compile(r'<si><t>([^<]*)</t></si>|<si>((?:[^<]*+<(?!/si>|si[\s>/]))*+[^<]*+)</si>|<si/>')
_ROOT_RE = re.compile(r'<(?:([\w.-]+):)?(worksheet|sst)\b')
_ENC_RE = re.compile(r'encoding=["\']([\w.-]+)["\']')


_END_RE = re.compile(r'</sheetData>|<sheetData/>')
_ROW_AT_RE = re.compile(r'<row\b[^<>]{0,200}?\br="(\d+)"')      # a row's number, from its start
_CELL_AT_RE = re.compile(r'<c\b[^<>]{0,200}?\br="([A-Z]{1,3})\d*"[^<>]*?(/?)>')
_ANY_ROW_RE = re.compile(r'<row[\s>/]|</row>')

# Characters searched by the streaming cuts (rows at </row>, shared strings at </si>): each
# chunk's new text is searched once, so this grows with the part, not with its square. A
# meter for tests; the cost is one addition per 256 KB chunk.
SCANNED = [0]


def _rfind(buf: str, tag: str, start: int) -> int:
    """``buf.rfind(tag, start)``, metered."""
    SCANNED[0] += len(buf) - start
    return buf.rfind(tag, start)


def _search(rx: re.Pattern, buf: str, start: int):
    SCANNED[0] += len(buf) - start
    return rx.search(buf, start)


def _size(chars: int) -> str:
    return f"{chars / 2**20:g} MB" if chars >= 2**20 else f"{chars / 1024:g} KB"


def _strip_comments(s: str) -> str:
    """``<!--.*?-->`` removed, in one pass (the regex rescans the rest for every unclosed one)."""
    out: list[str] = []
    pos = 0
    while True:
        i = s.find("<!--", pos)
        j = s.find("-->", i + 4) if i >= 0 else -1
        if j < 0:
            break
        out.append(s[pos:i])
        pos = j + 3
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


def _open_row(s: str, end: int | None = None) -> bool:
    """Whether ``s[:end]`` opens a row it never closes (``<row\\b[^>]*(?<!/)>``, in one pass:
    the regex rescans the rest for every ``<row`` without a ``>``)."""
    end = len(s) if end is None else end
    pos = 0
    while True:
        m = _ROW_START_RE.search(s, pos, end)
        if m is None:
            return False
        j = s.find(">", m.end(), end)
        if j < 0:
            return False
        if s[j - 1] != "/":
            return True
        pos = j + 1          # every "<row" before this ">" ends the same way


def _xml_text(s: str) -> str:
    if "&" in s:
        s = html.unescape(s)
    if "_x" in s:
        s = _unescape_x(s)
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")   # XML end-of-line handling, as expat does
    return s


def _fast_path_ok(head: bytes, filename: str) -> bool:
    """Whether a part can take the regex path; refuses a DTD either way."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(head) > 1 and head[1:2] == b"\x00"):
        return False                          # UTF-16: expat decodes it
    text = head.decode("utf-8", "replace")
    root = _ROOT_RE.search(text)
    prolog = text[: root.start()] if root else text
    if "<!DOCTYPE" in prolog or "<!ENTITY" in prolog:
        raise FindingError(finding("SHEET_HOSTILE_XML", file=filename))
    m = _ENC_RE.search(prolog)
    if m and m.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        return False
    return bool(root) and not root.group(1)


def _forbid_dtd(*_a) -> None:
    raise DTDForbidden(None, None, None)


def _forbid_entity(*_a) -> None:
    raise EntitiesForbidden(None, None, None, None, None, None)


def _head(chunks: Iterator[bytes], size: int = 4096) -> bytes:
    """The first ``size`` bytes of a part (more when a chunk is bigger), for the prolog checks."""
    first = b""
    for chunk in chunks:
        first += chunk
        if len(first) >= size:
            break
    return first


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def make_parser() -> expat.XMLParserType:
    p = expat.ParserCreate()
    p.StartDoctypeDeclHandler = _forbid_dtd
    p.EntityDeclHandler = _forbid_entity
    p.UnparsedEntityDeclHandler = _forbid_entity
    p.ExternalEntityRefHandler = _forbid_entity
    p.buffer_text = True
    p.buffer_size = 1 << 16
    return p


def _local(name: str) -> str:
    return name.rpartition(":")[2] if ":" in name else name


_ROW_TAG_RE = re.compile(r'<row\b[^<>]*>')


def _count_on(piece: str, i: int, prev: int) -> int:
    """The number of a row written without ``r`` that starts at ``piece[i]``: one after the row
    before it, counting the empty rows written as ``<row r="5"/>`` earlier in the piece."""
    if piece.find("<row", 0, i) >= 0:
        for m in _ROW_TAG_RE.finditer(piece, 0, i):
            rm = _ROWNUM_RE.search(m.group())
            prev = int(rm.group(1)) if rm else prev + 1
    return prev + 1


def col_letters(idx: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    idx += 1
    while idx:
        idx, r = divmod(idx - 1, 26)
        s = chr(65 + r) + s
    return s


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


class SpilledStrings:
    """A shared-strings table kept in an unlinked temporary file: the strings as UTF-8, one after
    another, and the offset where each ends (an ``array('I')``, 4 bytes a string); read back
    through ``mmap``. Indexing returns ``str`` like the in-memory list, and the same object for
    the same index while it is in use (two generations of recently read strings): the sheet
    reader recognises a product's repeated columns by identity, as with the list.

    Memory: 4 bytes a string plus the recent ones, whatever the table's size; the file's pages are
    the page cache's (reclaimable). The file needs room in the temporary directory: up to the
    part's inflated size (Lambda: ephemeral storage, 512 MB by default)."""

    RECENT = 16384                   # strings a generation holds

    def __init__(self, declared: int) -> None:
        import array
        import tempfile

        self._fh = tempfile.TemporaryFile(prefix="shangjia-sst-")
        self._ends = array.array("I" if declared < 2**32 else "Q")
        self._pos = 0
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._mm = None
        self._cur: dict[int, str] = {}
        self._old: dict[int, str] = {}

    # ---- building (list-like, for the readers of the part) --------------------------------------
    def append(self, s: str) -> None:
        self.extend((s,))

    def extend(self, strings) -> None:
        ends = self._ends
        pos = self._pos
        pending = self._pending
        for s in strings:
            b = s.encode("utf-8", "surrogatepass")
            pos += len(b)
            ends.append(pos)
            pending.append(b)
        self._pending_bytes += pos - self._pos
        self._pos = pos
        if self._pending_bytes > 1 << 20:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._fh.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0

    def seal(self) -> None:
        """Done writing: the file is mapped for reading."""
        import mmap

        self._flush()
        self._fh.flush()
        if self._pos:
            self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        self._fh.close()
        self._cur, self._old = {}, {}

    # ---- reading ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> str:
        s = self._cur.get(i)
        if s is not None:
            return s
        s = self._old.get(i)
        if s is None:
            if i < 0 or i >= len(self._ends):
                raise IndexError(i)
            a = self._ends[i - 1] if i else 0
            s = self._mm[a: self._ends[i]].decode("utf-8", "surrogatepass") if self._mm is not None else ""
        if len(self._cur) >= self.RECENT:
            self._old, self._cur = self._cur, {}
        self._cur[i] = s
        return s

    @property
    def held_bytes(self) -> int:
        """Memory this table holds besides the recent strings: its index."""
        return self._ends.itemsize * len(self._ends)


class XlsxBook:
    """An opened workbook: sheet list, styles and shared strings; rows streamed per sheet."""

    def __init__(self, zf: zipfile.ZipFile, limits, filename: str) -> None:
        self.zf = zf
        self.limits = limits
        self.filename = filename
        self.warnings: list = []
        self._check_sizes()
        self.names = {i.filename.replace("\\", "/").lstrip("/").lower(): i for i in zf.infolist()}
        if "xl/workbook.xml" not in self.names:
            if any(n == "content.xml" for n in self.names) or "mimetype" in self.names:
                raise FindingError(finding("SHEET_UNSUPPORTED_FORMAT", file=filename,
                                           format="OpenDocument (.ods)"))
            inner = [i.filename for i in zf.infolist()
                     if i.filename.lower().endswith((".xlsx", ".xlsm", ".csv", ".xls"))]
            if inner:
                raise FindingError(finding(
                    "SHEET_UNSUPPORTED_FORMAT", file=filename,
                    format=f"a zip archive of {len(zf.infolist())} file(s) ({inner[0]}, ...), not a workbook; "
                           "upload the sheet itself, and images as their own files"))
            raise FindingError(finding("SHEET_CORRUPT", file=filename,
                                       reason="no workbook part (xl/workbook.xml) in the archive"))
        self.has_macros = "xl/vbaproject.bin" in self.names
        self.date1904 = False
        self.sheets: list[tuple[str, str, str]] = []   # (name, part path, state)
        self._read_workbook()
        self.date_styles = self._read_styles()
        self._strings: list[str] | None = None

    # ---- zip-level limits -------------------------------------------------------------------
    def _check_sizes(self) -> None:
        lim = self.limits
        infos = self.zf.infolist()
        if len(infos) > lim.max_zip_entries:
            raise FindingError(finding("SHEET_ZIP_BOMB", file=self.filename,
                                       reason=f"{len(infos)} entries in the archive"))
        total = 0
        for i in infos:
            total += i.file_size
            if i.file_size > lim.max_part_bytes:
                raise FindingError(finding("SHEET_ZIP_BOMB", file=self.filename,
                                           reason=f"{i.filename} declares {i.file_size // 2**20} MB"))
            if i.compress_size and i.file_size > 1 << 20 and i.file_size / i.compress_size > lim.max_ratio:
                raise FindingError(finding("SHEET_ZIP_BOMB", file=self.filename,
                                           reason=f"{i.filename} is compressed {i.file_size // i.compress_size}:1"))
            if i.flag_bits & 0x1:
                raise FindingError(finding("SHEET_ENCRYPTED", file=self.filename))
        if total > lim.max_unpacked_bytes:
            raise FindingError(finding("SHEET_ZIP_BOMB", file=self.filename,
                                       reason=f"{total // 2**20} MB in total"))

    def _open(self, path: str) -> IO[bytes]:
        info = self.names.get(path.lower())
        if info is None:
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason=f"missing part {path}"))
        return self.zf.open(info)

    def _chunks(self, path: str) -> Iterator[bytes]:
        info = self.names.get(path.lower())
        declared = info.file_size if info else 0
        seen = 0
        try:
            with self._open(path) as fh:
                while True:
                    chunk = fh.read(CHUNK)
                    if not chunk:
                        return
                    seen += len(chunk)
                    if seen > declared + 1:
                        raise FindingError(finding("SHEET_ZIP_BOMB", file=self.filename,
                                                   reason=f"{path} inflates beyond its declared size"))
                    yield chunk
        except FindingError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason=f"{path}: {e}")) from e

    def _parse(self, path: str, start, end=None, chars=None) -> None:
        p = make_parser()
        p.StartElementHandler = start
        if end:
            p.EndElementHandler = end
        if chars:
            p.CharacterDataHandler = chars
        try:
            for chunk in self._chunks(path):
                p.Parse(chunk, False)
            p.Parse(b"", True)
        except (DTDForbidden, EntitiesForbidden) as e:
            raise FindingError(finding("SHEET_HOSTILE_XML", file=self.filename)) from e
        except expat.ExpatError as e:
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason=f"{path}: {e}")) from e

    # ---- workbook, relationships, styles ------------------------------------------------------
    def _rels(self, path: str) -> dict[str, str]:
        base = path.rsplit("/", 1)[0]
        rels_path = f"{base}/_rels/{path.rsplit('/', 1)[1]}.rels"
        out: dict[str, str] = {}
        if rels_path.lower() not in self.names:
            return out

        def start(name, a):
            if _local(name) == "Relationship" and a.get("Id") and a.get("Target"):
                t = a["Target"].replace("\\", "/")
                if t.startswith("/"):
                    t = t.lstrip("/")
                elif not t.lower().startswith(base.lower() + "/"):
                    t = f"{base}/{t}"
                parts: list[str] = []
                for seg in t.split("/"):
                    if seg == "..":
                        parts and parts.pop()
                    elif seg and seg != ".":
                        parts.append(seg)
                out[a["Id"]] = "/".join(parts)
        self._parse(rels_path, start)
        return out

    def _read_workbook(self) -> None:
        rels = self._rels("xl/workbook.xml")
        found: list[tuple[str, str | None, str]] = []

        def start(name, a):
            ln = _local(name)
            if ln == "sheet":
                rid = next((v for k, v in a.items() if _local(k) == "id"), None)
                found.append((a.get("name", ""), rels.get(rid) if rid else None, a.get("state", "visible")))
            elif ln == "workbookPr":
                self.date1904 = a.get("date1904", "0").lower() in ("1", "true")
        self._parse("xl/workbook.xml", start)
        for i, (name, target, state) in enumerate(found, 1):
            if target is None:                     # no rels: fall back to the conventional name
                target = f"xl/worksheets/sheet{i}.xml"
            if target.lower() in self.names and "/worksheets/" in target.lower():
                self.sheets.append((name, target, state))
            # chartsheets and dialog sheets hold no rows: skipped silently

    def _read_styles(self) -> frozenset[int]:
        self.style_count = 0
        if "xl/styles.xml" not in self.names:
            return frozenset()
        custom: dict[int, str] = {}
        xfs: list[int] = []
        state = {"in_xfs": False}

        def start(name, a):
            ln = _local(name)
            if ln == "numFmt":
                try:
                    custom[int(a.get("numFmtId", "-1"))] = a.get("formatCode", "")
                except ValueError:
                    pass
            elif ln == "cellXfs":
                state["in_xfs"] = True
            elif ln == "xf" and state["in_xfs"]:
                try:
                    xfs.append(int(a.get("numFmtId", "0")))
                except ValueError:
                    xfs.append(0)

        def end(name):
            if _local(name) == "cellXfs":
                state["in_xfs"] = False
        self._parse("xl/styles.xml", start, end)

        def is_date(fid: int) -> bool:
            if fid in _BUILTIN_DATE_FMTS:
                return True
            code = custom.get(fid)
            if not code:
                return False
            code = re.sub(r'"[^"]*"|\[[^\]]*\]', "", code)   # quoted text and [Red]/[$-804]
            return bool(_DATE_CODE.search(code.split(";")[0])) and "0" not in code.split(";")[0].replace("00", "")
        self.style_count = len(xfs)
        return frozenset(i for i, fid in enumerate(xfs) if is_date(fid))

    @property
    def strings(self) -> list[str]:
        if self._strings is None:
            self._strings = self._read_shared_strings()
        return self._strings

    def part_size(self, path: str) -> int:
        """A part's declared (inflated) size; 0 when it is missing."""
        info = self.names.get(path.lower())
        return info.file_size if info else 0

    def close(self) -> None:
        """Releases a shared-strings table kept on disk (``SpilledStrings``)."""
        close = getattr(self._strings, "close", None)
        if close:
            close()

    def _read_shared_strings(self) -> list[str]:
        path = next((p for p in ("xl/sharedstrings.xml",) if p in self.names), None)
        if path is None:
            return []
        spill = self.part_size(path) > getattr(self.limits, "strings_in_memory_bytes", 1 << 62)
        out: list[str] | SpilledStrings = SpilledStrings(self.part_size(path)) if spill else []
        try:
            chunks = self._chunks(path)
            first = _head(chunks)
            if _fast_path_ok(first[:4096], self.filename):
                return self._shared_strings_fast(first, chunks, out)
            return self._shared_strings_expat(path, out)
        except BaseException:
            if spill:
                out.close()
            raise

    def _shared_strings_fast(self, first: bytes, chunks: Iterator[bytes], out=None) -> list[str]:
        """Strings cut after the last ``</si>`` of each chunk, only the new text searched; one
        string that outgrows ``Limits.max_string_xml`` is refused without reading further."""
        out = [] if out is None else out
        dec = codecs.getincrementaldecoder("utf-8")("strict")
        limit = self.limits.max_string_xml
        buf = ""
        si = _SI_FAST_RE.findall
        text = _xml_text
        rich = self._rich_text
        try:
            for chunk in _chain(first, chunks):
                old = len(buf)
                buf += dec.decode(chunk)
                cut = _rfind(buf, "</si>", max(0, old - 4))
                cut2 = _rfind(buf, "<si/>", max(0, old - 4))
                end = max(cut + 5 if cut >= 0 else 0, cut2 + 5 if cut2 >= 0 else 0)
                if end:
                    # plain <si><t>text</t></si> in C; rich runs and phonetic guides one by one
                    out.extend([text(t) if t else rich(r) for t, r in si(buf, 0, end)])
                    buf = buf[end:]
                if len(buf) > limit:
                    raise FindingError(finding("SHEET_STRING_TOO_LARGE", file=self.filename,
                                               index=len(out) + 1, limit=_size(limit)))
            buf += dec.decode(b"", final=True)
        except UnicodeDecodeError as e:
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason=f"sharedStrings: {e}")) from e
        if "<si" in buf:
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason="sharedStrings.xml is cut short"))
        if isinstance(out, SpilledStrings):
            out.seal()
        return out

    @staticmethod
    def _rich_text(inner: str) -> str:
        if not inner:
            return ""
        if "<rPh" in inner:
            inner = _RPH_RE.sub("", inner)
        return _xml_text("".join(_T_RE.findall(inner)))

    def _shared_strings_expat(self, path: str, out=None) -> list[str]:
        out = [] if out is None else out
        buf: list[str] = []
        st = {"t": False, "rph": False, "n": 0}
        limit = self.limits.max_string_xml

        def start(name, a):
            ln = _local(name)
            if ln == "t":
                st["t"] = not st["rph"]
            elif ln == "si":
                buf.clear()
                st["n"] = 0
            elif ln == "rPh":
                st["rph"] = True

        def end(name):
            ln = _local(name)
            if ln == "t":
                st["t"] = False
            elif ln == "si":
                out.append(_unescape_x("".join(buf)))
            elif ln == "rPh":
                st["rph"] = False

        def chars(d):
            if st["t"]:
                buf.append(d)
                st["n"] += len(d)
                if st["n"] > limit:
                    raise FindingError(finding("SHEET_STRING_TOO_LARGE", file=self.filename,
                                               index=len(out) + 1, limit=_size(limit)))
        self._parse(path, start, end, chars)
        if isinstance(out, SpilledStrings):
            out.seal()
        return out

    # ---- rows ------------------------------------------------------------------------------------
    def dimension_rows(self, path: str) -> int | None:
        """The last row the sheet's <dimension ref> declares (a hint: writers may lie or omit it)."""
        for chunk in self._chunks(path):
            m = re.search(rb'<(?:\w+:)?dimension ref="(?:[A-Z]+\d+:)?[A-Z]+(\d+)"', chunk[:8192])
            return int(m.group(1)) if m else None
        return None

    def count_rows(self, path: str) -> int:
        """A fast upper bound of the rows in a sheet part (counts row start tags, no parsing)."""
        n = 0
        tail = b""
        for chunk in self._chunks(path):
            data = tail + chunk
            n += data.count(b"<row") + data.count(b":row ") + data.count(b":row>")
            n -= tail.count(b"<row") + tail.count(b":row ") + tail.count(b":row>")
            tail = data[-8:]
        return n

    def serial_to_iso(self, v: str) -> str:
        try:
            f = float(v)
        except ValueError:
            return v
        base = datetime(1904, 1, 1) if self.date1904 else datetime(1899, 12, 30)
        if not self.date1904 and f < 60:          # Excel's fictitious 1900-02-29
            f += 1
        try:
            d = base + timedelta(days=f)
        except OverflowError:
            return v
        if d.hour == d.minute == d.second == 0:
            return d.strftime("%Y-%m-%d")
        return d.strftime("%Y-%m-%d %H:%M:%S")

    def rows(self, path: str) -> Iterator[tuple[int, dict[str, str]]]:
        """Yield (1-based row number, {column letters: value}) for non-empty rows, streaming.

        Values are ``str`` for text, ``Num`` for numbers (text as stored), ``DateVal`` for
        date-formatted numbers, ``ErrVal`` for formula errors; formulas give their cached value."""
        chunks = self._chunks(path)
        first = _head(chunks)
        if _fast_path_ok(first[:4096], self.filename):
            return self._rows_fast(first, chunks)
        return self._rows_expat(_chain(first, chunks))

    def _rows_fast(self, first: bytes, chunks: Iterator[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
        rownum = 0
        for block in self._fast_blocks(first, chunks):
            rows, rownum, damage = self.read_block(block, rownum)
            yield from rows
            if damage:
                raise damage

    def fast_blocks(self, path: str) -> Iterator[str] | None:
        """The part's rows as text, in blocks of whole rows (each block is rows joined by
        ``</row>``, the last one's closing tag left off), for readers that hand blocks to
        other processes; None when the part is not in the canonical shape."""
        chunks = self._chunks(path)
        first = _head(chunks)
        if not _fast_path_ok(first[:4096], self.filename):
            return None
        return self._fast_blocks(first, chunks)

    def _fast_blocks(self, first: bytes, chunks: Iterator[bytes]) -> Iterator[str]:
        """Inflated, decoded text cut after the last ``</row>`` of each chunk; a part cut short
        (no ``</sheetData>``, or a row never closed) is refused at its end.

        Only each chunk's new text is searched (backed up by a tag's length less one, for a tag
        cut across chunks), so time is linear in the part. What waits for its ``</row>`` is one
        row: past ``Limits.max_row_xml`` it is refused (``SHEET_ROW_TOO_LARGE``, where it
        starts) without reading further; the rows before it have been handed on. A run of empty
        rows (``<row r="7"/>``) is folded to its last; after ``</sheetData>`` the rest of the
        part (hyperlinks, validations ...) is read through, not kept, once it passes the bound."""
        dec = codecs.getincrementaldecoder("utf-8")("strict")
        limit = self.limits.max_row_xml
        buf = ""
        row_at = -1              # where the last "<row" in buf starts
        ended = False
        drained = None           # past the bound after </sheetData>: whether a row was left open
        carry = ""
        try:
            for chunk in _chain(first, chunks):
                text = dec.decode(chunk)
                if drained is not None:            # rows after </sheetData> would be read; none may be
                    text = carry + text
                    if _search(_ANY_ROW_RE, text, 0):
                        raise FindingError(finding("SHEET_CORRUPT", file=self.filename,
                                                   reason="rows after the end of the sheet data"))
                    carry = text[-8:]
                    continue
                old = len(buf)
                buf += text
                cut = _rfind(buf, "</row>", max(0, old - 5))
                if cut >= 0:
                    block, buf = buf[:cut], buf[cut + 6:]
                    if "<!--" in block:
                        block = _strip_comments(block)
                    yield block
                    old, row_at = 0, -1            # what is left is new text, searched from its start
                k = _rfind(buf, "<row", max(0, old - 3))
                if k >= 0:
                    row_at = k
                if not ended and _search(_END_RE, buf, max(0, old - 11)):
                    ended = True
                if len(buf) > limit:
                    if ended:
                        drained = _open_row(buf)
                        carry, buf = buf[-8:], ""
                    elif (k := self._fold_at(buf, row_at)) > 0 and len(buf) - k <= limit:
                        buf, row_at = buf[k:], row_at - k   # empty rows before a numbered one: nothing to read
                    else:
                        raise self._row_too_large(buf, row_at)
            buf += dec.decode(b"", final=True)
        except UnicodeDecodeError as e:
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason=f"sheet XML: {e}")) from e
        if not ended and _END_RE.search(buf):
            ended = True
        if not ended or (drained if drained is not None else _open_row(buf)):
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason="the sheet XML is cut short"))

    @staticmethod
    def _fold_at(buf: str, row_at: int) -> int:
        """Where the text before the last whole numbered row tag can go (0: it cannot): when it
        holds only rows that are closed (``<row r="7"/>``) and no comment, nothing in it is read."""
        if row_at <= 0 or "<!--" in buf:
            return 0
        k = row_at
        if not _ROW_AT_RE.match(buf, k) or buf.find(">", k) < 0:   # the last tag may be cut off
            k = buf.rfind("<row", 0, k)
            if k <= 0 or not _ROW_AT_RE.match(buf, k):
                return 0
        return 0 if _open_row(buf, k) else k

    def _row_too_large(self, buf: str, row_at: int) -> FindingError:
        """The refusal of a row that outgrew ``max_row_xml``: its number and, when the bound was
        passed inside one cell, that cell's column."""
        limit = _size(self.limits.max_row_xml)
        if row_at < 0:
            return FindingError(finding("SHEET_CORRUPT", file=self.filename,
                                        reason=f"the sheet XML holds more than {limit} before its first row"))
        m = _ROW_AT_RE.match(buf, row_at)
        row = int(m.group(1)) if m else None
        column = None
        c = buf.rfind("<c ", row_at)
        if c >= 0:
            cm = _CELL_AT_RE.match(buf, c)
            if cm and not cm.group(2) and buf.find("</c>", cm.end()) < 0:
                column = cm.group(1)               # the cell still open when the bound was passed
        return FindingError(finding("SHEET_ROW_TOO_LARGE", file=self.filename, row=row, column=column,
                                    at=row if row is not None else "?", limit=limit))

    def fast_kinds(self) -> tuple[frozenset[str], frozenset[str]]:
        """Attribute strings of (a shared-string cell, a plain-number cell) in the fast path."""
        kinds = getattr(self, "_kinds", None)
        if kinds is None:
            # a set lookup is cheaper than reading the attributes of every cell
            shared = frozenset([' t="s"'] + [f' s="{i}" t="s"' for i in range(self.style_count)])
            plain = frozenset([""] + [f' s="{i}"' for i in range(self.style_count) if i not in self.date_styles])
            kinds = self._kinds = (shared, plain)
        return kinds

    def read_block(self, block: str, rownum: int = 0) -> tuple[list[tuple[int, dict[str, str]]], int, FindingError | None]:
        """The non-empty rows of a block from ``fast_blocks`` up to any damage, the last row
        number seen, and the damage (a FindingError) or None: a reader hands on the rows before
        a broken one, as it would reading row by row. ``rownum``: the row before the block
        (rows without ``r`` count on from it). Each row's cells are read with one C-level
        ``findall``; a row in another shape goes to ``_row_slow``."""
        try:
            out: list = []
            return out, self._read_block(block, rownum, out), None
        except FindingError as e:
            return out, rownum, e

    def _read_block(self, block: str, rownum: int, out: list) -> int:
        strings = self.strings
        max_cells = self.limits.max_cells_per_row
        max_cell = self.limits.max_string_xml
        cells_of = _CELL_FAST_RE.findall
        rownum_at = _ROWNUM_RE.search
        num = Num
        conv = self._convert_attrs
        shared, plain = self.fast_kinds()
        slow = self._row_slow
        for piece in block.split("</row>"):
            i = piece.rfind("<row")
            if i < 0:
                raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason="a </row> without its <row>"))
            j = piece.find(">", i)
            if j < 0:
                raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason="a broken <row> tag"))
            rm = rownum_at(piece, i, j)
            rownum = int(rm.group(1)) if rm else _count_on(piece, i, rownum)
            if j + 1 == len(piece):
                continue
            found = cells_of(piece, j + 1)
            if len(found) != piece.count("<c", j):
                cells = slow(piece[i:] + "</row>", rownum)
            else:
                try:
                    cells = {col: strings[int(v)] if a in shared else num(v) if a in plain
                             else conv(a, v) for col, a, v in found if v}
                except (IndexError, ValueError):    # a shared-string index out of range
                    cells = slow(piece[i:] + "</row>", rownum)
            if cells:
                if len(cells) > max_cells:
                    raise FindingError(finding("SHEET_TOO_MANY_COLUMNS", file=self.filename,
                                               count=len(cells), limit=max_cells))
                if len(piece) - j > max_cell:      # only a row this long can hold a cell too long
                    self._check_cells(cells, rownum)
                out.append((rownum, cells))
        return rownum

    def _check_cells(self, cells: dict[str, str], rownum: int) -> None:
        """A cell over ``Limits.max_string_xml`` is refused at its row and column, as expat does."""
        limit = self.limits.max_string_xml
        for col, v in cells.items():
            if len(v) > limit:
                raise FindingError(finding("SHEET_ROW_TOO_LARGE", file=self.filename, row=rownum, column=col,
                                           at=rownum, limit=_size(limit)))

    def _convert_attrs(self, attrs: str, v: str):
        """A fast-path cell that is not a plain shared string: its type and style from its attributes."""
        tm = _TYPE_RE.search(attrs) if 't="' in attrs else None
        sm = _STYLE_RE.search(attrs) if 's="' in attrs else None
        return self._convert(sm.group(1) if sm else "", tm.group(1) if tm else "", v, "")

    def _row_slow(self, row_xml: str, rownum: int) -> dict[str, str]:
        """One row in a shape the fast regex does not take (formulas, inline strings, spacing,
        cells without r): the full regex, else expat over the row alone."""
        body = row_xml[row_xml.find(">") + 1:]
        found = _CELL_RE.findall(body)
        if len(found) == body.count("<c"):
            try:
                return {col: self._convert(style, t, v, inline)
                        for col, style, t, v, inline in found if v or inline}
            except (IndexError, ValueError):
                pass
        for _n, cells in self._rows_expat([row_xml.encode("utf-8")], rownum):
            return cells
        return {}

    def _convert(self, style: str, t: str, v: str, inline: str):
        """One cell of the fast path that is not a plain shared string or number."""
        if inline and not v:
            return _xml_text("".join(_T_RE.findall(_RPH_RE.sub("", inline))))
        if t == "s":
            try:
                return self.strings[int(v)]
            except (IndexError, ValueError):
                return ErrVal("#REF!")
        if not t or t == "n":
            if style and int(style) in self.date_styles:
                return DateVal(self.serial_to_iso(v))
            return Num(v)
        if t == "str" or t == "inlineStr":
            return _xml_text(v)
        if t == "b":
            return "TRUE" if v.strip() in ("1", "true") else "FALSE"
        if t == "e":
            return ErrVal(v)
        return DateVal(v[:10] if v.endswith("T00:00:00") else v)

    def _rows_expat(self, chunks, first_row: int = 0) -> Iterator[tuple[int, dict[str, str]]]:
        """The general reader: expat with DTDs forbidden, for any layout.

        Values are ``str`` for text, ``Num`` for numbers (text as stored), ``DateVal`` for
        date-formatted numbers, ``ErrVal`` for formula errors; formulas give their cached value."""
        strings = self.strings
        date_styles = self.date_styles
        max_cells = self.limits.max_cells_per_row
        max_cell, max_row = self.limits.max_string_xml, self.limits.max_row_xml
        out: list[tuple[int, dict[str, str]]] = []
        cells: dict[str, str] = {}
        vbuf: list[str] = []
        size = [0, 0]             # characters of the cell's text, of the row's
        rownum = first_row - 1 if first_row else 0
        col = ""
        ctype = None
        cstyle = None
        in_v = False
        ncol = -1

        def start(name, a):
            nonlocal rownum, col, ctype, cstyle, in_v, cells, ncol
            if ":" in name:
                name = name.rpartition(":")[2]
            if name == "c":
                r = a.get("r")
                if r:
                    col = r.rstrip("0123456789")
                    ncol = -1
                else:
                    ncol = (col_index(col) + 1) if col else 0
                    col = col_letters(ncol)
                ctype = a.get("t")
                cstyle = a.get("s")
                vbuf.clear()
                size[0] = 0
            elif name == "v" or name == "t":
                in_v = True
            elif name == "row":
                r = a.get("r")
                rownum = int(r) if r else rownum + 1
                cells = {}
                col = ""
                size[1] = 0

        def end(name):
            nonlocal in_v
            if ":" in name:
                name = name.rpartition(":")[2]
            if name == "v" or name == "t":
                in_v = False
            elif name == "c":
                if not vbuf:
                    return
                v = "".join(vbuf) if len(vbuf) > 1 else vbuf[0]
                if ctype is None or ctype == "n":
                    if cstyle is not None and date_styles and int(cstyle) in date_styles:
                        cells[col] = DateVal(self.serial_to_iso(v))
                    else:
                        cells[col] = Num(v)
                elif ctype == "s":
                    try:
                        cells[col] = strings[int(v)]
                    except (IndexError, ValueError):
                        cells[col] = ErrVal("#REF!")
                elif ctype == "inlineStr" or ctype == "str":
                    cells[col] = _unescape_x(v)
                elif ctype == "b":
                    cells[col] = "TRUE" if v.strip() in ("1", "true") else "FALSE"
                elif ctype == "e":
                    cells[col] = ErrVal(v)
                else:                                  # "d": ISO 8601 text
                    cells[col] = DateVal(v[:10] if v.endswith("T00:00:00") else v)
                if len(cells) > max_cells:
                    raise FindingError(finding("SHEET_TOO_MANY_COLUMNS", file=self.filename,
                                               count=len(cells), limit=max_cells))
            elif name == "row":
                if cells:
                    out.append((rownum, cells))

        def chars(d):
            if in_v:
                vbuf.append(d)
                size[0] += len(d)
                size[1] += len(d)
                if size[0] > max_cell or size[1] > max_row:
                    raise FindingError(finding(
                        "SHEET_ROW_TOO_LARGE", file=self.filename, row=rownum, column=col or None, at=rownum,
                        limit=_size(max_cell if size[0] > max_cell else max_row)))

        p = make_parser()
        p.StartElementHandler = start
        p.EndElementHandler = end
        p.CharacterDataHandler = chars
        try:
            for chunk in chunks:
                try:
                    p.Parse(chunk, False)
                except FindingError:
                    yield from out             # the rows before the damage, as the fast path does
                    raise
                if out:
                    yield from out
                    out.clear()
            p.Parse(b"", True)
        except (DTDForbidden, EntitiesForbidden) as e:
            raise FindingError(finding("SHEET_HOSTILE_XML", file=self.filename)) from e
        except expat.ExpatError as e:
            raise FindingError(finding("SHEET_CORRUPT", file=self.filename, reason=f"sheet XML: {e}")) from e
        yield from out
        out.clear()
