"""The book clean-up stages on small tables with known headers, page numbers, hyphenations,
paragraphs, verse and front matter (synthetic books written here, so every expected line is
known), and the `books` preset end to end."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from textmill.stages.books.book_provenance import BookProvenance
from textmill.stages.books.dehyphenate import Dehyphenate
from textmill.stages.books.front_back_matter import FrontBackMatter
from textmill.stages.books.ocr_quality import OcrQuality
from textmill.stages.books.page_langid import PageLangId
from textmill.stages.books.running_headers import RunningHeaders, line_shape
from textmill.stages.books.split_words import RejoinSplitWords
from textmill.stages.books.unwrap_lines import UnwrapLines

SENTENCES = [
    "The miller rose before the sun and walked down to the river where the wheel turned slowly.",
    "His daughter kept the accounts in a narrow book that she locked away every evening.",
    "Travellers came from the town with grain and left with flour and the latest news.",
    "In winter the ice held the wheel fast and the whole valley waited for the thaw.",
    "Nobody remembered who had built the mill, but everyone agreed that it was very old.",
    "The priest said the first stone had been laid in the year of the great flood.",
    "Children played on the bridge and dropped sticks into the water to race them.",
    "At night the owls called from the beech wood behind the house on the hill.",
]


def wrap(text: str, width: int = 48) -> list[str]:
    """Hard line breaks at `width`, as a printed page has them."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line]


def body_lines(page: int) -> list[str]:
    """Three sentences per page, different on every page (a running header repeats, text does
    not), wrapped into lines."""
    start = (page * 3) % len(SENTENCES)
    picked = [SENTENCES[(start + k) % len(SENTENCES)] for k in range(3)]
    return wrap(f"On day {page} it happened again. " + " ".join(picked))


def book_pages(title: str = "THE OLD MILL", pages: int = 10) -> tuple[list[str], list[str]]:
    """(pages, running lines) of a book whose even pages start with "N  TITLE", odd pages with
    "CHAPTER THE FIRST  N", and every page ends with its number; page 6 opens with a real
    heading, "CHAPTER II", that must stay."""
    out, running = [], []
    for number in range(1, pages + 1):
        head = f"{number}  {title}" if number % 2 == 0 else f"CHAPTER THE FIRST  {number}"
        lines = [head, *(["CHAPTER II"] if number == 6 else []), *body_lines(number), str(number)]
        running += [head, str(number)]
        out.append("\n".join(lines))
    return out, running


def table(*texts: str | None, **columns) -> pa.Table:
    return pa.table({"id": [str(i) for i in range(len(texts))], "text": list(texts), **columns})


@pytest.mark.parametrize(
    ("line", "shape"),
    [
        ("— 12 —", "#"),
        ("[xii]", "#"),
        ("THE HYPOCHONDRIAC. 275", "thehypochondriac#"),
        ("CHAPTER IV", "chapter#"),
        ("I said", "isaid"),  # "I" is a word, not a numeral
        ("Mix", "mix"),
        ("Page 12 of 300", "page#of#"),
    ],
)
def test_line_shape_folds_page_numbers_and_roman_numerals_only(line, shape):
    assert line_shape(line) == shape


def test_running_headers_and_page_numbers_are_removed_and_a_chapter_heading_stays():
    pages, running = book_pages()
    stage = RunningHeaders(keep_removed=True)
    out = stage.map(table("\f".join(pages), "One page only.\n12\nno pages to compare", None))
    text = out["text"][0].as_py()
    assert text.count("\f") == 9  # pages kept, in place
    assert sorted(out["removed_line_texts"][0].as_py()) == sorted(running)
    assert "CHAPTER II" in text and "CHAPTER THE FIRST" not in text and "THE OLD MILL" not in text
    for number, page in enumerate(text.split("\f"), start=1):
        assert page.split("\n")[-1] != str(number)
        assert f"On day {number} it happened again." in page
    assert out["text"][1].as_py() == "One page only.\n12\nno pages to compare"
    assert out["removed_lines"].to_pylist() == [20, 0, 0]
    assert out["removed_page_numbers"].to_pylist() == [10, 0, 0]
    assert stage.counters(out, None) == {
        "header_lines_removed": 10,
        "page_number_lines_removed": 10,
        "documents_with_running_lines": 1,
    }


