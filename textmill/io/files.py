"""Finding inputs (paths, directories, globs, fsspec URLs), naming their format, and opening
them with transparent decompression and byte counting for the progress bar."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import fsspec

from textmill.io.base import DEFAULT_MAX_COMPRESSION_RATIO, CompressionRatioError, CountingReader
from textmill.io.hf_folders import MissingDataFile, hf_metadata_among

COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
FORMATS = {
    ".warc": "warc",
    ".wet": "warc",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",  # Feather v2 is the Arrow IPC file format
    ".pdf": "pdf",
    ".hocr": "hocr",
    ".hocr.html": "hocr",  # before .html
    ".hocr.xhtml": "hocr",
    ".txt": "text",
    ".text": "text",
    ".md": "text",
    ".html": "html",
    ".htm": "html",
}
STATE_DIR = ".textmill"  # a run's own folder inside its output folder
RUN_MANIFEST = f"{STATE_DIR}/run.json"  # its presence makes a folder a textmill output
INPUT_KINDS = ("auto", "code", "files", "pages")
"""auto: a folder holding `.git` checkouts is read as source code, anything else by its format;
code: every folder is a tree of repositories, JSONL/Parquet are The-Stack-style records;
files: every file by its format (no source-tree detection);
pages: every folder of .txt files is one book, a page per file (textmill/io/page_folders.py), and
so is every folder of hOCR, ALTO or PAGE-XML files (textmill/io/ocr_folders.py)."""
# one document per file: many files make one shard
OCR_FORMATS = ("hocr", "alto", "page_xml")
"""One-document OCR files; with `input_kind="pages"` a folder of them is one book, a page per
file (format `hocr_pages`, ...: textmill/io/ocr_folders.py)."""
SMALL_FILE_FORMATS = {
    "text",
    "html",
    "pdf",
    "page_txt",
    *OCR_FORMATS,
    *(f"{kind}_pages" for kind in OCR_FORMATS),
}
FILES_PER_SMALL_FILE_SHARD = 2000
FILES_PER_SHARD = {  # a PDF or a book of pages takes ~0.1-10 s: shards of minutes, not hours
    "pdf": 64,
    "page_txt": 64,
    **{f"{kind}_pages": 64 for kind in OCR_FORMATS},
}


GZIP_MAGIC = b"\x1f\x8b\x08"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SNIFF_BYTES = 10


class InputError(ValueError):
    """An input argument that names nothing readable (reported before the run starts)."""


def split_compression(path: str) -> tuple[str, str | None]:
    """('x.jsonl', 'gzip') for 'x.jsonl.gz'."""
    for suffix, kind in COMPRESSIONS.items():
        if path.endswith(suffix):
            return path[: -len(suffix)], kind
    return path, None


def is_page_file(path: str) -> bool:
    """A page of a page folder (`input_kind="pages"`): `.txt` or `.text`, compressed or not;
    other text files (`.md`) beside the pages are not pages."""
    return split_compression(path)[0].lower().endswith((".txt", ".text"))


def sniff_compression(head: bytes) -> str | None:
    """The compression a file's first `SNIFF_BYTES` bytes show, or None: content decides, not
    the name, so a gzip file named `.jsonl` is read, not counted as a few undecodable lines.
    bz2 needs its block or end magic after `BZh1`-`BZh9`, so a text starting "BZh" stays text."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:10] in BZ2_BLOCK_MAGICS:
        return "bz2"
    return None


BZ2_BLOCK_MAGICS = (b"1AY&SY", b"\x17rE8P\x90")  # a block's, the stream end's (pi, sqrt(pi))


def detect_format(path: str) -> str | None:
    stem, _ = split_compression(path.lower())
    if stem.endswith((".warc.wet", ".warc.wat")):
        return "warc"
    for suffix, fmt in FORMATS.items():
        if stem.endswith(suffix):
            return fmt
    if stem.endswith(".xml"):  # ALTO or PAGE-XML by its namespace, not every .xml
        from textmill.io.ocr_xml import sniff_alto
        from textmill.io.page_xml import sniff_page_xml

        if sniff_alto(path):
            return "alto"
        return "page_xml" if sniff_page_xml(path) else None
    return None


