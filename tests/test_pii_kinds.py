"""Each PII kind's detector: what it confirms, what its check rule refuses, and look-alikes."""

import pytest

from textmill.document import make_batch
from textmill.stages.safety.pii import Pii
from textmill.stages.safety.pii_kinds import card_scheme_matches, is_card_number
from textmill.stages.safety.pii_phone import (
    confirm_phone,
    confirm_phone_cache_clear,
    phone_candidate_is_plausible,
    phone_number,
    phone_regions,
    region_shape,
)

pytest.importorskip("phonenumbers")
pytest.importorskip("stdnum")
pytest.importorskip("detect_secrets")


def found(kind: str, text: str, lang: str | None = None, **options) -> list[str]:
    stage = Pii(kinds=[kind], **options)
    return [text[f.start : f.end] for k, f in stage.detect(text, lang) if k == kind]


def redacted(kinds: list[str], text: str, **options) -> str:
    return Pii(kinds=kinds, **options).map(make_batch(["a"], [text]))["text"][0].as_py()


# ----------------------------------------------------------------------------- payment cards


@pytest.mark.parametrize(
    "number",
    ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011000990139424"],
)
def test_luhn_valid_cards_of_known_issuers_are_found(number):
    assert found("credit_card", f"Paid with {number} yesterday.") == [number]


@pytest.mark.parametrize(
    "number",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "0000 0000 0000 0000",  # Luhn passes, a filler
        "9780306406157",  # ISBN-13 (Luhn-invalid, and no issuer starts with 97)
        "1234 5678-9012 3456",  # mixed separators
        "7992739871300000",  # no issuer range starts with 7
    ],
)
def test_invalid_or_unissued_card_numbers_are_not_cards(number):
    assert found("credit_card", f"Number {number} here.") == []


def test_prefix_check_can_be_switched_off_for_unlisted_issuers():
    assert not is_card_number("7992739871300008")  # Luhn-valid, no issuer
    assert is_card_number("7992739871300008", prefix_check=False)


@pytest.mark.parametrize(
    ("prefix", "length", "issued"),
    [
        ("2221", 16, True),  # Mastercard's 2-series, both ends
        ("2720", 16, True),
        ("2721", 16, False),
        ("3528", 16, True),  # JCB
        ("3527", 16, False),
        ("4000", 13, True),  # Visa: 13, 16 or 19 digits
        ("4000", 15, False),
        ("3400", 15, True),  # Amex
        ("3400", 16, False),
        ("5000", 12, True),  # Maestro from 12 digits
        ("6500", 11, False),  # shorter than any card
    ],
)
def test_issuer_ranges_decide_prefix_and_length(prefix, length, issued):
    assert card_scheme_matches(prefix + "1" * (length - 4)) is issued


# --------------------------------------------------------------------------------------- IBAN


def test_ibans_with_a_valid_mod97_check_are_found_even_in_lower_case_and_spaced():
    text = "Pay GB82 WEST 1234 5698 7654 32 or de89370400440532013000 now."
    assert found("iban", text) == ["GB82 WEST 1234 5698 7654 32", "de89370400440532013000"]


def test_ibans_with_a_wrong_check_digit_or_length_are_not_found():
    assert found("iban", "Pay GB83 WEST 1234 5698 7654 32 or DE8937040044053201300.") == []


def test_the_iban_window_gate_keeps_what_stdnum_validates_and_refuses_words():
    import pyarrow as pa
    import pyarrow.compute as pc

    from textmill.stages.safety.pii_kinds import IBAN_GATE

    # a second check digit in Arabic-Indic: Python's \d and stdnum read it, RE2's \d does not
    text = "Pay GB8\u0662 WEST 1234 5698 7654 32 now."
    assert found("iban", text) == ["GB8\u0662 WEST 1234 5698 7654 32"]
    windows = ["DES3_CFB64 Telnet Encryption Type", "x:GB82WEST12345698765432", "GB82 WEST 12"]
    assert pc.match_substring_regex(pa.array(windows), IBAN_GATE).to_pylist() == [False] * 3


# ------------------------------------------------------------------------------- national ids


