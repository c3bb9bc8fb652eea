"""Accuracy and speed of the `pii` stage, and its agreement with datatrove's PIIFormatter.

1. Presidio's synthetic sentences (../shared/data/pii): precision/recall per kind against the
   labelled spans (entity types mapped to textmill's kinds; the unmapped types are listed).
2. A set generated here with Faker (seeded, several locales) inside real web paragraphs, with
   look-alikes that are not PII (ISBNs, order numbers, Luhn-invalid cards, IBANs with a wrong
   check, SSNs in ranges never issued, dates, version strings) to count false positives.
3. The shared web text through textmill's default `pii` and datatrove's PIIFormatter (in its
   own venv, one core each, same run): identical output, docs/s per core; and textmill with
   every kind enabled (person names need a model: not part of the speed figure); the default
   and `compat: datatrove` (datatrove's own e-mail and IP rules) are compared apart.

A prediction counts as right when it overlaps a labelled span of its kind; recall is the share
of labelled spans that some prediction of the kind overlaps.

usage: .venv/bin/python benchmarks/pii.py [--faker-docs N] [--seed S] [--per-kind]
       [--agreement-only]
"""

from __future__ import annotations

import os

for _name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import string  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filters_vs_datatrove import ensure_datatrove_venv, pin_to_one_core, read_records  # noqa: E402

from textmill.stages.safety.pii_kinds import KINDS  # noqa: E402

HERE = Path(__file__).resolve().parent
# ../shared/data beside the checkout; TEXTMILL_SHARED_DATA points elsewhere (a worktree)
SHARED = Path(os.environ.get("TEXTMILL_SHARED_DATA", HERE.parents[1] / "shared" / "data"))
PRESIDIO = SHARED / "pii" / "presidio_synth_dataset_v2.jsonl.gz"
WEB_TEXT = SHARED / "web" / "web_text.jsonl.gz"
ALL_KINDS = [kind for kind in KINDS if kind != "person"]  # person needs an NER model
CHECKSUM_KINDS = ("credit_card", "iban", "national_id")
PRESIDIO_KINDS = {
    "EMAIL_ADDRESS": "email",
    "IP_ADDRESS": "ip",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "credit_card",
    "IBAN_CODE": "iban",
    "US_SSN": "national_id",
    "PERSON": "person",  # needs a user's NER model: not run here
}
# regions for numbers written without +CC when a text has no language (Presidio's set): fixed
# before looking at the data, not tuned on it
PRESIDIO_REGIONS = ["US", "GB", "DE", "FR", "IT", "ES"]
LOCALES = {  # Faker locale -> document language (the stage maps it to phone regions)
    "en_US": "en",
    "en_GB": "en",
    "de_DE": "de",
    "fr_FR": "fr",
    "es_ES": "es",
    "it_IT": "it",
    "nl_NL": "nl",
    "sv_SE": "sv",
    "fi_FI": "fi",
}
NATIONAL_ID_LOCALES = {"en_US", "fr_FR", "it_IT", "fi_FI", "sv_SE", "es_ES"}

DATATROVE_SCRIPT = r"""
import json, os, sys, time
core = sorted(os.sched_getaffinity(0))[0]; os.sched_setaffinity(0, {core})
from datatrove.pipeline.formatters.pii import PIIFormatter
texts = json.load(open(sys.argv[1]))
formatter = PIIFormatter(email_replacement="email@example.com", ip_replacement="192.0.2.1")
formatter.format(texts[0])
best = None
for _ in range(int(sys.argv[3])):
    start = time.process_time(); out = [formatter.format(t) for t in texts]
    took = time.process_time() - start; best = took if best is None else min(best, took)
json.dump({"seconds": best, "texts": out}, open(sys.argv[2], "w"))
"""


def kinds_stage(kinds: list[str], **options):
    from textmill.stages.safety.pii import Pii

    stage = Pii(kinds=kinds, **options)
    stage.setup()
    return stage


def predict(stage, text: str, lang: str | None = None) -> list[tuple[str, int, int]]:
    """(kind, start, end) of what the stage redacts, in its order (Pii.detect)."""
    return [(kind, found.start, found.end) for kind, found in stage.detect(text, lang)]


OFF_RANGE = "credit_card, outside every IIN range"


def card_gold(text: str, gold: list) -> list:
    """Card numbers whose prefix no issuer was given (Faker's JCB `3500`-`3527` and
    `3590`-`3599`, its Maestro `0604`) are scored apart: the generator's, not real cards."""
    import re

    from textmill.stages.safety.pii_kinds import card_scheme_matches

    out = []
    for kind, start, end in gold:
        digits = re.sub(r"\D", "", text[start:end])
        off = kind == "credit_card" and not card_scheme_matches(digits)
        out.append((OFF_RANGE if off else kind, start, end))
    return out


