"""Packing: concat and best-fit-decreasing keep every token once, in order, within SEQ_LEN."""

import numpy as np
import pyarrow as pa
import pytest

from textmill.tokens.pack import (
    Packer,
    PackError,
    PackOptions,
    best_fit_decreasing,
    log2_bins,
    position_ids,
)


def token_table(lengths, seed=0) -> tuple[pa.Table, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    docs = [rng.integers(0, 2**32 - 1, size=n, dtype=np.uint32) for n in lengths]
    ids = pa.array(docs, pa.large_list(pa.uint32()))
    return pa.table({"id": [f"d{i}" for i in range(len(docs))], "input_ids": ids}), docs


def pack(tables, **options):
    packer = Packer(PackOptions(**options))
    batches = list(packer.pack(tables))
    sequences = pa.concat_tables([b.sequences for b in batches])
    pieces = pa.concat_tables([b.pieces for b in batches])
    return packer.stats, sequences, pieces


def rows_of(sequences: pa.Table, seq_len: int) -> np.ndarray:
    ids = sequences.column("input_ids").combine_chunks()
    assert (np.asarray(ids.value_lengths()) == seq_len).all()
    return np.asarray(ids.flatten()).reshape(-1, seq_len)


def documents_from_cu_seqlens(sequences, pieces, seq_len, n_docs):
    """Rebuild every document from the rows' cu_seqlens alone (pieces only say whose piece is
    whose); checks the boundaries match the pieces table exactly."""
    rows = rows_of(sequences, seq_len)
    cu = sequences.column("cu_seqlens").to_pylist()
    table = pieces.to_pydict()
    by_row: dict[int, list[int]] = {}
    for k, row in enumerate(table["sequence"]):
        by_row.setdefault(row, []).append(k)
    rebuilt: dict[int, list[tuple[int, np.ndarray]]] = {}
    for row, bounds in enumerate(cu):
        assert bounds[0] == 0 and bounds == sorted(bounds) and bounds[-1] <= seq_len
        ks = by_row[row]
        assert [table["offset"][k] for k in ks] == bounds[:-1]
        for k, lo, hi in zip(ks, bounds[:-1], bounds[1:], strict=True):
            assert table["tokens"][k] == hi - lo
            rebuilt.setdefault(table["document"][k], []).append(
                (table["start"][k], rows[row, lo:hi])
            )
    docs = []
    for d in range(n_docs):
        parts = sorted(rebuilt.get(d, []), key=lambda p: p[0])
        docs.append(np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.uint32))
        starts = [p[0] for p in parts]
        assert starts == list(np.cumsum([0] + [len(p[1]) for p in parts[:-1]]))
    return docs, rows, cu


@pytest.mark.parametrize("method", ["concat", "best-fit"])
def test_every_token_of_every_document_appears_once_in_order(method):
    lengths = np.random.default_rng(1).integers(0, 700, size=400)
    lengths[::37] = 2000  # several documents longer than SEQ_LEN
    table, docs = token_table(lengths)
    stats, sequences, pieces = pack([table], seq_len=256, method=method, window_tokens=20_000)
    rebuilt, _, _ = documents_from_cu_seqlens(sequences, pieces, 256, len(docs))
    for want, got in zip(docs, rebuilt, strict=True):
        np.testing.assert_array_equal(got, want)
    assert stats.reconciled and stats.tokens == int(lengths.sum()) == stats.packed_tokens
    assert stats.sequences == sequences.num_rows
    assert stats.padding_tokens == stats.sequences * 256 - stats.packed_tokens