def test_a_catch_word_goes_only_where_the_next_page_begins_with_it():
    pages = [
        "Zu dieser Aufklärung aber wird nichts\nerfordert als Freiheit, die\nStan-",
        "Stande der Menschen; das ist\nihr Ende.\nhim",
        "The next page begins otherwise.\nEnde.",
        "Ende der Welt.",
    ]
    out = RunningHeaders(keep_removed=True).map(table("\f".join(pages), "one page\nStan-"))
    assert out["removed_line_texts"].to_pylist() == [["Stan-"], []]
    assert out["text"][0].as_py().split("\f")[0].endswith("die")
    assert out["text"][0].as_py().split("\f")[2].endswith("Ende.")  # a sentence end stays


def test_dehyphenation_decides_with_the_volume_vocabulary_and_case():
    text = (
        "The prin-\nciple was a principle. A well-\nknown and well-known man read the Ham-\n"
        "burger-Artikel and the Hamburger-\nZeitung; the years 1880-\n1890 passed. A mar-\nket."
    )
    stage = Dehyphenate()
    out = stage.map(table(text, "no break here", None))
    assert out["text"][0].as_py() == (
        "The principle\nwas a principle. A well-known\nand well-known man read the "
        "Hamburger-Artikel\nand the Hamburger-Zeitung;\nthe years 1880-\n1890 passed. A market."
    )
    assert out["text"].to_pylist()[1:] == ["no break here", None]
    assert out["hyphens_joined"].to_pylist() == [3, 0, 0]
    assert out["hyphens_kept"].to_pylist() == [2, 0, 0]
    assert stage.counters(out, None) == {"hyphens_joined": 3, "hyphens_kept": 2}


def test_joined_hyphens_keep_line_lengths_so_wrapped_prose_is_not_taken_for_verse():
    pages = [
        "The miller rose before the sun and walked to the wa-\nter, where the wheel turned all day"
        " long\nand the river ran fast under the stones of the bridge.",
        "Travellers came from the town with grain and left\nwith flour and news of the world"
        " beyond the hills,\nand the children followed them down the long road.",
        "His daughter kept the accounts of the mill in a\ngreat book that her grand-\nfather"
        " had bought at the fair many years before.",
    ]
    out = UnwrapLines().map(Dehyphenate().map(table("\f".join(pages))))
    assert out["text"][0].as_py().split("\f") == [
        "The miller rose before the sun and walked to the water, where the wheel turned all day"
        " long and the river ran fast under the stones of the bridge.",
        "Travellers came from the town with grain and left with flour and news of the world"
        " beyond the hills, and the children followed them down the long road.",
        "His daughter kept the accounts of the mill in a great book that her grandfather had"
        " bought at the fair many years before.",
    ]
    assert out["verse_blocks"].to_pylist() == [0]


def test_a_word_list_decides_where_the_volume_has_no_evidence(tmp_path):
    words = tmp_path / "de.txt"
    words.write_text("Nordsee\n", encoding="utf-8")
    text = "Wir fuhren an die Nord-\nSee und an die Ost-\nSee."
    out = Dehyphenate(word_lists={"de": str(words)}).map(table(text, lang=["de"]))
    assert out["text"][0].as_py() == "Wir fuhren an die NordSee\nund an die Ost-See."


def test_combining_marks_stay_inside_the_joined_word():
    out = Dehyphenate().map(table("Was iſt Aufklaͤ⸗\nrung?"))
    assert out["text"][0].as_py() == "Was iſt Aufklaͤrung?"


PROSE = """The river ran past the old mill and the
miller watched it every single day of his
long and quiet life by the slow water here.
  Nobody knew his name, and nobody asked
him either, for he was a quiet man indeed.
He bought:
- bread and butter
- milk

Roses are red,
Violets are blue,
Sugar is sweet,
And so are you.

The end of the story came at last, and it
was a happy one."""