STREAM_ERRORS = (EOFError, OSError, zlib.error, ValueError)
"""What reading a (decompressed) input stream raises when its bytes end early or are corrupt."""
RATIO_CHECK_AFTER_BYTES = 64 * 1024 * 1024
"""Decompressed bytes read before the ratio limit applies: below it a bomb costs < 0.1 s and
no memory worth guarding, and a small, very repetitive file is never refused."""
ZSTD_FEED_BYTES = 1024
"""Compressed bytes per zstd decoder call. zstd expands at most ~32,768x (a 4-byte RLE block
makes 128 KiB), so one call makes at most ~32 MiB (and joins it once: ~64 MiB at the peak)."""
ZSTD_READ_BYTES = 64 * 1024


def open_input(
    path: str, max_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO
) -> tuple[IO[bytes], CountingReader]:
    """A decompressed byte stream over `path` and the counter of raw bytes behind it; the
    compression is the one the first bytes show (`sniff_compression`), else the name's.

    Decoder ends are errors, never a short clean end of file: a stream cut early, a corrupt
    block or a missing end-of-stream raises one of `STREAM_ERRORS` when it is reached, and a
    compressed file that expands more than `max_ratio` times (0: no limit) raises
    `CompressionRatioError`.
    """
    raw = fsspec.open(path, "rb").open()
    head = None
    if raw.seekable():
        head = raw.read(SNIFF_BYTES)
        raw.seek(0)
    counter = CountingReader(raw)
    compression = split_compression(path.lower())[1]
    if head is not None:  # an empty file is empty whatever its name says
        compression = sniff_compression(head) or (compression if head else None)
    if compression is None:
        return io.BufferedReader(counter, buffer_size=1 << 20), counter
    if compression == "zstd":
        return io.BufferedReader(ZstdReader(counter, max_ratio), 1 << 20), counter
    if compression == "gzip":
        decoded: IO[bytes] = gzip.GzipFile(fileobj=counter, mode="rb")
    else:
        decoded = bz2.BZ2File(counter, "rb")
    return io.BufferedReader(DecodedReader(decoded, counter, max_ratio), 1 << 20), counter


def check_ratio(decoded_bytes: int, counter: CountingReader, max_ratio: float) -> None:
    """Raises `CompressionRatioError` once `decoded_bytes` (past `RATIO_CHECK_AFTER_BYTES`)
    exceed `max_ratio` (0: no limit) times the compressed bytes read."""
    if (
        max_ratio
        and decoded_bytes > RATIO_CHECK_AFTER_BYTES
        and decoded_bytes > max_ratio * max(counter.position, 1)
    ):
        raise CompressionRatioError(
            f"decompresses to more than {max_ratio:g}x its size ({decoded_bytes:,} bytes "
            f"from {counter.position:,}; a decompression bomb?); raise max_compression_ratio "
            "(0: no limit) if the file is genuine"
        )


