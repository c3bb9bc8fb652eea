"""Precision filtering (FineWeb-2, for languages whose data is > 10% contaminated by others).

For a document whose detected `lang` (langid) has a word list, the document must hold at least
`min_specific_words` distinct words of that list, or come from an allow-listed domain; otherwise
it is dropped as `few_specific_words`. Documents in other languages pass untouched. Lists hold
words ≥ 85% specific to the language, one a line, built by
`textmill.lang.precision.specific_words`. FineWeb-2 keeps a document with any listed word
(`wordlist_ratio > 0`), hence the default of 1, and keeps documents whose URL points at the
language (its URL white-list); here that is a domain allow-list: an entry matches the domain and
its subdomains, so a bare top-level domain (`pt`) allows every host under it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT, URL
from textmill.lang.codes import lookup
from textmill.lang.precision import lowercase_words, read_word_list
from textmill.pipeline import Decision, Filter, StageOptions, register
from textmill.stages.url_filter import domain_in_set, normalise_domain, read_list_file, url_hosts
from textmill.text.hashing import string_hash

LANG_COLUMN = "lang"


@register("precision_filter")
class PrecisionFilter(Filter):
    """Drops documents of a listed language that hold too few words specific to it."""

    class Options(StageOptions):
        word_list_files: dict[str, str] = {}  # language -> file of specific words, one a line
        word_lists: dict[str, list[str]] = {}  # language -> words, added to its file's words
        min_specific_words: int = 1  # FineWeb-2: any word of the list keeps the document
        allow_domains: list[str] = []  # kept whatever their words (subdomains included)
        allowlist_files: list[str] = []  # more allow-listed domains, one a line

    def __init__(self, options: StageOptions | dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(options, **kwargs)
        self._lists: dict[str, np.ndarray] | None = None
        self._allowed: pa.Array | None = None

    def setup(self) -> None:
        self.lists()

    def lists(self) -> dict[str, np.ndarray]:
        """Sorted word hashes per language, read once per process."""
        if self._lists is None:
            o = self.options
            words: dict[str, list[str]] = {}
            for lang, path in o.word_list_files.items():
                words.setdefault(lang, []).extend(read_word_list(path))
            for lang, listed in o.word_lists.items():
                words.setdefault(lang, []).extend(word.strip().lower() for word in listed)
            self._lists = {
                lang: np.unique(np.array([string_hash(w) for w in listed if w], dtype=np.uint64))
                for lang, listed in words.items()
            }
            domains = list(o.allow_domains)
            for path in o.allowlist_files:
                domains += read_list_file(path)
            self._allowed = pa.array(sorted({normalise_domain(d) for d in domains}), pa.string())
        return self._lists

    def measure(self, batch: pa.Table) -> pa.Table:
        """`specific_words`: distinct listed words per row (null where the row's language has no
        list); `allowed_url`: the URL's domain is allow-listed."""
        lists = self.lists()
        if LANG_COLUMN not in batch.column_names:
            raise ValueError("precision_filter needs the `lang` column: run langid before it")
        langs = batch[LANG_COLUMN].to_pylist()
        table = {key: key for key in lists}  # `lookup` finds `bs` under `bos_Latn` and back
        key_of = {lang: lookup(table, lang) for lang in set(langs)}
        row_keys = [key_of[lang] for lang in langs]
        counts = np.full(batch.num_rows, -1, dtype=np.int64)
        checked = np.flatnonzero([key is not None for key in row_keys])
        if len(checked):
            checked_keys = [row_keys[i] for i in checked.tolist()]
            texts = pc.fill_null(batch[TEXT].take(pa.array(checked)), "")
            chars, words, hashes, _ = lowercase_words(texts, checked_keys)
            counts[checked] = _distinct_listed(words.row_offsets, hashes, checked_keys, lists)
        allowed = np.zeros(batch.num_rows, dtype=bool)
        if len(self._allowed) and URL in batch.column_names:
            hosts = url_hosts(batch[URL].combine_chunks())
            allowed = pc.fill_null(domain_in_set(hosts, self._allowed), False).to_numpy(
                zero_copy_only=False
            )
        return pa.table(
            {
                "specific_words": pa.array(counts, pa.int64(), mask=counts < 0),
                "allowed_url": pa.array(allowed, pa.bool_()),
            }
        )

    def decide(self, metrics: pa.Table) -> Decision:
        counts = pc.fill_null(metrics["specific_words"], np.iinfo(np.int64).max).to_numpy()
        few = (counts < self.options.min_specific_words) & ~metrics["allowed_url"].to_numpy(
            zero_copy_only=False
        )
        return Decision.first_failing(("few_specific_words", few), num_rows=metrics.num_rows)


def _distinct_listed(
    row_offsets: np.ndarray, hashes: np.ndarray, row_keys: list[str], lists: dict[str, np.ndarray]
) -> np.ndarray:
    """Per row, the number of distinct words found in its language's list."""
    num_rows = len(row_offsets) - 1
    word_rows = np.repeat(np.arange(num_rows), np.diff(row_offsets))
    row_key_array = np.array(row_keys, dtype=object)
    hit = np.zeros(len(hashes), dtype=bool)
    for key, listed in lists.items():
        in_language = (row_key_array == key)[word_rows]
        hit |= in_language & np.isin(hashes, listed)
    pairs = np.unique(np.stack([word_rows[hit].astype(np.uint64), hashes[hit]]), axis=1)
    return np.bincount(pairs[0].astype(np.int64), minlength=num_rows)