def score(examples, stage) -> dict[str, Counter]:
    """examples: (text, lang, gold [(kind, start, end)], decoys [(start, end)]). A card
    prediction on a number outside every IIN range is neither right nor wrong ("off_range")."""
    tally: dict[str, Counter] = {}
    for text, lang, gold, decoys in examples:
        predicted = predict(stage, text, lang)
        gold = card_gold(text, gold)
        for kind, start, end in gold:
            hit = any(k == kind and s < end and e > start for k, s, e in predicted)
            tally.setdefault(kind, Counter())["recall_hit" if hit else "missed"] += 1
        for kind, start, end in predicted:
            right = any(k == kind and s < end and e > start for k, s, e in gold)
            if right:
                outcome = "tp"
            elif kind == "credit_card" and any(
                k == OFF_RANGE and s < end and e > start for k, s, e in gold
            ):
                outcome = "off_range"
            elif any(s < end and e > start for s, e in decoys):
                outcome = "fp_lookalike"
            elif any(s < end and e > start for _, s, e in gold):
                outcome = "fp_other_kind"
            else:
                outcome = "unlabelled"  # in the web text itself: may be real PII
            tally.setdefault(kind, Counter())[outcome] += 1
    return tally


def print_scores(
    title: str, tally: dict[str, Counter], kinds: list[str] | None = None, complete: bool = False
) -> None:
    """complete: the set labels every entity (Presidio's), so a prediction on unlabelled text
    is wrong; in web paragraphs it may be real PII of the page, counted apart."""
    print(f"\n## {title}")
    print(f"{'kind':16} {'gold':>5} {'recall':>7} {'pred':>5} {'precision':>9}  unlabelled")
    for kind in sorted(tally):
        if kinds is not None and kind not in kinds:
            continue
        c = tally[kind]
        if kind == OFF_RANGE:  # no kind predicts it: only how many there were
            print(f"{kind:16} {c['missed']:5} (not counted in credit_card's recall)")
            continue
        gold = c["recall_hit"] + c["missed"]
        wrong = c["fp_lookalike"] + c["fp_other_kind"] + (c["unlabelled"] if complete else 0)
        judged = c["tp"] + wrong
        recall = f"{c['recall_hit'] / gold:.3f}" if gold else "-"
        precision = f"{c['tp'] / judged:.3f}" if judged else "-"
        print(
            f"{kind:16} {gold:5} {recall:>7} {judged:5} {precision:>9}  {c['unlabelled']}"
            f"  (look-alike FP {c['fp_lookalike']}, other-kind FP {c['fp_other_kind']}"
            + (f", on off-range cards {c['off_range']}" if c["off_range"] else "")
            + ")"
        )


def presidio_examples() -> tuple[list, Counter]:
    examples, unmapped = [], Counter()
    for record in read_records(PRESIDIO):
        gold = []
        for span in record["spans"]:
            kind = PRESIDIO_KINDS.get(span["label"])
            if kind is None or kind == "person":
                unmapped[span["label"]] += 1
            else:
                gold.append((kind, span["start"], span["end"]))
        examples.append((record["text"], None, gold, []))
    return examples, unmapped


# ----------------------------------------------------------------------- the Faker set


def luhn_invalid(number: str) -> str:
    from stdnum import luhn

    last = int(number[-1])
    for step in range(1, 10):
        candidate = number[:-1] + str((last + step) % 10)
        if not luhn.is_valid(candidate):
            return candidate
    raise AssertionError


def secret_value(rng: random.Random) -> str:
    alnum = string.ascii_letters + string.digits
    choice = rng.randrange(4)
    if choice == 0:
        return "AKIA" + "".join(
            rng.choice(string.ascii_uppercase + string.digits) for _ in range(16)
        )
    if choice == 1:
        return "ghp_" + "".join(rng.choice(alnum) for _ in range(36))
    if choice == 2:
        body = "\n".join("".join(rng.choice(alnum + "+/") for _ in range(64)) for _ in range(4))
        return f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    return (
        "xoxb-"
        + "-".join(str(rng.randrange(10**11, 10**12)) for _ in range(2))
        + "-"
        + ("".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(24)))
    )


