"""URL filter (FineWeb step 1): block-listed domains, banned words and sub-words in the URL.

The checks follow datatrove's URLFilter, which FineWeb ran: a domain (or any parent domain) on the
block list; a hard-banned word among the URL's words; a banned sub-word anywhere in the URL with
non-alphanumerics removed; 2 or more distinct soft-banned words. The lists shipped in
`resources/` are short ones written for textmill; real crawls add a maintained list through
`blocklist_files`. Everything runs on whole Arrow columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import URL
from textmill.pipeline import Decision, Filter, StageOptions, register

RESOURCES = "textmill.stages"
DEFAULT_BLOCKED_DOMAINS = "resources/url_blocked_domains.txt"
DEFAULT_BANNED_WORDS = "resources/url_banned_words.txt"
DEFAULT_BANNED_SUBWORDS = "resources/url_banned_subwords.txt"
DEFAULT_SOFT_BANNED_WORDS = "resources/url_soft_banned_words.txt"
# scheme, "//", user-info, then the host up to a port, path, query or fragment
HOST_PATTERN = r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://)?(?:[^@/?#]*@)?(?P<host>[^:/?#]*)"
MAX_DOMAIN_DEPTH = 16  # parent domains checked per host (a.b.c.example.com → ... → com)


def read_list_lines(lines: list[str]) -> list[str]:
    """Entries of a list file: `#` comments and blank lines skipped; hosts-file lines give the
    domain (their last field)."""
    entries = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            entries.append(line.split()[-1])
    return entries


def read_list_file(path: str | Path) -> list[str]:
    return read_list_lines(Path(path).read_text(encoding="utf-8").splitlines())


def read_default_list(name: str) -> list[str]:
    text = resources.files(RESOURCES).joinpath(name).read_text(encoding="utf-8")
    return read_list_lines(text.splitlines())


def normalise_domain(domain: str) -> str:
    """`*.Example.COM.` → `example.com`; a URL given as a domain keeps only its host."""
    match = re.match(HOST_PATTERN, domain.strip())
    host = match.group("host") if match and match.group("host") else domain
    return host.lower().strip(".").removeprefix("*.")


def normalise_word(word: str) -> str:
    """Lower case, non-alphanumerics removed (the form URL words and sub-words are compared in)."""
    return re.sub(r"[^a-z0-9]+", "", word.lower())


def url_hosts(urls: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Lower-cased host of each URL (null where the URL is null)."""
    parts = pc.extract_regex(urls, HOST_PATTERN)
    hosts = pc.utf8_lower(pc.struct_field(parts, "host"))
    return pc.utf8_rtrim(hosts, characters=".")


def domain_in_set(hosts: pa.Array, domains: pa.Array) -> pa.Array:
    """True where the host or any parent domain of it is in `domains`."""
    found = pc.fill_null(pc.is_in(hosts, value_set=domains), False)
    parents = hosts
    for _ in range(MAX_DOMAIN_DEPTH):
        has_parent = pc.fill_null(pc.match_substring(parents, "."), False)
        if not pc.any(has_parent).as_py():
            break
        parents = pc.if_else(has_parent, pc.replace_substring_regex(parents, r"^[^.]*\.", ""), None)
        found = pc.or_(found, pc.fill_null(pc.is_in(parents, value_set=domains), False))
    return found


def words_per_url(urls: pa.Array, wanted: pa.Array) -> pa.Array:
    """Number of distinct URL words (split on non-alphanumerics, lower case) found in `wanted`."""
    lowered = pc.utf8_lower(pc.fill_null(urls, ""))
    words = pc.split_pattern_regex(lowered, r"[^a-z0-9]+")
    flat_words = pc.list_flatten(words)
    rows = pc.list_parent_indices(words)
    hits = pc.is_in(flat_words, value_set=wanted)
    pairs = pa.table({"row": pc.filter(rows, hits), "word": pc.filter(flat_words, hits)})
    counts = pairs.group_by("row").aggregate([("word", "count_distinct")])
    per_row = np.zeros(len(urls), dtype=np.int32)
    per_row[counts["row"].to_numpy()] = counts["word_count_distinct"].to_numpy()
    return pa.array(per_row, pa.int32())