class ZstdReader(io.RawIOBase):
    """zstd frames, one after another, that raise `EOFError` when the input ends inside one.

    python-zstandard's `stream_reader` ends cleanly when its input is cut inside a frame, so a
    truncated `.zst` read as a shorter valid file; its `decompressobj` says whether the frame
    was finished (`eof`), and fed `ZSTD_FEED_BYTES` at a time its output stays bounded. Like
    `DecodedReader`, it hands on what it decoded before an error, and checks the ratio.
    """

    def __init__(self, raw: CountingReader, max_ratio: float):
        import zstandard

        self.raw = raw
        self.max_ratio = max_ratio
        self.position = 0
        self.zstd_error = zstandard.ZstdError
        self.decompressor = zstandard.ZstdDecompressor()
        self.frame = None  # the decoder of the frame in progress
        self.input = memoryview(b"")  # compressed bytes not fed yet
        self.output = memoryview(b"")  # decompressed bytes not returned yet
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.failure is not None:
            raise self.failure
        check_ratio(self.position, self.raw, self.max_ratio)
        filled, size = 0, len(buffer)
        while filled < size:
            if not self.output:
                try:
                    decoded = self._decode()
                except (EOFError, OSError) as exc:
                    if not filled:
                        raise
                    self.failure = exc  # hand over what was decoded before it first
                    break
                if decoded is None:
                    break
                self.output = memoryview(decoded)
            n = min(size - filled, len(self.output))
            buffer[filled : filled + n] = self.output[:n]
            self.output = self.output[n:]
            filled += n
        self.position += filled
        return filled

    def _decode(self) -> bytes | None:
        """What feeding the decoder once gives (maybe nothing); None at a clean end of input
        (between frames)."""
        if not self.input:
            self.input = memoryview(self.raw.read(ZSTD_READ_BYTES))
            if not self.input:
                if self.frame is not None:
                    raise EOFError("zstd input ends inside a frame (the file is truncated)")
                return None
        if self.frame is None:
            self.frame = self.decompressor.decompressobj()
        feed, self.input = self.input[:ZSTD_FEED_BYTES], self.input[ZSTD_FEED_BYTES:]
        try:
            decoded = self.frame.decompress(feed)
        except self.zstd_error as exc:
            raise OSError(f"corrupt zstd data ({exc})") from None
        if self.frame.eof:  # what it did not use begins the next frame
            self.input = memoryview(self.frame.unused_data + self.input.tobytes())
            self.frame = None
        return decoded

    def close(self) -> None:
        self.raw.close()
        super().close()