@pytest.mark.parametrize("ssn", ["123-45-6789", "536 22 1234"])
def test_ssns_in_issued_ranges_are_found(ssn):
    assert found("national_id", f"SSN {ssn} on file", national_ids=["us_ssn"]) == [ssn]


@pytest.mark.parametrize(
    "ssn", ["000-12-3456", "666-12-3456", "912-34-5678", "123-00-4567", "123-45-0000"]
)
def test_ssns_never_issued_are_refused(ssn):
    assert found("national_id", f"SSN {ssn} on file", national_ids=["us_ssn"]) == []


def test_european_ids_with_check_characters_are_found_and_a_wrong_check_is_not():
    text = (
        "DNI 12345678Z, NIE X1234567L, CF RSSMRA85T10A562S, NIR 2 95 10 99 126 111 93, "
        "HETU 131052-308T, personnummer 811228-9874."
    )
    assert found("national_id", text) == [
        "12345678Z",
        "X1234567L",
        "RSSMRA85T10A562S",
        "2 95 10 99 126 111 93",
        "131052-308T",
        "811228-9874",
    ]
    wrong = "DNI 12345678A, CF RSSMRA85T10A562T, HETU 131052-308U, personnummer 811228-9875."
    assert found("national_id", wrong) == []


# ------------------------------------------------------------------------------------- phones


def test_phone_numbers_of_several_regions_are_found():
    assert found("phone", "Call (415) 555-2671 today.") == ["(415) 555-2671"]
    assert found("phone", "Ring +44 20 7946 0958 now.") == ["+44 20 7946 0958"]
    assert found("phone", "Ruf an: 030 901820 bitte.", lang="de") == ["030 901820"]
    assert found("phone", "Appelez le 01 42 68 53 00.", lang="fr") == ["01 42 68 53 00"]


def test_french_dotted_pairs_are_phones_but_dates_and_versions_are_not():
    assert found("phone", "Tél. 01.42.68.53.00 le matin.", lang="fr") == ["01.42.68.53.00"]
    # day and month above 31: not a date, so the matcher decides
    assert phone_candidate_is_plausible("60-56-85-91", bare_digits=False)
    for text in ("31.12.1999", "12/05/2019", "10.4.2.1", "2024-01-15", "666-33-5391"):
        assert not phone_candidate_is_plausible(text, bare_digits=False)


def test_the_lang_column_picks_the_region_of_national_numbers():
    text = "Appelez le 01 42 68 53 00."
    assert found("phone", text, lang="en", regions=["US"]) == []
    assert found("phone", text, lang="fr", regions=["US"]) == ["01 42 68 53 00"]
    assert phone_regions("fr", ["US"])[:2] == ("FR", "BE")
    assert phone_regions("fra_Latn", ["US"])[:2] == ("FR", "BE")  # GlotLID labels
    assert phone_regions(None, ["US"]) == ("US",)


@pytest.mark.parametrize(
    "text",
    [
        "ISBN 978-3-16-148410-0 (paperback).",
        "Order #4839201756 has shipped.",
        "Released on 2024-01-15 10:30, version 10.4.2.1.",
        "Between 1998-2004 the 325.318/325.318 ms figures held.",
    ],
)
def test_isbns_order_numbers_dates_and_versions_are_not_phones(text):
    assert found("phone", text, regions=["US", "GB", "DE"]) == []


def test_a_00_international_prefix_is_read_as_plus_whatever_the_region():
    # 00 is the international prefix of most of the world (the US dials 011)
    assert found("phone", "Call 001-518-640-0854 now.", lang="en") == ["001-518-640-0854"]
    assert found("phone", "Call +1-518-640-0854 now.", lang="en") == ["+1-518-640-0854"]


def test_an_extension_is_neither_the_numbers_digits_nor_a_sentence_end():
    assert found("phone", "Call (415) 555-2671 ext. 12345 today.") == ["(415) 555-2671 ext. 12345"]
    assert found("phone", "Call 973-841-3941x07680 today.") == ["973-841-3941x07680"]