def any_subword(urls: pa.Array, subwords: list[str]) -> pa.Array:
    """True where a sub-word occurs in the URL once lower-cased with non-alphanumerics removed."""
    if not subwords:
        return pa.array([False] * len(urls))
    squashed = pc.replace_substring_regex(pc.utf8_lower(pc.fill_null(urls, "")), r"[^a-z0-9]+", "")
    pattern = "|".join(re.escape(word) for word in sorted(subwords))
    return pc.match_substring_regex(squashed, pattern)


@register("url_filter")
class UrlFilter(Filter):
    """Drops documents by URL: `blocked_domain`, `banned_word`, `soft_banned_words`,
    `banned_subword` (datatrove's order). Rows with a null URL, and allow-listed hosts, are kept."""

    class Options(StageOptions):
        use_default_lists: bool = True  # the short lists in textmill/stages/resources/
        blocklist_files: list[str] = []  # more block-listed domains, one a line
        blocked_domains: list[str] = []
        banned_words: list[str] = []
        banned_subwords: list[str] = []
        soft_banned_words: list[str] = []
        soft_banned_threshold: int = 2  # FineWeb: drop at 2 or more soft-banned words
        allow_domains: list[str] = []  # never dropped (FineWeb-2's URL allow-list idea)
        allowlist_files: list[str] = []

    def __init__(self, options: StageOptions | dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        self._lists: dict[str, pa.Array] | None = None

    def setup(self) -> None:
        self.lists()

    def lists(self) -> dict[str, pa.Array]:
        """Every list, normalised once per process."""
        if self._lists is None:
            o = self.options
            defaults = o.use_default_lists
            domains = list(o.blocked_domains)
            for path in o.blocklist_files:
                domains += read_list_file(path)
            allowed = list(o.allow_domains)
            for path in o.allowlist_files:
                allowed += read_list_file(path)
            banned = list(o.banned_words)
            subwords = list(o.banned_subwords)
            soft = list(o.soft_banned_words)
            if defaults:
                domains += read_default_list(DEFAULT_BLOCKED_DOMAINS)
                banned += read_default_list(DEFAULT_BANNED_WORDS)
                subwords += read_default_list(DEFAULT_BANNED_SUBWORDS)
                soft += read_default_list(DEFAULT_SOFT_BANNED_WORDS)

            def as_array(values: list[str], normalise: Callable[[str], str]) -> pa.Array:
                return pa.array(sorted({normalise(v) for v in values} - {""}), pa.string())

            self._lists = {
                "blocked_domains": as_array(domains, normalise_domain),
                "allow_domains": as_array(allowed, normalise_domain),
                "banned_words": as_array(banned, normalise_word),
                "banned_subwords": as_array(subwords, normalise_word),
                "soft_banned_words": as_array(soft, normalise_word),
            }
        return self._lists

    def measure(self, batch: pa.Table) -> pa.Table:
        lists = self.lists()
        urls = batch[URL].combine_chunks() if URL in batch.column_names else None
        if urls is None:
            urls = pa.nulls(batch.num_rows, pa.string())
        hosts = url_hosts(urls)
        return pa.table(
            {
                "has_url": pc.is_valid(urls),
                "allowed_domain": domain_in_set(hosts, lists["allow_domains"]),
                "blocked_domain": domain_in_set(hosts, lists["blocked_domains"]),
                "banned_words": words_per_url(urls, lists["banned_words"]),
                "banned_subword": any_subword(urls, lists["banned_subwords"].to_pylist()),
                "soft_banned_words": words_per_url(urls, lists["soft_banned_words"]),
            }
        )

    def decide(self, metrics: pa.Table) -> Decision:
        checked = pc.and_(metrics["has_url"], pc.invert(metrics["allowed_domain"]))

        def failing(mask: pa.Array) -> pa.Array:
            return pc.and_(checked, mask)

        return Decision.first_failing(
            ("blocked_domain", failing(metrics["blocked_domain"])),
            ("banned_word", failing(pc.greater(metrics["banned_words"], 0))),
            (
                "soft_banned_words",
                failing(
                    pc.greater_equal(
                        metrics["soft_banned_words"], self.options.soft_banned_threshold
                    )
                ),
            ),
            ("banned_subword", failing(metrics["banned_subword"])),
        )
