import re

import pyarrow as pa
import pytest

from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.stages.filters.gopher_quality import GopherQuality
from textmill.stages.filters.gopher_repetition import GopherRepetition

PROSE = (
    "The river town woke slowly under a pale winter sky, and the baker opened his shutters "
    "before anyone else.\n"
    "Children walked to school along the frozen canal with their breath hanging in clouds.\n"
    "At the market, farmers argued about prices that had barely changed since the autumn "
    "harvest.\n"
    "An old librarian kept the reading room warm with a stove that hissed like a sleepy cat.\n"
    "Visitors came for the quiet streets, the cheap coffee and the long views over wet fields.\n"
    "By evening the lamps were lit one by one, so the whole valley seemed to glow with patience."
)


def reasons(decision):
    return decision.reasons.to_pylist()


def run(stage, texts):
    batch = make_batch([str(i) for i in range(len(texts))], texts)
    _, decision = stage.process(batch)
    return decision


def test_stages_are_registered_under_their_names():
    assert isinstance(build_stage("gopher_repetition"), GopherRepetition)
    assert isinstance(build_stage("gopher_quality"), GopherQuality)


def test_repetition_keeps_prose_and_names_each_kind_of_repeat():
    line = "Buy cheap watches online today with free shipping"
    texts = [
        PROSE,
        "\n\n".join([line] * 4 + ["one different closing paragraph here"]),  # paragraphs
        "\n".join([line, "x1", "x1", "x1", "x1", "x2", "x3", "x4"]),  # lines, few characters
        "\n".join([line * 3, line * 3] + [f"short line {c}" for c in "abcdefgh"]),
        "spam eggs " * 30 + PROSE,  # one bigram covers most characters
        "",
        None,
    ]
    decision = run(GopherRepetition(), texts)
    assert decision.keep.tolist() == [True] + [False] * 6
    assert reasons(decision) == [
        None,
        "dup_para_frac",
        "dup_line_frac",
        "dup_line_char_frac",
        "top_2_gram",
        "empty",
        "empty",
    ]


def test_repetition_counts_repeated_long_ngrams():
    words = PROSE.replace("\n", " ").split()
    text = PROSE + " " + " ".join(words[:40])
    metrics = GopherRepetition().measure(make_batch(["a"], [text]))
    assert metrics["dup_10_gram_char_frac"][0].as_py() > 0.10
    assert reasons(run(GopherRepetition(), [text])) == ["duplicated_5_n_grams"]


def test_repetition_checks_can_be_disabled():
    text = "\n".join(["same line here"] * 5 + [PROSE])
    assert reasons(run(GopherRepetition(), [text])) == ["dup_line_frac"]
    stage = GopherRepetition(dup_line_frac=None, dup_line_char_frac=None)
    assert reasons(run(stage, [text])) == [None]


def test_quality_keeps_prose_and_gives_the_first_failing_rule():
    texts = [
        PROSE,
        "Too short to be a document.",
        PROSE + " #tag" * 20,
        "\n".join("- the item number and more words" for _ in range(12)),
        PROSE.replace(".\n", "...\n"),
        " ".join(["12 34 56 78"] * 20) + " " + PROSE,
        re.sub(r"\b(the|be|to|of|and|that|have|with) ", "", PROSE),
        " ".join(["internationalisation"] * 60) + " the and",
        None,
        "",
    ]
    decision = run(GopherQuality(), texts)
    assert reasons(decision) == [
        None,
        "too_few_words",
        "hash_ratio",
        "bullet_lines",
        "ellipsis_lines",
        "non_alpha_words",
        "few_stop_words",
        "long_words",
        "too_few_words",
        "too_few_words",
    ]
    assert decision.keep.tolist() == [True] + [False] * 9


def test_quality_measures_words_without_symbol_only_tokens():
    metrics = GopherQuality().measure(make_batch(["a"], ["Hello , world ! ## ok..."]))
    row = {name: metrics[name][0].as_py() for name in metrics.column_names}
    assert row["num_words"] == 8  # Hello , world ! # # ok ...
    assert row["num_real_words"] == 3
    assert row["mean_word_length"] == pytest.approx((5 + 5 + 2) / 3)
    assert row["hash_word_ratio"] == pytest.approx(2 / 8)
    assert row["ellipsis_lines_ratio"] == 1.0


def test_quality_handles_non_ascii_text_without_crashing():
    texts = ["東京で会いましょう。😀 " * 40, "Ça coûte très cher à Zürich, n'est-ce pas ? " * 10]
    decision = run(GopherQuality(), texts)
    assert len(decision.keep) == 2
    assert decision.reasons.null_count + decision.num_dropped >= 2
    assert isinstance(decision.reasons, pa.Array)
