"""The window scan of the pii stage: where digit-bearing kinds and e-mails are looked for."""

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from textmill.document import make_batch
from textmill.stages.safety.pii import Pii
from textmill.stages.safety.pii_kinds import EMAIL_PATTERN
from textmill.stages.safety.pii_scan import EMAIL, IBAN, IPV4, digit_windows

pytest.importorskip("phonenumbers")
pytest.importorskip("stdnum")


def windows(text: str, min_digits: int = 7, **flags) -> list[tuple[str, int, int]]:
    found = digit_windows(pa.array([text]), min_digits, **flags)
    return [(text[s:e], d, f) for s, e, d, f in found.of_row(0)]


def redacted(kinds: list[str], texts: list[str], **options) -> list[str]:
    batch = make_batch([str(i) for i in range(len(texts))], texts)
    return Pii(kinds=kinds, **options).map(batch)["text"].to_pylist()


def test_a_cluster_spans_separators_and_short_digit_runs_make_no_window():
    [(piece, digits, _)] = windows("Ring (555) 123-4567 in 2015 or 2016.")
    assert "(555) 123-4567" in piece and digits == 10
    assert windows("From 2015 to 2016, 12 of 30 days.") == []


def test_windows_count_characters_not_bytes_and_see_unicode_digits():
    text = "Grüße 😀 — ٠١٢٣٤٥٦٧٨٩ and 4111 1111 1111 1111"
    found = windows(text)
    assert len(found) == 1  # both clusters are within one padded window: merged
    assert "٠١٢٣٤٥٦٧٨٩" in found[0][0] and found[0][0].endswith("4111 1111 1111 1111")
    out = redacted(["credit_card"], [text])[0]
    assert out == "Grüße 😀 — ٠١٢٣٤٥٦٧٨٩ and <CREDIT_CARD>"


def test_flags_mark_dotted_quads_iban_openings_and_at_signs():
    [(_, _, flags)] = windows("host 8.8.8.8 up", 1 << 40, ip=True)
    assert flags == IPV4
    [(piece, _, flags)] = windows("IBAN GB82 WEST 1234 5698 7654 32 ok", 1 << 40, iban=True)
    assert flags & IBAN and "GB82 WEST 1234 5698 7654 32" in piece
    [(piece, _, flags)] = windows("mail é.x_y+z@mail.example.org, now", 1 << 40, emails=True)
    assert flags == EMAIL and piece == "é.x_y+z@mail.example.org,"


def test_datatrove_emails_widen_the_window_to_atext_and_address_literals():
    text = "to o'brien@[8.8.8.8] now"
    [(piece, _, _)] = windows(text, 1 << 40, emails=True)
    assert piece == "'brien@["
    [(piece, _, _)] = windows(text, 1 << 40, emails=True, datatrove_emails=True)
    assert piece == " o'brien@[8.8.8.8] "


def test_email_windows_out_of_order_with_digit_windows_are_merged():
    text = "id 5551234567@example.com and 5559876543 more text"
    found = digit_windows(pa.array([text]), 7, emails=True)
    starts, ends = found.starts.tolist(), found.ends.tolist()
    assert starts == sorted(starts)
    assert all(a <= b for a, b in zip(ends, starts[1:], strict=False))


@pytest.mark.parametrize(
    "text",
    [
        "write to a.b-c@example.co.uk today",
        "_abc@example.com is not matched whole by the pattern",
        "图fyzw88@126.com",
        "two: x@y.org,z@w.net; and ftp://u@host.com",
        "email@example.com stays itself",
        "trailing user@host.example_",
    ],
)
def test_emails_match_the_rows_re2_pattern_exactly(text):
    expected = pc.replace_substring_regex(pa.array([text]), EMAIL_PATTERN, "email@example.com")
    assert redacted(["email"], [text]) == expected.to_pylist()


def test_the_placeholder_of_a_second_run_is_not_counted_again():
    batch = make_batch(["a"], ["mail email@example.com or bob@corp.example.com"])
    out = Pii(kinds=["email"]).map(batch)
    assert out["pii_email"].to_pylist() == [1]
    assert Pii(kinds=["email"]).map(out)["pii_email"].to_pylist() == [0]


def test_an_earlier_kind_wins_an_overlap_with_a_windowed_kind():
    # the url credentials come before e-mail: `pw@host.com` is not an address here
    out = redacted(["url_credentials", "email"], ["get ftp://user:pw@host.example.com/x"])
    assert out == ["get ftp://<URL_CREDENTIALS>@host.example.com/x"]


def test_window_bytes_are_the_windows_characters_in_every_script():
    texts = [
        "😀é 555-123-4567 五 ok",  # a cluster near the start: the window starts the row
        "ab@c.de x 4111 1111 1111 1111 😀😀 and x@é.org 五五 GB82 WEST 1234 5698 7654 32",
        "五" * 40 + " ٠١٢٣٤٥٦٧ " + "é" * 40 + " mail ü.v@w.io",  # an e-mail ends the row
        "",
    ]
    found = digit_windows(pa.array(texts), 7, ip=True, iban=True, emails=True)
    pieces = found.texts()
    rows = found.rows().tolist()
    assert len(pieces) == 4  # the second row's windows touch: one
    for row, start, end, piece in zip(rows, found.starts, found.ends, pieces, strict=True):
        assert texts[row][start:end] == piece