class DecodedReader(io.RawIOBase):
    """A gzip or bz2 decoder's output handed on as it comes (`read1`), so that an error where
    the input ends never swallows the bytes decoded before it, as a buffered `readinto` would;
    and the ratio checked (`check_ratio`)."""

    def __init__(self, decoded: IO[bytes], counter: CountingReader, max_ratio: float):
        self.decoded = decoded
        self.read_some = getattr(decoded, "read1", decoded.read)
        self.counter = counter
        self.max_ratio = max_ratio
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        check_ratio(self.position, self.counter, self.max_ratio)
        data = self.read_some(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.position += n
        return n

    def close(self) -> None:
        self.decoded.close()
        self.counter.close()  # gzip and bz2 leave a file object they were given open
        super().close()


@dataclass(frozen=True)
class Shard:
    """The unit of parallel work and of resumption: a stable name, the files it reads, and its
    place in the run's shard list (the high half of its documents' `doc_key`)."""

    name: str
    format: str
    paths: tuple[str, ...]
    size_bytes: int
    index: int


def has_magic(argument: str) -> bool:
    return any(c in argument for c in "*?[")


def is_run_output(folder: str | os.PathLike) -> bool:
    """Whether a folder is a textmill run's output: it holds the run's manifest."""
    return os.path.isfile(os.path.join(folder, RUN_MANIFEST))


def printable_path(path: str) -> str:
    """`path` as UTF-8 text can hold it: a name's undecodable bytes (kept by Python as lone
    surrogates) shown as `\\xff`."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def has_text_name(path: str) -> bool:
    """Whether a path is valid UTF-8: a document's `source`, id and error records name its file,
    and Arrow, Parquet and JSON hold only Unicode text."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def skip_reason(path: str) -> str:
    """Why planning left a file out (said to the user, once per file)."""
    if not has_text_name(path):
        return "its name is not valid UTF-8 (rename it to read it)"
    if "://" not in path:
        if os.path.islink(path) and not os.path.exists(path):
            return f"dangling symbolic link to {os.readlink(path)}"
        if os.path.isdir(path):
            return "symbolic link to a folder (not followed)"
        if os.path.exists(path) and not os.path.isfile(path):
            return "not a regular file"
    return "unknown format"


def _expand_one(argument: str, exclude: tuple[str, ...]) -> tuple[list[tuple[str, int]], list[str]]:
    """The files an argument names with their sizes, and the entries that are not readable
    files (dangling links, FIFOs, links to folders). Hidden files and textmill's own output
    folders are never inputs: a run's output inside an input folder is not read back."""
    if "://" not in argument:
        argument = os.path.abspath(argument)  # one spelling per file: ids and sources use it
    fs, _, roots = fsspec.get_fs_token_paths(argument)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    local = protocol in ("file", "local")
    prefix = "" if local else f"{protocol}://"
    found: list[tuple[str, int]] = []
    broken: list[str] = []
    for root in roots:
        if fs.isdir(root):
            listing, before = fs.find(root, detail=True), len(found) + len(broken)
            in_out = False
            outputs = tuple(
                path[: -len(RUN_MANIFEST)] for path in listing if path.endswith("/" + RUN_MANIFEST)
            )
            for path, info in sorted(listing.items()):
                name = path.rsplit("/", 1)[-1]
                if name.startswith(".") or "/." in path[len(root) :]:
                    continue
                if any(path == ex or path.startswith(ex + "/") for ex in exclude):
                    in_out = True
                    continue
                if path.startswith(outputs):
                    continue
                if info.get("type") == "file" or (local and os.path.isfile(path)):
                    found.append((prefix + path, int(info.get("size") or 0)))
                else:  # fsspec lists links and special files as "other"
                    broken.append(prefix + path)
            if len(found) + len(broken) == before and not has_magic(argument):
                hint = " (it is a textmill output: give its data/ folder)" if outputs else ""
                if in_out:
                    hint = " (its files are the output of this run, which it never reads)"
                raise InputError(f"no input files found in {root}{hint}")
        elif fs.exists(root):
            if has_magic(argument) and root.rsplit("/", 1)[-1].startswith("."):
                continue
            found.append((prefix + root, int(fs.size(root) or 0)))
        elif local and os.path.islink(root):
            raise InputError(f"{root}: {skip_reason(root)}")
    try:  # a save_to_disk folder's JSON files describe its .arrow data, they are not data
        metadata = hf_metadata_among(fs, [path[len(prefix) :] for path, _ in found])
    except MissingDataFile as exc:
        raise InputError(str(exc)) from None
    found = [(path, size) for path, size in found if path[len(prefix) :] not in metadata]
    if not found and not broken:
        raise InputError(f"{argument}: no such file, directory or matching glob")
    return found, broken


def plan_shards(
    arguments: Iterable[str], exclude: Iterable[str] = (), input_kind: str = "auto"
) -> tuple[list[Shard], list[str]]:
    """Shards for every readable file under the arguments, and the files skipped (unknown
    format, or not a readable file: `skip_reason` says which).

    Big formats get a shard per file; single-document files (.txt, .html) are grouped so a
    directory of a million pages is not a million tasks. With `input_kind="pages"` each folder
    holding .txt files is one book (textmill/io/page_folders.py). Names depend only on paths, so a
    resumed run finds the same shards whatever its worker count. `exclude` keeps a run's own
    output directory out of its inputs when it lies inside an input directory. A folder of
    repositories (`input_kind` code, or auto and `.git` inside) is a shard per repository.
    """
    if input_kind not in INPUT_KINDS:
        raise InputError(f"unknown input kind {input_kind!r} (have: {', '.join(INPUT_KINDS)})")
    excluded = tuple(str(Path(p).resolve()) for p in exclude)
    files: dict[str, int] = {}
    broken: set[str] = set()
    repositories: list[str] = []
    for argument in arguments:
        if input_kind == "pages" and os.path.isfile(argument) and _is_page(argument):
            # its folder would be read whole, pages not named included: say so instead
            raise InputError(
                f"--input-kind pages reads folders, one book each: give the folder of "
                f"{argument}, not one of its pages"
            )
        if _is_code_folder(argument, input_kind):
            repositories.extend(_repositories_in(argument))
            continue
        found, unreadable = _expand_one(argument, excluded)
        for path, size in found:
            if has_text_name(path):
                files.setdefault(path, size)
            else:
                broken.add(path)
        broken.update(unreadable)
    shards: list[Shard] = []
    small: dict[str, list[tuple[str, int]]] = {}
    unknown: list[str] = sorted(broken - files.keys())
    for path, size in sorted(files.items()):
        fmt = detect_format(path)
        if fmt is None:
            unknown.append(path)
        elif fmt in SMALL_FILE_FORMATS:
            small.setdefault(fmt, []).append((path, size))
        else:
            shards.append(Shard(_shard_name(path), fmt, (path,), size, len(shards)))
    for repo in sorted(set(repositories)):
        from textmill.io.code import tree_size

        shards.append(Shard(_shard_name(repo), "code", (repo,), tree_size(repo), len(shards)))
    if input_kind == "pages":
        texts = small.pop("text", [])
        small.update(_books_of_pages([e for e in texts if is_page_file(e[0])], "page_txt"))
        others = [entry for entry in texts if not is_page_file(entry[0])]
        if others:  # a README.md beside the pages is a document of its own, not a page
            small["text"] = others
        for kind in OCR_FORMATS:
            small.update(_books_of_pages(small.pop(kind, []), f"{kind}_pages"))
        _refuse_mixed_books(small)
    for fmt, entries in small.items():
        per_shard = FILES_PER_SHARD.get(fmt, FILES_PER_SMALL_FILE_SHARD)
        for start in range(0, len(entries), per_shard):
            group = entries[start : start + per_shard]
            paths = tuple(p for p, _ in group)
            size = sum(s for _, s in group)
            shards.append(Shard(_shard_name(*paths), fmt, paths, size, len(shards)))
    return shards, sorted(unknown)


def _is_page(path: str) -> bool:
    """A page of a page folder: a `.txt` page or a one-document OCR file."""
    return is_page_file(path) or detect_format(path) in OCR_FORMATS


def _books_of_pages(entries: list[tuple[str, int]], fmt: str) -> dict[str, list[tuple[str, int]]]:
    """(file, size) entries as {fmt: [(folder, size of its files)]}: each folder one book."""
    folders: dict[str, int] = {}
    for path, size in entries:
        folder = path.rsplit("/", 1)[0]
        folders[folder] = folders.get(folder, 0) + size
    return {fmt: sorted(folders.items())} if folders else {}


def _refuse_mixed_books(small: dict[str, list[tuple[str, int]]]) -> None:
    """A folder whose pages come in two formats (an OCR export's .txt beside its hOCR, say)
    would be two books with one id, most often the same book twice: refused, naming them."""
    formats: dict[str, list[str]] = {}
    for fmt in ("page_txt", *(f"{kind}_pages" for kind in OCR_FORMATS)):
        for folder, _ in small.get(fmt, []):
            formats.setdefault(folder, []).append(fmt.removesuffix("_pages"))
    mixed = {folder: kinds for folder, kinds in formats.items() if len(kinds) > 1}
    if mixed:
        folder, kinds = next(iter(sorted(mixed.items())))
        more = f" (and {len(mixed) - 1:,} more folders)" if len(mixed) > 1 else ""
        raise InputError(
            f"--input-kind pages reads a folder as one book, but {folder} holds pages in "
            f"{len(kinds)} formats ({', '.join(kinds).replace('page_txt', 'txt')}){more}: "
            f"keep one format of pages in each folder"
        )


def _is_code_folder(argument: str, input_kind: str) -> bool:
    if input_kind in ("files", "pages") or "://" in argument or not os.path.isdir(argument):
        return False
    from textmill.io.code import is_source_tree

    return input_kind == "code" or is_source_tree(argument)


def _repositories_in(argument: str) -> list[str]:
    from textmill.io.code import find_repositories

    repositories = find_repositories(os.path.abspath(argument))
    if not repositories:
        raise InputError(f"no repositories found in {argument}")
    return repositories


def _shard_name(*paths: str) -> str:
    stem = paths[0].rstrip("/").rsplit("/", 1)[-1]
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
    digest = hashlib.sha1("\0".join(paths).encode()).hexdigest()[:10]
    return f"{stem}-{digest}"