def test_split_words_are_joined_only_where_the_volume_confirms_them():
    text = (
        "They came together. We went together, and to gether we stay.\n"
        "The book\nshelves, here and there. Bookshelves and bookshelves!\n"
        "A way away, away the way. An Act and an Actor: the Actor.\f"
        "One more wat er, see 1 2 go"
    )
    stage = RejoinSplitWords()
    out = stage.map(table(text, "nothing split here"))
    assert out["text"][0].as_py() == (
        "They came together. We went together, and together we stay.\n"
        "The bookshelves,\nhere and there. Bookshelves and bookshelves!\n"  # line end moves
        "A way away, away the way. An Act and an Actor: the Actor.\f"  # "way" is a word here
        "One more wat er, see 1 2 go"  # "water" is no word of the volume
    )
    assert out["split_words_joined"].to_pylist() == [2, 0]
    assert stage.counters(out, None) == {"split_words_joined": 2}


@pytest.mark.parametrize(
    "text",
    [
        "Together, together. Then to Gether.",  # a capital starts a word (a sentence, a name)
        "together together x-to gether",  # the left part ends a compound
        "together together to gether5",  # the right part runs on into digits
        "together together to\n\ngether",  # a paragraph break, never inside a word
        "together together to\fgether",  # a page break
        "together together to  gether",  # two spaces: a gap, not a split
        "staircase, a stair case",  # the joined word seen once: min_count is 2
    ],
)
def test_split_words_are_left_alone_where_the_split_is_not_plain(text):
    assert RejoinSplitWords().clean_one(text) == (text, 0)
    assert RejoinSplitWords().clean_one("together together to gether") == (
        "together together together",
        1,
    )


def test_split_words_join_once_where_a_part_could_join_both_neighbours():
    text = "foobar foobar barbaz barbaz foo bar baz"
    assert RejoinSplitWords().clean_one(text) == ("foobar foobar barbaz barbaz foobar baz", 1)


def test_unwrapping_joins_wrapped_lines_and_keeps_paragraphs_verse_and_lists():
    stage = UnwrapLines()
    out = stage.map(table(PROSE + "\f" + PROSE, None))
    first = out["text"][0].as_py().split("\f")[0]
    assert first == (
        "The river ran past the old mill and the miller watched it every single day of his "
        "long and quiet life by the slow water here.\n\n"
        "Nobody knew his name, and nobody asked him either, for he was a quiet man indeed. "
        "He bought:\n- bread and butter\n- milk\n\n"
        "Roses are red,\nViolets are blue,\nSugar is sweet,\nAnd so are you.\n\n"
        "The end of the story came at last, and it was a happy one."
    )
    assert out["verse_blocks"].to_pylist() == [2, 0]
    assert stage.counters(out, None)["lines_joined"] == 2 * 5


def test_unwrapping_without_page_breaks_joins_a_sentence_and_a_word_across_pages():
    out = UnwrapLines(keep_page_breaks=False).map(
        table("It was a long and quiet day in the old\nmill by the wa-\fter, and the miller slept.")
    )
    assert out["text"][0].as_py() == (
        "It was a long and quiet day in the old mill by the water, and the miller slept."
    )


def test_a_kept_line_end_hyphen_joins_letters_but_never_runs_into_a_symbol():
    wide = "the rabbit took a watch out of its waistcoat and looked at it then hurried on and"
    out = UnwrapLines().map(
        table(f"{wide} waistcoat-\npocket, and a\n{wide} récréa-\n» tion du soir, and\nso on.")
    )
    assert out["text"][0].as_py() == (
        f"{wide} waistcoat-pocket, and a {wide} récréa- » tion du soir, and so on."
    )


