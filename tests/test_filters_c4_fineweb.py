import pyarrow as pa

from textmill.document import empty_batch, make_batch
from textmill.pipeline import build_stage
from textmill.stages.filters.c4_quality import C4Quality
from textmill.stages.filters.fineweb_quality import FineWebQuality

PROSE = (
    "The river town woke slowly under a pale winter sky.\n"
    "Children walked to school along the frozen canal.\n"
    "At the market, farmers argued about prices that had barely changed.\n"
    "An old librarian kept the reading room warm with a stove.\n"
    "By evening the lamps were lit one by one across the valley."
)


def run(stage, texts):
    batch = make_batch([str(i) for i in range(len(texts))], texts)
    return stage.process(batch)


def test_stages_are_registered_under_their_names():
    assert isinstance(build_stage("c4_quality"), C4Quality)
    assert isinstance(build_stage("fineweb_quality"), FineWebQuality)


def test_c4_removes_boilerplate_lines_and_citations_exactly():
    text = (
        "First line is fine. It has two sentences!\n"
        "short line\n"
        "This line mentions JavaScript so it goes.\n"
        "We use cookies to improve this site.\n"
        "Read our Privacy Policy before you go.\n"
        "  Citations go away[1] here [edit] and [citation needed] there[].  \n"
        "A word " + "x" * 1001 + " that is far too long.\n"
        "Third kept line here. Four. Five."
    )
    batch, decision = run(C4Quality(), [text])
    assert decision.keep.tolist() == [True]
    assert batch["text"].to_pylist() == [
        "First line is fine. It has two sentences!\n"
        "Citations go away here  and  there.\n"
        "Third kept line here. Four. Five."
    ]


def test_c4_drops_documents_and_keeps_their_original_text():
    texts = [
        PROSE + "\nLorem ipsum dolor sit amet, consectetur.",
        PROSE + "\nfunction f() { return 1; }",
        PROSE + "\nvar x = {a: 1}; // javascript only",  # a javascript line is removed first
        "One sentence only here.\nAnd a second one.",
        None,
        "",
    ]
    batch, decision = run(C4Quality(), texts)
    assert decision.reasons.to_pylist() == [
        "lorem_ipsum",
        "curly_bracket",
        None,
        "too_few_sentences",
        "too_few_sentences",
        "too_few_sentences",
    ]
    assert batch["text"].to_pylist()[:2] == texts[:2]
    assert batch["text"].to_pylist()[2] == PROSE
    assert batch["text"].to_pylist()[4] is None


def test_c4_terminal_punctuation_rule_is_an_option_that_is_off_by_default():
    text = PROSE + "\nA line without an end mark here\nAnother one ending in dots..."
    batch, _ = run(C4Quality(), [text])
    assert batch["text"][0].as_py() == text
    batch, decision = run(C4Quality(filter_no_terminal_punct=True), [text])
    assert decision.keep.tolist() == [True]
    assert batch["text"][0].as_py() == PROSE


def test_c4_counts_sentences_of_the_kept_lines():
    metrics = C4Quality().measure(make_batch(["a"], [PROSE + "\nno\nMr. Smith came. He left."]))
    assert metrics["num_sentences"].to_pylist() == [7]
    assert metrics["lines_kept"].to_pylist() == [6]
    assert metrics["lines_removed"].to_pylist() == [1]


def test_fineweb_keeps_prose_and_names_the_first_failing_rule():
    texts = [
        PROSE,
        PROSE.replace(".", ""),
        "\n".join(f"Menu item {i}." for i in range(20)) + "\n" + PROSE,
        PROSE + "\n" + PROSE.split("\n")[0],
        "\n".join(f"Pneumonoultramicroscopicsilicovolcano{i}." for i in range(10)),
        "\n \n",
        None,
    ]
    _, decision = run(FineWebQuality(), texts)
    assert decision.reasons.to_pylist() == [
        None,
        "line_punct_ratio",
        "short_line_ratio",
        "char_dup_ratio",
        "list_ratio",
        "empty",
        "empty",
    ]


def test_fineweb_measures_lines_ignoring_blank_ones():
    metrics = FineWebQuality().measure(make_batch(["a"], ["A full sentence here.\n\n  \nshort"]))
    row = {name: metrics[name][0].as_py() for name in metrics.column_names}
    assert row["num_lines"] == 2
    assert row["line_punct_ratio"] == 0.5
    assert row["short_line_ratio"] == 1.0
    assert row["new_line_ratio"] == 3 / 6  # 3 newlines, 6 words


def test_filters_survive_non_ascii_empty_and_null_text():
    texts = [
        "東京で会いましょう。😀\n" * 10,
        "Ça coûte cher à Zürich, n'est-ce pas ?\n" * 6,
        "",
        None,
    ]
    for stage in (C4Quality(), FineWebQuality()):
        batch, decision = run(stage, texts)
        assert len(decision.keep) == 4 and batch.num_rows == 4


def test_every_filter_takes_an_empty_batch_and_a_plain_string_column():
    table = pa.table({"id": ["a", "b"], "text": pa.array([PROSE, None], pa.string())})
    for name in ("gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality"):
        stage = build_stage(name)
        batch, decision = stage.process(empty_batch())
        assert batch.num_rows == 0 and len(decision.keep) == 0
        batch, decision = stage.process(table)
        assert batch.schema.field("text").type == pa.string()
        assert decision.keep.tolist()[1] is False