def test_year_ranges_are_refused_but_other_four_four_groupings_are_numbers():
    assert not phone_candidate_is_plausible("1998-2004", bare_digits=False)
    assert phone_candidate_is_plausible("(71) 4233-6306", bare_digits=False)
    assert found("phone", "Ligue (71) 4233-6306 hoje.", regions=["BR"]) == ["(71) 4233-6306"]


def test_the_matchers_leniency_rules_still_decide():
    # VALID: a region that writes a national prefix needs it (GB's trunk 0)
    assert found("phone", "Ring 020 7946 0958 now.", regions=["GB"]) == ["020 7946 0958"]
    assert found("phone", "Ring 20 7946 0958 now.", regions=["GB"]) == []
    # no % or currency sign beside a number
    assert found("phone", "Price (415) 555-2671$ total") == []
    # the grouping leniencies refuse a number written in groups its region does not use
    text = "Call (415) 555-2671 today or 415 5552 671."
    assert found("phone", text) == ["(415) 555-2671", "415 5552 671"]
    assert found("phone", text, phone_leniency="exact_grouping") == ["(415) 555-2671"]


def test_a_number_a_page_repeats_is_looked_up_once():
    confirm_phone_cache_clear()
    text = "Call (415) 555-2671, fax 2024-01-15, or (415) 555-2671 again on 2024-01-15."
    assert found("phone", text) == ["(415) 555-2671", "(415) 555-2671"]
    assert phone_number.cache_info().hits == 2 and phone_number.cache_info().misses == 2


@pytest.mark.parametrize(
    "text",
    [
        "Call (415)) 555-2671 now.",  # brackets that do not pair
        "pp. 212-555 (1234)",  # a page range and a year, as the matcher's _PUB_PAGES reads them
        "Ruf 030-901 (820) 12 an",
    ],
)
def test_the_matchers_bracket_and_page_range_refusals_still_apply(text):
    confirm_phone_cache_clear()
    assert found("phone", text, regions=["US", "DE", "GB"]) == []


def test_a_currency_sign_or_percent_beside_a_number_refuses_it_except_when_possible():
    assert found("phone", "Tel 415-555-2671 ok") == ["415-555-2671"]
    assert found("phone", "Cost €415-555-2671 ok") == []
    assert found("phone", "Cost 415-555-2671% ok") == []
    assert found("phone", "Cost €415-555-2671 ok", phone_leniency="possible") == ["415-555-2671"]


def test_region_tables_refuse_digit_runs_before_any_parse():
    assert region_shape("US").can_hold("4155552671", valid=True)
    assert region_shape("US").can_hold("14155552671", valid=True)  # the trunk prefix 1
    assert not region_shape("US").can_hold("41555526", valid=True)
    assert region_shape("GB").can_hold("02079460958", valid=True)
    confirm_phone_cache_clear()
    assert confirm_phone("(415) 555-2671", ("DE", "US"), "valid") == "+14155552671"
    assert confirm_phone("(415) 555-2671", ("FR",), "valid") is None


def test_national_ids_are_found_among_many_windows_that_only_have_their_digits():
    # phone-like windows by the dozen, one SSN: the RE2 gate over the windows keeps it
    page = " ".join(f"ref 4{i:02d}-55-{i:04d}7 ok" for i in range(60)) + " SSN 536-22-1234."
    assert found("national_id", page) == ["536-22-1234"]


def test_unknown_region_is_refused_at_configuration_time():
    with pytest.raises(ValueError, match="unknown phone regions"):
        Pii(kinds=["phone"], regions=["XX"])


# ------------------------------------------------------------------------------------ secrets


def test_aws_and_github_keys_are_found_by_detect_secrets_patterns():
    text = "key AKIAIOSFODNN7EXAMPLE and token ghp_" + "a1B2" * 9 + " end"
    assert found("secret", text) == ["AKIAIOSFODNN7EXAMPLE", "ghp_" + "a1B2" * 9]
    assert found("secret", "AKIA is a prefix; AKIAshort is not a key.") == []