def test_front_and_back_matter_are_tagged_per_page_and_dropped_by_option():
    stamp = "HARVARD COLLEGE\nLIBRARY\nGift of John Smith"
    toc = "CONTENTS\nThe Mill .......... 1\nThe River ........ 17\nThe Town 45\nPreface vii"
    index = "INDEX\nAbraham, 12, 45\nBridges, 3-7, 99\nMill, the old, 1, 2, 3\nRiver, 17"
    body = "\n".join(book_pages()[0][2].split("\n")[1:-1]) + "\nHe read in the library."
    book = "\f".join([stamp, toc, body, index])
    tagged = FrontBackMatter().map(table(book))
    assert tagged["page_matter"].to_pylist() == [["stamp", "toc", None, "index"]]
    assert tagged["text"][0].as_py() == book
    stage = FrontBackMatter(drop=["toc", "stamp"])
    out = stage.map(table(book))
    assert out["text"][0].as_py() == "\f".join(["", "", body, index])
    assert stage.counters(out, None) == {
        "pages_toc": 1,
        "pages_index": 1,
        "pages_stamp": 1,
        "pages_dropped": 2,
    }


CLEAN = "The river ran past the old mill, and the miller watched it every day."
GARBAGE = "Tbe r1ver «© ran^ pa$t tbe oLd mi11 +<3 anD tHe mi|ler wat¢hed iT ~~ evEry dav."


def test_ocr_quality_scores_pages_and_documents_and_filters_below_the_threshold():
    confidence = json.dumps({"page_word_confidence": [0.5, None]})
    batch = table(CLEAN + "\f" + CLEAN, GARBAGE, "", metadata=[confidence, None, None])
    stage = OcrQuality(min_quality=0.4)
    out, decision = stage.process(batch)
    quality = out["ocr_quality"].to_pylist()
    assert quality[0] == pytest.approx(0.5)  # words 1.0, garbage 0, the known confidence 0.5
    assert out["page_ocr_quality"][0].as_py() == pytest.approx([0.5, 1.0])
    assert quality[1] < 0.4 and out["ocr_garbage_share"][1].as_py() > 0.05
    assert quality[2] is None and out["page_ocr_quality"][2].as_py() == [None]
    assert decision.keep.tolist() == [True, False, True]
    assert decision.reasons.to_pylist() == [None, "low_ocr_quality", None]
    assert stage.counters(out, decision) == {
        "documents_scored": 2,
        "pages_scored": 3,
        "documents_with_confidence": 1,
    }


def test_ocr_quality_reads_chinese_and_japanese_punctuation_as_punctuation():
    clean = [
        "我们每天早上都去河边散步，看水车慢慢地转动。冬天河水结冰的时候，整个村子都在等待春天！",
        "粉屋の主人は日の出前に起きて、川まで歩いた。「水車は一日中回っていた」と娘は言った。",
    ]
    out, _ = OcrQuality().process(table(*clean))
    assert out["ocr_garbage_share"].to_pylist() == [0.0, 0.0]
    assert out["ocr_quality"].to_pylist() == [1.0, 1.0]


def test_ocr_quality_scores_chinese_and_japanese_by_characters_not_clauses():
    # No spaces between words: a clause holding a number or a Latin name is no garbage word.
    mixed = [
        "我们在Debian 12中安装了软件包，然后重新启动了3台服务器。",
        "バージョン2のパッケージを々インストールした。",
        "我们在Debian 12中安装了软件包 ¤¤ 然后重新启动了3台服务器。",
    ]
    out, _ = OcrQuality().process(table(*mixed))
    shares = out["ocr_word_share"].to_pylist()
    assert shares[:2] == [1.0, 1.0]
    assert shares[2] == pytest.approx(24 / 25)  # 22 characters, "Debian", "12", "3"; one "¤¤"


def test_ocr_quality_ignores_page_confidences_outside_zero_to_one():
    metadata = json.dumps({"page_word_confidence": [87.0, -1, "high"]})
    out, _ = OcrQuality().process(
        table("clean words here\fmore clean words\fand more", metadata=[metadata])
    )
    assert out["ocr_confidence"].to_pylist() == [None]
    assert out["ocr_quality"].to_pylist() == [1.0] and out["page_ocr_quality"].to_pylist() == [
        [1.0] * 3
    ]


def test_ocr_quality_with_a_word_list_counts_only_known_words(tmp_path):
    words = tmp_path / "en.txt"
    words.write_text("the\nriver\nran\n", encoding="utf-8")
    stage = OcrQuality(word_lists={"en": str(words)})
    out, _ = stage.process(
        table("The river ran 1880 fast.", "The river ran fast.", lang=["en", "de"])
    )
    assert out["ocr_word_share"].to_pylist() == [pytest.approx(0.8), 1.0]


