import pyarrow as pa
import pytest

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

# five sentences, one per line, in scripts written without spaces between words
CHINESE = (
    "今天早上，河边的小镇在冬日的天空下慢慢醒来。\n"
    "孩子们沿着结冰的运河走路去学校。\n"
    "在市场上，农民们讨论着几乎没有变化的价格。\n"
    "一位老图书管理员用火炉让阅览室保持温暖。\n"
    "傍晚时分，山谷里的灯一盏一盏地亮了起来。"
)
JAPANESE = (
    "川沿いの町は冬の空の下でゆっくりと目を覚ました。\n"
    "子どもたちは凍った運河に沿って学校へ歩いていった。\n"
    "市場では農家の人々がほとんど変わらない値段について話し合っていた。\n"
    "年老いた司書はストーブで閲覧室を暖かく保っていた。\n"
    "夕方になると谷の明かりが一つずつともった。"
)


def run(stage, texts, langs=None):
    batch = make_batch([str(i) for i in range(len(texts))], texts)
    if langs is not None:
        batch = batch.append_column("lang", pa.array(langs, pa.string()))
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


def test_c4_with_english_rules_drops_chinese_and_japanese_prose():
    # str.split() makes each line one word (< 3): every line goes, no sentence is left
    metrics = C4Quality().measure(make_batch(["zh", "ja"], [CHINESE, JAPANESE]))
    assert metrics["lines_removed"].to_pylist() == [5, 5]
    assert metrics["num_sentences"].to_pylist() == [0, 0]
    _, decision = run(C4Quality(), [CHINESE, JAPANESE])
    assert decision.reasons.to_pylist() == ["too_few_sentences", "too_few_sentences"]


@pytest.mark.parametrize("lang", ["zh", "ja", "auto"])
def test_c4_counts_words_with_the_segmenter_and_keeps_chinese_and_japanese_prose(lang):
    stage = C4Quality(lang=lang)
    langs = ["zh", "ja"] if lang == "auto" else None
    batch, decision = run(stage, [CHINESE, JAPANESE], langs)
    assert decision.keep.tolist() == [True, True]
    assert batch["text"].to_pylist() == [CHINESE, JAPANESE]
    table = make_batch(["zh", "ja"], [CHINESE, JAPANESE])
    if langs is not None:
        table = table.append_column("lang", pa.array(langs))
    metrics = stage.measure(table)
    assert metrics["num_sentences"].to_pylist() == [5, 5]
    assert metrics["lines_removed"].to_pylist() == [0, 0]


def test_c4_segmented_lines_still_face_the_line_rules():
    # 首页 is one word, 关于我们 two (关于|我们), 好。 one: punctuation tokens are no words
    giant = "这是一个" + "x" * 1001 + "的例子。"  # jieba keeps the run of x as one word
    text = CHINESE + "\n首页\n关于我们\n好。\n" + giant + "\n" + "长" * 40 + "。" * 20
    metrics = C4Quality(lang="zh").measure(make_batch(["a"], [text]))
    assert metrics["lines_removed"].to_pylist() == [4]
    assert metrics["lines_kept"].to_pylist() == [6]


def test_c4_a_long_chinese_line_is_no_giant_word_for_the_segmenter():
    line = CHINESE.replace("\n", "") * 11  # 1,000+ characters without a space
    assert len(line) > 1000
    text = line + "\n" + CHINESE
    english = C4Quality().measure(make_batch(["a"], [text]))
    chinese = C4Quality(lang="zh").measure(make_batch(["a"], [text]))
    assert english["lines_removed"].to_pylist() == [6]
    assert chinese["lines_removed"].to_pylist() == [0]
    assert chinese["num_sentences"].to_pylist() == [60]


def test_c4_languages_without_a_segmenter_count_no_space_lines_by_character_n_grams():
    # wuu (Shanghainese) has no splitter of its own: its Han lines are cut into n-grams
    _, decision = run(C4Quality(lang="wuu"), [CHINESE, PROSE])
    assert decision.keep.tolist() == [True, True]


def test_c4_auto_routes_every_row_by_its_language_and_names_it_in_the_reason():
    texts = [
        PROSE + "\nshort line",
        CHINESE,
        JAPANESE,
        "首页\n关于我们\n今天天气很好。",
        PROSE + "\nLorem ipsum dolor sit amet, consectetur.",
        CHINESE,
        PROSE,
    ]
    langs = ["en", "zh", "ja", "zh", "en", None, "cmn_Hani"]
    batch, decision = run(C4Quality(lang="auto"), texts, langs)
    assert decision.reasons.to_pylist() == [
        None,
        None,
        None,
        "too_few_sentences=zh",
        "lorem_ipsum=en",
        None,  # no language: the script decides, as in split_words
        None,  # English text labelled Chinese: jieba finds its words too
    ]
    assert batch["text"].to_pylist()[:3] == [PROSE, CHINESE, JAPANESE]
    metrics = C4Quality(lang="auto").measure(
        make_batch(["a", "b"], texts[:2]).append_column("lang", pa.array(langs[:2]))
    )
    assert metrics["lang"].to_pylist() == ["en", "zh"]


def test_c4_auto_on_english_rows_matches_lang_en_exactly():
    texts = [
        PROSE + "\nshort\nThis mentions javascript.\nCitations[1] go [edit] away. Really.",
        "A word " + "x" * 1001 + " that is far too long.\n" + PROSE,
        "One sentence only here.\nAnd a second one.",
        None,
    ]
    fixed = C4Quality().measure(make_batch(["0", "1", "2", "3"], texts))
    auto = C4Quality(lang="auto").measure(
        make_batch(["0", "1", "2", "3"], texts).append_column("lang", pa.array(["en"] * 4))
    )
    assert auto.drop_columns(["lang"]).equals(fixed)
    assert run(C4Quality(lang="auto"), texts, ["en"] * 4)[0]["text"].equals(
        run(C4Quality(), texts)[0]["text"]
    )


def test_c4_auto_needs_the_lang_column():
    with pytest.raises(ValueError, match="lang: auto"):
        run(C4Quality(lang="auto"), [PROSE])