def test_best_fit_never_splits_a_document_that_fits_and_pads_with_the_pad_id():
    lengths = np.random.default_rng(2).integers(1, 1500, size=300)
    table, docs = token_table(lengths, seed=3)
    stats, sequences, pieces = pack([table], seq_len=512, method="best-fit", pad_id=7)
    per_doc = pieces.group_by("document").aggregate([("tokens", "count")]).to_pydict()
    counts = dict(zip(per_doc["document"], per_doc["tokens_count"], strict=True))
    for d, n in enumerate(lengths):
        want = 1 if n <= 512 else -(-int(n) // 512)  # SEQ_LEN chunks + a remainder
        assert counts[d] == want, (d, n)
    assert stats.split_documents == int((lengths > 512).sum())
    rows = rows_of(sequences, 512)
    for row, bounds in zip(rows, sequences.column("cu_seqlens").to_pylist(), strict=True):
        assert bounds[-1] <= 512
        assert (row[bounds[-1] :] == 7).all()


def test_best_fit_decreasing_fills_the_tightest_bin():
    # 6 opens bin 0 (4 left), 5 opens bin 1 (5 left), 4 fits bin 0 exactly, 3 and 2 fill bin 1
    bins, offsets, n_bins = best_fit_decreasing(np.array([6, 5, 4, 3, 2]), 10)
    assert n_bins == 2
    assert bins.tolist() == [0, 1, 0, 1, 1]
    assert offsets.tolist() == [0, 0, 6, 5, 8]


def naive_best_fit(lengths, capacity):
    free: list[int] = []
    bins = []
    for n in lengths:
        fits = [(f, b) for b, f in enumerate(free) if f >= n]
        if fits:
            # the paper's rule: the bin with the least room that still fits; ties: any
            f, b = min(fits)
            free[b] -= n
        else:
            b = len(free)
            free.append(capacity - n)
        bins.append(b)
    return len(free), sorted(free)


def test_segment_tree_best_fit_matches_a_naive_best_fit():
    rng = np.random.default_rng(4)
    for _ in range(20):
        lengths = np.sort(rng.integers(1, 100, size=300))[::-1].copy()
        _, _, n_bins = best_fit_decreasing(lengths, 100)
        want_bins, want_free = naive_best_fit(lengths, 100)
        assert n_bins == want_bins
        bins, _, _ = best_fit_decreasing(lengths, 100)
        used = np.bincount(bins, weights=lengths, minlength=n_bins)
        assert sorted((100 - used).astype(int).tolist()) == want_free


def test_concat_is_the_concatenation_cut_every_seq_len_tokens():
    lengths = [5, 0, 13, 2, 9]
    table, docs = token_table(lengths)
    stream = np.concatenate(docs)  # 29 tokens
    stats, sequences, pieces = pack([table], seq_len=8, method="concat", pad_id=0)
    rows = rows_of(sequences, 8)
    assert rows.shape == (4, 8)
    np.testing.assert_array_equal(rows.reshape(-1)[:29], stream)
    assert (rows.reshape(-1)[29:] == 0).all()
    # documents start at 0, 5, 5 (empty), 18, 20 of the stream; rows start every 8
    assert sequences.column("cu_seqlens").to_pylist() == [
        [0, 5, 8],
        [0, 8],
        [0, 2, 4, 8],
        [0, 5],
    ]
    assert stats.split_documents == 2  # the 13-token and the 9-token document
    assert stats.padding_tokens == 3 and stats.empty_documents == 1

    drop_stats, dropped, _ = pack([table], seq_len=8, method="concat", final="drop")
    assert dropped.num_rows == 3
    assert drop_stats.dropped_tokens == 5 and drop_stats.reconciled
    assert drop_stats.padding_tokens == 0


@pytest.mark.parametrize("method", ["concat", "best-fit"])
def test_output_does_not_depend_on_how_the_input_was_batched(method):
    lengths = np.random.default_rng(5).integers(0, 300, size=500)
    table, _ = token_table(lengths)
    options = {"seq_len": 128, "method": method, "window_tokens": 10_000, "seed": 3}
    _, whole, whole_pieces = pack([table], **options)
    slices = [table.slice(a, b - a) for a, b in [(0, 1), (1, 77), (77, 300), (300, 500)]]
    _, batched, batched_pieces = pack(slices, **options)
    assert whole.equals(batched) and whole_pieces.equals(batched_pieces)


def test_best_fit_windows_bound_what_is_packed_together():
    lengths = np.random.default_rng(6).integers(1, 200, size=600)
    table, _ = token_table(lengths)
    window = 5_000
    _, sequences, pieces = pack([table], seq_len=256, method="best-fit", window_tokens=window)
    # the windows: the longest runs of documents that hold at most `window` tokens
    window_of = np.zeros(len(lengths), dtype=int)
    current, used = 0, 0
    for d, n in enumerate(lengths):
        if used + n > window:
            current, used = current + 1, 0
        window_of[d] = current
        used += n
    doc_window = window_of[pieces.column("document").to_numpy()]
    rows = pieces.column("sequence").to_numpy()
    for row in np.unique(rows):
        assert len(np.unique(doc_window[rows == row])) == 1
    assert len(np.unique(window_of)) > 5


def test_stats_report_padding_splits_and_histograms():
    table, _ = token_table([100, 100, 300])
    stats, _, _ = pack([table], seq_len=256, method="best-fit")
    j = stats.to_json()
    # 300 -> 256 + 44; bins: [256], [100, 100, 44] -> 2 rows, 12 padding tokens
    assert j["sequences"] == 2 and j["padding_tokens"] == 12
    assert j["padding_pct"] == pytest.approx(100 * 12 / 512, abs=1e-3)
    assert j["split_documents"] == 1 and j["split_documents_pct"] == pytest.approx(100 / 3, 1e-3)
    assert {"min": 64, "max": 127, "count": 2} in j["document_length_histogram"]
    assert {"min": 32, "max": 63, "count": 1} in j["piece_length_histogram"]
    assert "2 sequences of 256" in stats.summary()


def test_log2_bins_are_exact_at_powers_of_two():
    assert log2_bins(np.array([0, 1, 2, 3, 4, 7, 8, 2**40 - 1, 2**40])).tolist() == [
        0,
        1,
        2,
        2,
        3,
        3,
        4,
        40,
        41,
    ]


def test_position_ids_restart_at_every_document_and_at_the_padding():
    assert position_ids(np.array([0, 3, 5]), 8).tolist() == [0, 1, 2, 0, 1, 0, 1, 2]
    assert position_ids(np.array([0, 4]), 4).tolist() == [0, 1, 2, 3]


def test_bad_options_and_input_are_refused():
    with pytest.raises(PackError, match="at least 1"):
        PackOptions(seq_len=0)
    with pytest.raises(PackError, match="unknown method"):
        PackOptions(seq_len=8, method="first-fit")
    with pytest.raises(PackError, match="input_ids"):
        list(Packer(PackOptions(seq_len=8)).add(pa.table({"text": ["a"]})))