def test_a_private_key_block_is_redacted_whole():
    block = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n+/abc=\n-----END RSA PRIVATE KEY-----"
    )
    text = f"before\n{block}\nafter"
    assert redacted(["secret"], text) == "before\n<SECRET>\nafter"


def test_password_assignments_lose_their_value_and_prose_is_left_alone():
    text = 'db_password = "hunter2!x" and API_KEY: sk9Zq81xKq2 but Password: forgotten?'
    assert (
        redacted(["secret"], text)
        == 'db_password = "<SECRET>" and API_KEY: <SECRET> but Password: forgotten?'
    )
    assert found("secret", 'password = "${DB_PASSWORD}" or secret: "changeme"') == []


def test_url_credentials_lose_user_and_password_but_keep_the_host():
    text = "clone https://bob:s3cr3t@git.example.com/r.git and mail bob@corp.io"
    assert redacted(["url_credentials", "email"], text) == (
        "clone https://<URL_CREDENTIALS>@git.example.com/r.git and mail email@example.com"
    )
    assert found("url_credentials", "see https://example.com:8080/path") == []


def test_an_ipv4_address_with_a_port_is_still_an_address():
    text = "ip=193.8.232.2:193.8.232.7::255.255.255.0 and 8.8.8.8:53"
    assert redacted(["ip"], text) == "ip=192.0.2.1:192.0.2.1::255.255.255.0 and 192.0.2.1:53"


def test_assignments_are_found_among_many_operators_and_after_length_changing_letters():
    page = "a = 1; b: 2; " * 200 + 'DB_Password  = "s3cr3t!x"; ratio: 3'
    assert found("secret", page) == ["s3cr3t!x"]
    # "İ".lower() is two characters: the scan falls back to every operator
    assert found("secret", 'İstanbul api_key: "Zk81mQpL0x"') == ["Zk81mQpL0x"]


@pytest.mark.parametrize(
    ("text", "screened"),
    [
        ('password =\x0b"hunter22x"', True),  # Python's \s, not RE2's
        ('password =\x85"hunter22x"', True),
        ('password_für = "hunter22x"', True),  # the finder's identifier is Unicode
        ('password "= "hunter22x"', True),
        ("Password: see below", False),  # no value the finder can take: prose
        ('password: "abc"', False),
    ],
)
def test_the_assignment_screen_passes_every_row_the_finder_takes_something_from(text, screened):
    import pyarrow as pa
    import pyarrow.compute as pc

    from textmill.stages.safety.pii_kinds import SECRET_ASSIGNMENT_SCREEN, find_assignments

    assert bool(find_assignments(text)) is screened
    assert (
        pc.match_substring_regex(pa.array([text]), SECRET_ASSIGNMENT_SCREEN)[0].as_py() is screened
    )
    assert bool(found("secret", text)) is screened


def test_assignments_are_found_when_the_text_holds_the_first_mark():
    # RE2 marks each name-and-operator with a character the text lacks (NUL first)
    assert found("secret", 'nul \x00 here; db_password = "hunter2!x"') == ["hunter2!x"]


def test_operators_of_many_rows_are_found_in_one_pass_whatever_marks_they_hold():
    from textmill.stages.safety.pii_kinds import MARKS, operators_after_names

    texts = [
        'a: 1; db_password = "hunter2!x"',
        'nul \x00 here; api_key: "Zk81mQpL0x"',  # the first mark is taken: the next one
        "".join(MARKS) + ' x: 1, secret = "s3cr3t!x"',  # every mark: every operator
    ]
    assert operators_after_names(texts) == [[18], [19], [len(MARKS) + 2, len(MARKS) + 14]]
    batch = make_batch(["a", "b", "c"], texts)
    out = Pii(kinds=["secret"]).map(batch)["text"].to_pylist()
    assert [text.count("<SECRET>") for text in out] == [1, 1, 1]


def test_ipv6_addresses_in_full_and_at_the_end_of_a_text_are_found():
    text = "at 12:30:45 from 2001:4860:4860:0:0:0:0:8888 and 2606:4700:4700::1111"
    assert found("ip", text) == ["2001:4860:4860:0:0:0:0:8888", "2606:4700:4700::1111"]