def planted_item(fake, locale: str, rng: random.Random) -> tuple[str, str, int, int]:
    """(kind, text of the sentence, span start, span end) for one PII item in a sentence."""
    kinds = ["email", "ip", "phone", "credit_card", "iban", "secret", "password", "url"]
    if locale in NATIONAL_ID_LOCALES:
        kinds.append("national_id")
    kind = rng.choice(kinds)
    if kind == "email":
        value, frame = fake.email(), "Write to {} for details."
    elif kind == "ip":
        value, frame = fake.ipv4_public(), "The request came from {} yesterday."
    elif kind == "phone":
        value, frame = fake.phone_number(), "Call us at {} during office hours."
    elif kind == "credit_card":
        value, frame = fake.credit_card_number(), "Card number: {}, expires soon."
    elif kind == "iban":
        value, frame = fake.iban(), "Please transfer the fee to IBAN {} by Friday."
    elif kind == "national_id":
        value = fake.nif() if locale == "es_ES" else fake.ssn()
        frame = "Her identity number is {} on the form."
    elif kind == "secret":
        value, frame = secret_value(rng), "config:\n{}\nend"
    elif kind == "password":
        value = fake.password(length=12)
        sentence = f'db_password = "{value}"'
        start = sentence.index(value)
        return "secret", sentence, start, start + len(value)
    else:
        value = f"{fake.user_name()}:{fake.password(length=10, special_chars=False)}"
        sentence = f"Clone https://{value}@{fake.domain_name()}/repo.git to start."
        start = sentence.index(value)
        return "url_credentials", sentence, start, start + len(value)
    sentence = frame.format(value)
    start = sentence.index(value)
    return kind, sentence, start, start + len(value)


def lookalike(fake, rng: random.Random) -> str:
    """A sentence with a number that is not personal data."""
    choice = rng.randrange(7)
    if choice == 0:
        return f"ISBN {fake.isbn13()} (paperback)."
    if choice == 1:
        return f"Order #{rng.randrange(10**9, 10**10)} has shipped."
    if choice == 2:
        return f"Card {luhn_invalid(fake.credit_card_number())} was declined as invalid."
    if choice == 3:
        iban = fake.iban()
        return f"Account {iban[:2]}{(int(iban[2:4]) + 1) % 100:02d}{iban[4:]} is not a real one."
    if choice == 4:
        area = rng.choice(["000", "666", str(rng.randrange(900, 1000))])
        return f"Ticket {area}-{rng.randrange(10, 100)}-{rng.randrange(1000, 10000)} is closed."
    if choice == 5:
        return f"Released on {fake.date()} at {fake.time()}."
    return f"Upgrade to version {rng.randrange(1, 20)}.{rng.randrange(0, 30)}.{rng.randrange(100)}."


def faker_examples(paragraphs: list[str], count: int, seed: int) -> list:
    from faker import Faker

    rng = random.Random(seed)
    fakers = {}
    for i, locale in enumerate(LOCALES):
        fakers[locale] = Faker(locale)
        fakers[locale].seed_instance(seed + i)
    examples = []
    for _ in range(count):
        locale = rng.choice(list(LOCALES))
        fake = fakers[locale]
        text = rng.choice(paragraphs)
        gold, decoys = [], []
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.6:
                kind, sentence, start, end = planted_item(fake, locale, rng)
                offset = len(text) + 1
                gold.append((kind, offset + start, offset + end))
            else:
                sentence = lookalike(fake, rng)
                offset = len(text) + 1
                decoys.append((offset, offset + len(sentence)))
            text = f"{text} {sentence}"
        examples.append((text, LOCALES[locale], gold, decoys))
    return examples


def web_paragraphs(records: list[dict]) -> list[str]:
    paragraphs = []
    for record in records:
        for piece in record["text"].split("\n"):
            if 200 <= len(piece) <= 1500:
                paragraphs.append(piece)
    return paragraphs


# ------------------------------------------------------------------------ datatrove side


def time_textmill(stage, texts: list[str], batch_size: int, repeats: int) -> tuple[float, list]:
    from textmill.document import make_batch

    batches = [
        make_batch(
            [str(i) for i in range(s, min(s + batch_size, len(texts)))], texts[s : s + batch_size]
        )
        for s in range(0, len(texts), batch_size)
    ]
    stage.map(batches[0])
    best, out = None, []
    from textmill.stages.safety import pii_phone

    for _ in range(repeats):
        pii_phone.confirm_phone_cache_clear()  # a repeat must not reuse the last one's lookups
        start = time.process_time()
        out = [stage.map(batch) for batch in batches]
        took = time.process_time() - start
        best = took if best is None else min(best, took)
    return best, [t for batch in out for t in batch["text"].to_pylist()]


