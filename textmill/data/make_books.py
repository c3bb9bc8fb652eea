"""Write textmill's sample books in the three formats its book readers take: a PDF, an hOCR
file and an ALTO file (three short books of four pages), each page with a running header, a
page number, words hyphenated at line ends and paragraphs wrapped into lines: what the `books`
preset removes, joins and unwraps. The README's worked example and the end-to-end test start
from these files.

Every word is written for this project. The PDF needs fpdf2 (`pip install textmill[books]`);
the hOCR and ALTO files are plain XML written here, with word confidences (hOCR `x_wconf`,
ALTO `WC`) for `ocr_quality` to use.

    python -m textmill.data.make_books DEST    # DEST/mill.pdf, DEST/sea.hocr, DEST/bees.alto.xml
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import warnings
from pathlib import Path

TITLE, AUTHOR = "The Old Mill", "A. Writer"  # the PDF's metadata
# Three books of four pages of wrapped lines, one per format (three different texts, so that the
# preset's dedup keeps all three); the "-" at a line end is the typesetter's hyphen.
BOOKS = {
    "THE OLD MILL": [
        [
            "The miller rose before the sun and walked down to the wa-",
            "ter, where the wheel turned all day long and the river ran",
            "fast under the stones of the old bridge below the mill.",
        ],
        [
            "Travellers came from the town with grain and left with",
            "flour and with news of the world beyond the hills, and the",
            "children followed their carts down the long road home.",
        ],
        [
            "In winter the ice held the wheel fast and the whole valley",
            "waited for the thaw that came with the spring, when the snow",
            "on the mountains began to melt and the river rose again.",
        ],
        [
            "The miller's daughter kept the accounts of the mill in a",
            "great book bound in leather that her grand-",
            "father had bought at the autumn fair many years before.",
        ],
    ],
    "A YEAR AT SEA": [
        [
            "We left the harbour on a grey morning in March, with a",
            "cargo of timber and salt fish and a crew of ele-",
            "ven men who had sailed together for three summers north.",
        ],
        [
            "The captain kept a log of every wind and every star he",
            "could see through the clouds, and he read it aloud to us",
            "on Sundays after the short service on the quarter-deck,",
        ],
        [
            "while the cook boiled the last of the potatoes and then",
            "the boy climbed the mast to watch for the coast of the",
            "islands, which none of us had seen for many long weeks.",
        ],
        [
            "When the land came at last it was low and dark and green,",
            "and the smell of it reached us long before the shape of the",
            "hills, so that every man stood at the rail without a word.",
        ],
    ],
    "NOTES ON BEES": [
        [
            "A hive in good health holds one queen, some hundreds of",
            "drones and many thousands of workers, each of which does",
            "the work its age demands, from cleaning cells to foraging.",
        ],
        [
            "The young workers stay inside and feed the larvae with a",
            "food made in glands of their heads, while the older ones fly",
            "out to gather nectar and pollen from the flowers nearby.",
        ],
        [
            "A forager tells the others where the flowers are by a dance",
            "on the comb, whose direction points to the sun and whose du-",
            "ration tells how far the hive must fly to reach the field.",
        ],
        [
            "In autumn the drones are driven out, the workers seal the",
            "honey in its cells with wax, and the whole colony gathers",
            "around the queen to keep her warm through the cold winter.",
        ],
    ],
}
BODY_CONFIDENCE = 0.96  # per word in the hOCR and ALTO files
HEADER_CONFIDENCE = 0.9


def write_pdf(path: Path) -> Path:
    """The four pages as a PDF with a text layer, title and author in its metadata."""
    warnings.filterwarnings("ignore", message="defusedxml could not be imported")
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(TITLE)
    pdf.set_author(AUTHOR)
    pdf.set_creation_date(dt.datetime(1888, 6, 1, tzinfo=dt.UTC))
    pdf.set_font("Helvetica", size=12)
    for number, lines in enumerate(BOOKS["THE OLD MILL"], 1):
        pdf.add_page()
        pdf.cell(0, 10, "THE OLD MILL")
        pdf.ln(14)
        for line in lines:
            pdf.cell(0, 7, line)
            pdf.ln()
        pdf.ln(8)
        pdf.cell(0, 10, str(number))
    pdf.output(str(path))
    return path


def page_lines(header: str, number: int) -> list[tuple[str, float]]:
    """A page's lines with the confidence of their words: header, body, page number."""
    body = [(line, BODY_CONFIDENCE) for line in BOOKS[header][number - 1]]
    return [(header, HEADER_CONFIDENCE), *body, (str(number), HEADER_CONFIDENCE)]


def write_hocr(path: Path, header: str = "A YEAR AT SEA") -> Path:
    """The four pages as hOCR (one `ocr_page` each, lines of `ocrx_word`s with `x_wconf`)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title></title>',
        '<meta name="ocr-system" content="textmill make_books"/></head><body>',
    ]
    for number in range(1, len(BOOKS[header]) + 1):
        out.append(f'<div class="ocr_page" id="page_{number}" title="ppageno {number - 1}">')
        lines = [
            '<span class="ocr_line">'
            + " ".join(
                f'<span class="ocrx_word" title="x_wconf {round(confidence * 100)}">'
                f"{html.escape(word)}</span>"
                for word in line.split()
            )
            + "</span>"
            for line, confidence in page_lines(header, number)
        ]
        # header, body and page number: a paragraph each, as an OCR engine finds them
        for paragraph in (lines[:1], lines[1:-1], lines[-1:]):
            out.append('<p class="ocr_par">' + "\n".join(paragraph) + "</p>")
        out.append("</div>")
    out.append("</body></html>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def write_alto(path: Path, header: str = "NOTES ON BEES") -> Path:
    """The four pages as ALTO v4 (`TextLine`s of `String`s with `WC`; a line-end hyphen is
    ALTO's `HYP`, as OCR engines write it)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout>',
    ]
    for number in range(1, len(BOOKS[header]) + 1):
        out.append(f'<Page ID="p{number}"><PrintSpace><TextBlock>')
        for line, confidence in page_lines(header, number):
            words, hyphen = line.split(), ""
            if words[-1].endswith("-"):
                words[-1], hyphen = words[-1][:-1], '<HYP CONTENT="-"/>'
            strings = "<SP/>".join(
                f'<String CONTENT="{html.escape(word)}" WC="{confidence}"/>' for word in words
            )
            out.append(f"<TextLine>{strings}{hyphen}</TextLine>")
        out.append("</TextBlock></PrintSpace></Page>")
    out.append("</Layout></alto>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def write_all(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_pdf(folder / "mill.pdf"),
        write_hocr(folder / "sea.hocr"),
        write_alto(folder / "bees.alto.xml"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="folder to write the three books to")
    for path in write_all(parser.parse_args().dest):
        print(path)


if __name__ == "__main__":
    main()