def test_page_langid_tags_each_page_of_a_multilingual_volume():
    english = "The river runs through the old town and the bridge has stood for many years."
    german = "Der Fluss fliesst durch die alte Stadt und die Brücke steht dort seit Jahren."
    stage = PageLangId()
    out = stage.map(table(f"{english}\f{german}\fIII", english))
    assert out["page_langs"].to_pylist() == [["en", "de", None], ["en"]]
    assert out["page_lang_count"].to_pylist() == [2, 1]
    assert stage.counters(out, None) == {"pages_identified": 3, "multilingual_documents": 1}


def test_book_provenance_lifts_title_author_year_and_identifier():
    metadata = [
        json.dumps({"title": "The Mill", "author": ["A. Writer", "B. Editor"], "year": 1888}),
        json.dumps({"metadata": {"title": "Nested", "creation_date": "1901-05-02T00:00:00"}}),
        json.dumps({"barcode": "39015012345678"}),
        None,
    ]
    out = BookProvenance().map(table("a", "b", "c", "d", metadata=metadata))
    assert out.select(["title", "author", "year", "identifier"]).to_pylist() == [
        {"title": "The Mill", "author": "A. Writer; B. Editor", "year": 1888, "identifier": None},
        {"title": "Nested", "author": None, "year": 1901, "identifier": None},
        {"title": None, "author": None, "year": None, "identifier": "39015012345678"},
        {"title": None, "author": None, "year": None, "identifier": None},
    ]


def test_books_preset_end_to_end_through_textmill_run(tmp_path):
    from textmill.cli import main

    pages, running = book_pages()
    book = "\f".join(pages)
    words = GARBAGE.split()
    garbage = "\f".join(" ".join(words[k:] + words[:k]) for k in range(4))  # no line repeats
    meta = {"title": "The Old Mill", "author": "A. Writer", "year": 1888, "identifier": "mill00"}
    records = [
        {"id": "mill", "text": book, **meta},
        {"id": "mill-second-scan", "text": book, **meta},  # the same volume scanned twice
        {"id": "garbled", "text": garbage, "page_word_confidence": [0.3, 0.4, 0.2, 0.3]},
    ]
    (tmp_path / "in").mkdir()
    lines = "".join(json.dumps(record) + "\n" for record in records)
    (tmp_path / "in" / "books.jsonl").write_text(lines, encoding="utf-8")
    out = tmp_path / "out"
    argv = ["run", "--preset", "books", str(tmp_path / "in"), "-o", str(out), "--no-progress"]
    assert main(argv) == 0

    stats = json.loads((out / "stats.json").read_text("utf-8"))
    assert (stats["read"], stats["kept"], stats["rejected"], stats["errored"]) == (3, 1, 2, 0)
    stages = {stage["name"]: stage for stage in stats["stages"]}
    assert stages["ocr_quality"]["reasons"] == {"low_ocr_quality": 1}
    assert sum(stages["exact_dedup"]["reasons"].values()) == 1
    assert stages["running_headers"]["counters"]["page_number_lines_removed"] == 2 * 10
    assert stages["book_provenance"]["counters"]["with_title"] == 2

    import pyarrow.parquet as pq

    kept = pq.read_table(out / "data").to_pylist()
    assert [row["id"] for row in kept] == ["mill"]
    row = kept[0]
    assert (row["title"], row["author"], row["year"], row["identifier"]) == tuple(meta.values())
    assert row["text"].count("\f") == 9 and row["removed_lines"] == len(running)
    first_page = row["text"].split("\f")[0]
    assert "\n" not in first_page and first_page.startswith(
        "On day 1 it happened again. In winter the ice held"
    )
    assert row["page_langs"] == ["en"] * 10 and row["lang"] == "en"
    assert row["ocr_quality"] > 0.81
    card = (out / "README.md").read_text("utf-8")
    assert "`title`, `author`, `year`, `identifier`" in card