def accuracy(records: list[dict], args: argparse.Namespace) -> None:
    """Precision and recall per kind on Presidio's sentences and on the Faker set."""
    examples, unmapped = presidio_examples()
    stage = kinds_stage(ALL_KINDS, regions=PRESIDIO_REGIONS, regions_from_lang=False)
    title = f"Presidio synthetic sentences ({len(examples)}; unlabelled predictions are wrong)"
    print_scores(title, score(examples, stage), complete=True)
    print("not covered (no kind in textmill):", dict(unmapped.most_common()))

    faker = faker_examples(web_paragraphs(records), args.faker_docs, args.seed)
    stage = kinds_stage(ALL_KINDS)
    planted = sum(len(g) for _, _, g, _ in faker)
    decoys = sum(len(d) for _, _, _, d in faker)
    title = (
        f"Faker set, seed {args.seed}: {len(faker)} web paragraphs, {planted} planted, "
        f"{decoys} look-alikes"
    )
    print_scores(title, score(faker, stage))
    # Faker numbers its JCB and Maestro cards with prefixes no issuer was given (35xx outside
    # 3528-3589, 0604): Luhn alone, without the issuer table, on both sets
    luhn_only = kinds_stage(["credit_card"], card_prefix_check=False)
    for name, data in (("Presidio", examples), ("Faker", faker)):
        title = f"credit_card, card_prefix_check: false ({name})"
        print_scores(title, score(data, luhn_only), ["credit_card"], complete=name == "Presidio")
    # Faker's phone numbers are random digits in a national layout: many are not valid numbers
    # in libphonenumber's metadata (unassigned area codes, Ofcom's drama range); "possible"
    # checks only the length
    for name, data, options in (
        ("Presidio", examples, {"regions": PRESIDIO_REGIONS, "regions_from_lang": False}),
        ("Faker", faker, {}),
    ):
        possible = kinds_stage(["phone"], phone_leniency="possible", **options)
        title = f"phone, phone_leniency: possible ({name})"
        print_scores(title, score(data, possible), ["phone"], complete=name == "Presidio")


def print_agreement(label: str, out: list[str], datatrove: list[str]) -> None:
    """How many documents come out identical, and where each other one first differs."""
    same = sum(a == b for a, b in zip(out, datatrove, strict=True))
    print(f"{label}: identical to datatrove's PIIFormatter (e-mail + IP): {same}/{len(out)}")
    for i, (a, b) in enumerate(zip(out, datatrove, strict=True)):
        if a != b:
            pairs = enumerate(zip(a, b, strict=False))
            at = next((j for j, (x, y) in pairs if x != y), min(len(a), len(b)))
            print(f"  differs, doc {i}: textmill {a[max(0, at - 30) : at + 40]!r}")
            print(f"                 datatrove {b[max(0, at - 30) : at + 40]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faker-docs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-kind", action="store_true", help="also time each kind alone")
    parser.add_argument(
        "--agreement-only", action="store_true", help="only the web text against datatrove"
    )
    args = parser.parse_args()
    for path in (PRESIDIO, WEB_TEXT):
        if not path.exists():
            print(f"{path} is not there: this benchmark needs ../shared/data; nothing measured")
            return
    import pyarrow as pa

    pa.set_cpu_count(1)
    core = pin_to_one_core()
    print(f"one core (cpu {core}), arrow threads 1")

    records = read_records(WEB_TEXT)
    if not args.agreement_only:
        accuracy(records, args)
    texts = [r["text"] for r in records]
    python = ensure_datatrove_venv()
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.json", Path(tmp) / "out.json"
        source.write_text(json.dumps(texts))
        subprocess.run(
            [str(python), "-c", DATATROVE_SCRIPT, str(source), str(target), str(args.repeats)],
            check=True,
        )
        datatrove = json.loads(target.read_text())
    default_seconds, default_out = time_textmill(
        kinds_stage(["email", "ip"]), texts, args.batch_size, args.repeats
    )
    compat_seconds, compat_out = time_textmill(
        kinds_stage(["email", "ip"], compat="datatrove"), texts, args.batch_size, args.repeats
    )
    every_seconds, _ = time_textmill(kinds_stage(ALL_KINDS), texts, args.batch_size, args.repeats)
    print(
        f"\n## Shared web text ({len(texts)} documents, {sum(map(len, texts)) / 1e6:.1f} M chars)"
    )
    for label, out in (("default", default_out), ("compat: datatrove", compat_out)):
        print_agreement(label, out, datatrove["texts"])
    dt = len(texts) / datatrove["seconds"]
    for label, seconds in (
        ("default (email, ip)", default_seconds),
        ("compat: datatrove", compat_seconds),
        ("every kind", every_seconds),
    ):
        rate = len(texts) / seconds
        print(f"textmill {label:20} {rate:9,.0f} docs/s per core  {rate / dt:5.1f}x datatrove")
    print(f"datatrove PIIFormatter        {dt:9,.0f} docs/s per core")
    if args.per_kind:
        for kind in ALL_KINDS:
            seconds, _ = time_textmill(kinds_stage([kind]), texts, args.batch_size, args.repeats)
            rate = len(texts) / seconds
            print(f"textmill {kind:20} {rate:9,.0f} docs/s per core  {rate / dt:5.1f}x datatrove")


if __name__ == "__main__":
    main()
