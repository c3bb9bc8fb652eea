"""PII redaction: FineWeb's step 9 (e-mail and public IP addresses) by default, and on request
phone numbers, payment cards, IBANs, national ids, secrets, URL credentials and person names.

E-mail, IP, phone, card, IBAN and national-id candidates are looked for only inside the windows
one numba pass over the column's bytes finds (textmill.stages.safety.pii_scan: around each `@`
and each cluster of digits); secrets and URL credentials have a cheap RE2 screen that picks the
rows worth a look. The kind's check rule (Luhn, mod-97, python-stdnum, libphonenumber,
detect-secrets' patterns) confirms each candidate (textmill.stages.safety.pii_kinds), and the
tokens are spliced into the column's UTF-8 bytes: a row becomes a Python string only when a
screen picks it. `compat: datatrove` swaps the e-mail and IP rules for those of datatrove's
PIIFormatter, which made FineWeb. The default placeholders are reserved documentation values
and the `<KIND>` / `<KIND:hash>` tokens match no kind, so running the stage twice changes
nothing.

Modes: `placeholder` (one token per kind), `hash` (HMAC-SHA256 of the normalised value with a
salt read from the environment, so one phone number written two ways becomes one token and the
salt never lands in stats.json or the dataset card), `drop` (documents whose PII density is above
`max_density` are rejected as `pii:density`; the others are redacted with placeholders).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from textmill.config import PipelineConfigError
from textmill.document import TEXT
from textmill.pipeline import Decision, Stage, StageOptions, register
from textmill.stages.safety.pii_kinds import (
    NATIONAL_IDS,
    ORDER,
    PREFIXED_SCREENS,
    RULES,
    WHOLE,
    WINDOW_KINDS,
    Compat,
    Context,
    Found,
    KindName,
    is_public_ip,
    window_fits,
    window_needs,
)
from textmill.stages.safety.pii_ner import NerEngine, load_ner
from textmill.stages.safety.pii_phone import phone_regions
from textmill.stages.safety.pii_scan import Windows, digit_windows
from textmill.text.columns import utf8_buffers

__all__ = ["Pii", "is_public_ip", "pii_column"]

LANG = "lang"
PII_EMAIL = "pii_email"
PII_IP = "pii_ip"
PII_EXTRA = "textmill[pii]"
NationalIdName = Literal[
    "us_ssn", "es_dni", "es_nie", "it_codicefiscale", "fr_nir", "fi_hetu", "se_personnummer"
]
# the Python package each kind's check rule needs (the `pii` extra pins them)
KIND_PACKAGES = {
    "phone": "phonenumbers",
    "credit_card": "stdnum",
    "iban": "stdnum",
    "national_id": "stdnum",
    "secret": "detect_secrets",
}
# the person screen: a capitalised word; rows without one never reach the model
PERSON_SCREEN = r"\p{Lu}\p{Ll}"


def _matching(text: pa.Array, regex: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(text, regex), False).to_numpy(zero_copy_only=False)


def screen_rows(
    text: pa.Array, patterns: dict[tuple[str, str], str]
) -> tuple[np.ndarray, pa.Array, dict[tuple[str, str], np.ndarray]]:
    """The rows any of `patterns` matches, those rows, and per pattern a mask over them. A
    screen that opens with a literal (PREFIXED_SCREENS) runs alone over the column; the others
    share one RE2 pass, then each pattern's own pass reads only the rows that pass found
    (every pass without a literal to skip to costs about the same per byte)."""
    full: dict[tuple[str, str], np.ndarray] = {}
    shared = {key: regex for key, regex in patterns.items() if regex not in PREFIXED_SCREENS}
    for key, regex in patterns.items():
        if key not in shared:
            full[key] = _matching(text, regex)
    if len(shared) == 1:
        [(key, regex)] = shared.items()
        full[key] = _matching(text, regex)
    elif shared:
        anything = _matching(text, "|".join(f"(?:{regex})" for regex in shared.values()))
        some = np.flatnonzero(anything)
        subset = pc.take(text, pa.array(some))
        for key, regex in shared.items():
            full[key] = np.zeros(len(text), dtype=bool)
            full[key][some] = _matching(subset, regex)
    hits = np.logical_or.reduce(list(full.values())) if full else np.zeros(len(text), bool)
    rows = np.flatnonzero(hits)
    subset = pc.take(text, pa.array(rows)) if len(rows) else text.slice(0, 0)
    # in the patterns' order: the row's kinds are looked for in it
    return rows, subset, {key: full[key][rows] for key in patterns}


def pii_column(kind: str) -> str:
    """The int32 column that counts one kind per row (the report sums every `pii_*`)."""
    return f"pii_{kind}"


@register("pii")
class Pii(Stage):
    """Replaces personal data in `text`, kind by kind; counts each kind per row in
    `pii_<kind>` (int32) so that the report and the dataset card can sum them."""

    class Options(StageOptions):
        kinds: list[KindName] = Field(
            ["email", "ip"],
            description="what to redact: email, ip, phone, credit_card, iban, national_id, "
            "secret, url_credentials, person (FineWeb: email and ip)",
        )
        mode: Literal["placeholder", "hash", "drop"] = Field(
            "placeholder",
            description="placeholder: one token per kind; hash: <KIND:hmac> per value; drop: "
            "reject documents above max_density, redact the rest with placeholders",
        )
        email_placeholder: str = Field(
            "email@example.com", description="datatrove's PIIFormatter placeholder"
        )
        ipv4_placeholder: str = Field("192.0.2.1", description="RFC 5737: never public")
        ipv6_placeholder: str = Field("2001:db8::1", description="RFC 3849: never public")
        placeholders: dict[KindName, str] = Field(
            {}, description="placeholder per other kind (default <PHONE>, <IBAN>, ...)"
        )
        compat: Compat = Field(
            "textmill",
            description="datatrove: e-mail and IP exactly as datatrove's PIIFormatter, which "
            "made FineWeb (its patterns: multicast and `8.0.1.27` of `8.0.1.27165` replaced, "
            "no IPv6, no address right after a CJK character); textmill: our stricter rules",
        )
        emails: bool = Field(True, description="switch for kind email")
        ips: bool = Field(True, description="switch for kind ip")
        hash_salt_env: str = Field(
            "TEXTMILL_PII_SALT",
            description="hash mode: environment variable holding the HMAC salt (never stored)",
        )
        hash_length: int = Field(16, ge=8, le=64, description="hex characters of a hash token")
        max_density: float = Field(
            5.0, gt=0, description="drop mode: most matches per density_unit a document keeps"
        )
        density_unit: Literal["1000_chars", "word"] = Field(
            "1000_chars", description="per 1,000 characters or per whitespace-separated word"
        )
        regions: list[str] = Field(
            ["US"], description="phone regions for numbers written without +country code"
        )
        regions_from_lang: bool = Field(
            True, description="try the `lang` column's likely regions before `regions`"
        )
        phone_leniency: Literal["possible", "valid", "strict_grouping", "exact_grouping"] = Field(
            "valid", description="libphonenumber's PhoneNumberMatcher leniency"
        )
        phone_bare_digits: bool = Field(
            False, description="also unformatted digit runs (5551234567): often order numbers"
        )
        national_ids: list[NationalIdName] = Field(
            list(NATIONAL_IDS), description="python-stdnum validators for kind national_id"
        )
        card_prefix_check: bool = Field(
            True, description="card numbers must fit an issuer's prefix and length, besides Luhn"
        )
        ner_engine: Literal["spacy", "presidio", "gliner"] = Field(
            "spacy", description="kind person: the engine over ner_model"
        )
        ner_model: str | None = Field(
            None, description="kind person: a spaCy pipeline folder or a GLiNER model folder"
        )
        ner_labels: list[str] = Field(["PERSON", "PER"], description="entity labels to redact")
        ner_language: str = Field("en", description="presidio's language code")
        ner_threshold: float = Field(
            0.5, ge=0, le=1, description="presidio and gliner: lowest score redacted"
        )

        @field_validator("regions")
        @classmethod
        def _known_regions(cls, regions: list[str]) -> list[str]:
            import importlib.util

            if importlib.util.find_spec("phonenumbers") is None:
                return regions
            import phonenumbers

            unknown = [r for r in regions if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
            if unknown:
                raise ValueError(f"unknown phone regions {unknown} (ISO 3166 codes such as US)")
            return [r.upper() for r in regions]

        @model_validator(mode="after")
        def _consistent(self) -> Pii.Options:
            if "person" in self.kinds and not self.ner_model:
                raise ValueError("kind `person` needs `ner_model` (a spaCy or GLiNER folder)")
            if len(set(self.kinds)) != len(self.kinds):
                raise ValueError(f"kinds lists a kind twice: {self.kinds}")
            return self

    def __init__(self, options=None, **kwargs):
        super().__init__(options, **kwargs)
        self._ner: NerEngine | None = None
        self._salt: bytes | None = None

    @property
    def kinds(self) -> list[str]:
        """Enabled kinds in redaction order (the legacy `emails`/`ips` switches still count)."""
        o = self.options
        off = {kind for kind, on in (("email", o.emails), ("ip", o.ips)) if not on}
        return [kind for kind in (*ORDER, "person") if kind in o.kinds and kind not in off]

    def setup(self) -> None:
        import importlib.util

        for kind in self.kinds:
            package = KIND_PACKAGES.get(kind)
            if package and importlib.util.find_spec(package) is None:
                raise PipelineConfigError(
                    f"pii kind {kind} needs `{package}`, which is not installed: "
                    f"pip install '{PII_EXTRA}'"
                )
        if self.options.mode == "hash":
            self.salt()
        if "person" in self.kinds:
            self.ner()

    def salt(self) -> bytes:
        if self._salt is None:
            value = os.environ.get(self.options.hash_salt_env, "")
            if not value:
                raise PipelineConfigError(
                    f"pii mode hash needs a salt: set the environment variable "
                    f"{self.options.hash_salt_env} (it is never written to the output)"
                )
            self._salt = value.encode("utf-8")
        return self._salt

    def ner(self) -> NerEngine:
        if self._ner is None:
            o = self.options
            self._ner = load_ner(
                o.ner_engine, o.ner_model, o.ner_labels, o.ner_language, o.ner_threshold
            )
        return self._ner

    # -- tokens

    def token(self, kind: str, found: Found) -> str:
        o = self.options
        if o.mode == "hash":
            digest = hmac.new(self.salt(), f"{kind}\0{found.value}".encode(), hashlib.sha256)
            return f"<{kind.upper()}:{digest.hexdigest()[: o.hash_length]}>"
        if kind == "email":
            return o.email_placeholder
        if kind == "ip":
            return o.ipv6_placeholder if ":" in found.value else o.ipv4_placeholder
        return o.placeholders.get(kind, f"<{kind.upper()}>")

    def redact(self, text: str, kind: str, found: list[Found]) -> tuple[str, int]:
        """Replace non-overlapping spans (earliest first, longest on a tie)."""
        text, counts = self.redact_kinds(text, [(kind, item) for item in found])
        return text, counts.get(kind, 0)

    def redact_kinds(self, text: str, found: list[tuple[str, Found]]) -> tuple[str, dict[str, int]]:
        """Replace the non-overlapping spans of several kinds at once; counts per kind."""
        counts: dict[str, int] = {}
        if not found:
            return text, counts
        pieces, position = [], 0
        for kind, item in sorted(found, key=lambda f: (f[1].start, -f[1].end)):
            if item.start < position:
                continue
            pieces += [text[position : item.start], self.token(kind, item)]
            position = item.end
            counts[kind] = counts.get(kind, 0) + 1
        pieces.append(text[position:])
        return "".join(pieces), counts

    def detect(self, text: str, lang: str | None = None) -> list[tuple[str, Found]]:
        """What the stage would redact in one text, by position, at positions of the original
        text (where two kinds overlap, the earlier kind in the stage's order wins): the same
        path as the batch, for audits and benchmarks; `person` is left out (it needs the
        model's batch call)."""
        o = self.options
        regions = phone_regions(lang, o.regions) if o.regions_from_lang else tuple(o.regions)
        kinds = [kind for kind in self.kinds if kind != "person"]
        finds, _ = self._find_rows(pa.array([text], pa.string()), kinds, [regions])
        return sorted(finds.get(0, []), key=lambda f: (f[1].start, -f[1].end))

    def _screens(self, kind: str) -> dict[str, str]:
        """The RE2 screens of one kind by part (none for the kinds found through windows)."""
        rule = RULES[kind]
        pattern = rule.screen(self.options) if callable(rule.screen) else rule.screen
        return pattern if isinstance(pattern, dict) else {"": pattern} if pattern else {}

    def _gate(self, kind: str) -> str:
        """The RE2 pattern a window must match before a windowed kind looks in it ("": every
        window with the kind's digits or flags)."""
        gate = RULES[kind].gate
        return gate(self.options) if callable(gate) else gate

    def _windows(self, text: pa.Array, kinds: list[str]) -> Windows | None:
        """pii_scan's windows for the digit-bearing kinds among `kinds` (None: there are none)."""
        if not WINDOW_KINDS.intersection(kinds):
            return None
        fewest, ip, iban, emails, datatrove = window_needs(kinds, self.options)
        return digit_windows(
            text, fewest, ip=ip, iban=iban, emails=emails, datatrove_emails=datatrove
        )

    @staticmethod
    def _find_in_row(
        text: str,
        kinds: list[str],
        context: Context,
        screens: dict[str, frozenset[str]],
        windows: list[tuple[int, int]],
        prepared: dict[str, Any] | None = None,
    ) -> list[tuple[str, Found]]:
        """Each kind's finds in its order; a found span is masked (same length, so positions
        hold) before the next kind looks. `prepared`: each kind's share of its `prepare`
        (worked out on the text as it is: a kind that looks after a mask does its own)."""
        found: list[tuple[str, Found]] = []
        context.windows = windows
        for kind in kinds:
            windowed = kind in WINDOW_KINDS and bool(windows)
            if not screens.get(kind) and not windowed:
                continue
            context.screens = screens.get(kind, frozenset())
            context.prepared = prepared.get(kind) if prepared and not found else None
            for item in RULES[kind].find(text, context):
                found.append((kind, item))
                text = text[: item.start] + "#" * (item.end - item.start) + text[item.end :]
        return found

    # -- the batch

    def map(self, batch: pa.Table) -> pa.Table:
        """The batch with `text` redacted and one count column per enabled kind."""
        return self.redact_batch(batch)[0]

    def process(self, batch: pa.Table) -> tuple[pa.Table, Decision | None]:
        out, total = self.redact_batch(batch)
        if self.options.mode != "drop":
            return out, None
        return out, self.decide_density(batch, total)

    def counters(self, out: pa.Table, decision: Decision | None) -> dict[str, int]:
        """Per listed kind, `pii_<kind>` (matches) and `pii_<kind>_documents` (documents with
        one), over every document the stage saw, those it drops for density included."""
        counts: dict[str, int] = {}
        for kind in self.options.kinds:
            column = out[pii_column(kind)]
            counts[pii_column(kind)] = int(pc.sum(column).as_py() or 0)
            counts[f"{pii_column(kind)}_documents"] = int(
                pc.sum(pc.greater(column, 0)).as_py() or 0
            )
        return counts

    def decide_density(self, batch: pa.Table, total: np.ndarray) -> Decision:
        """PII found per 1,000 characters or per whitespace-separated word of the input."""
        o = self.options
        if o.density_unit == "word":
            size = pc.count_substring_regex(batch[TEXT], r"\S+")
            scale = 1.0
        else:
            size = pc.utf8_length(batch[TEXT])
            scale = 1000.0
        size = pc.fill_null(size, 0).to_numpy(zero_copy_only=False).astype(np.float64)
        density = np.divide(total * scale, size, out=np.zeros(len(total)), where=size > 0)
        return Decision.first_failing(("density", (total > 0) & (density > o.max_density)))

    def redact_batch(self, batch: pa.Table) -> tuple[pa.Table, np.ndarray]:
        kinds = self.kinds
        text = batch[TEXT]
        text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
        text_type = text.type
        # a count column for every listed kind, zeros where a switch turned it off
        counts = {kind: np.zeros(batch.num_rows, dtype=np.int32) for kind in self.options.kinds}
        regions = self._row_regions(batch) if "phone" in kinds else None
        group: list[str] = []
        for kind in [*kinds, None]:
            if kind is not None and kind != "person":
                group.append(kind)
                continue
            if group:
                text = self._redact_rows(text, group, counts, regions)
                group = []
            if kind == "person":
                text = self._redact_people(text, counts["person"])
        text = text.cast(text_type) if text.type != text_type else text
        batch = batch.set_column(batch.column_names.index(TEXT), batch.schema.field(TEXT), text)
        for kind in self.options.kinds:
            name = pii_column(kind)
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(name, pa.array(counts[kind], pa.int32()))
        total = sum(counts.values(), np.zeros(batch.num_rows, dtype=np.int32))
        return batch, total

    def _row_regions(self, batch: pa.Table) -> list[tuple[str, ...]] | None:
        o = self.options
        if not o.regions_from_lang or LANG not in batch.column_names:
            return None
        langs = pc.fill_null(batch[LANG].cast(pa.string()), "").to_pylist()
        by_lang = {lang: phone_regions(lang, o.regions) for lang in set(langs)}
        return [by_lang[lang] for lang in langs]

    def _redact_rows(
        self,
        text: pa.Array,
        kinds: list[str],
        counts: dict[str, np.ndarray],
        regions: list[tuple[str, ...]] | None,
    ) -> pa.Array:
        """Find with _find_rows, then splice the tokens into the column's UTF-8 bytes (rows
        are never decoded: a span found in a window knows its bytes, one found in a row the
        screens converted is measured in that string)."""
        finds, values = self._find_rows(text, kinds, regions)
        if not finds:
            return text
        offsets, data, _ = utf8_buffers(text)
        pieces: list[bytes | memoryview] = []
        view = memoryview(data)
        at = int(offsets[0])  # the next byte to copy
        growth = np.zeros(len(text), dtype=np.int64)  # bytes each row gains
        for row in sorted(finds):
            base = int(offsets[row])
            value = values.get(row)
            char, byte = 0, 0  # a position in the row: characters and their bytes
            position = 0
            for kind, item in sorted(finds[row], key=lambda f: (f[1].start, -f[1].end)):
                if item.start < position:  # as redact_kinds: overlaps were resolved
                    continue
                position = item.end
                counts[kind][row] += 1
                head, tail = item.byte_start, item.byte_end
                if head < 0:  # from the row's string, walked on from the last span
                    assert value is not None
                    head = byte + len(value[char : item.start].encode())
                    tail = head + len(value[item.start : item.end].encode())
                char, byte = item.end, tail
                token = self.token(kind, item).encode()
                pieces += [view[at : base + head], token]
                at = base + tail
                growth[row] += len(token) - (tail - head)
        pieces.append(view[at : int(offsets[-1])])
        shift = np.concatenate(([0], np.cumsum(growth)))
        new_offsets = offsets - offsets[0] + shift
        large = text.type == pa.large_string()
        validity = None
        if text.null_count:
            validity = pc.is_valid(text).buffers()[1]  # a fresh bitmap: offset 0
        out = pa.Array.from_buffers(
            pa.large_string(),
            len(text),
            [validity, pa.py_buffer(new_offsets), pa.py_buffer(b"".join(pieces))],
            null_count=text.null_count,
        )
        return out if large else out.cast(text.type)

    def _find_rows(
        self, text: pa.Array, kinds: list[str], regions: list[tuple[str, ...]] | None
    ) -> tuple[dict[int, list[tuple[str, Found]]], dict[int, str]]:
        """What to redact per row (kinds in their order, no overlaps), and the rows already
        converted to Python strings.

        The digit-bearing kinds look only inside pii_scan's windows, decoded one by one from
        the column's bytes (each find carries its byte positions in the row), a gated kind
        only in the windows its RE2 gate matches; one RE2 pass with every other kind's screen
        picks the rows their finders read whole. A span found by an earlier kind
        wins over a later kind's overlapping one, as masking would."""
        o = self.options
        context = Context(regions=tuple(o.regions), options=o)
        rank = {kind: i for i, kind in enumerate(kinds)}
        finds: dict[int, list[tuple[int, str, Found]]] = {}
        patterns: dict[tuple[str, str], str] = {}
        for kind in kinds:
            patterns.update({(kind, part): regex for part, regex in self._screens(kind).items()})
        rows, subset, masks = screen_rows(text, patterns)
        # digit-bearing kinds, window by window
        windows = self._windows(text, kinds)
        if windows is not None and len(windows.starts):
            windowed = [kind for kind in kinds if kind in WINDOW_KINDS]
            window_rows = windows.rows()
            # which kinds can be in each window, as bits (one array operation per kind)
            fits = np.zeros(len(windows.starts), dtype=np.int64)
            for bit, kind in enumerate(windowed):
                fit = window_fits(kind, windows.digits, windows.flags, o)
                fits |= fit.astype(np.int64) << bit
            looked = np.flatnonzero(fits)
            fits = fits[looked]
            pieces = windows.texts(looked)
            for bit, kind in enumerate(windowed):
                gate = self._gate(kind)
                if gate:  # one RE2 pass over the windows that could hold the kind
                    could = np.flatnonzero(fits >> bit & 1)
                    column = pa.array([pieces[i] for i in could.tolist()], pa.string())
                    hits = pc.fill_null(pc.match_substring_regex(column, gate), False)
                    fits[could[~hits.to_numpy(zero_copy_only=False)]] &= ~(1 << bit)
            by_bits: dict[int, list[str]] = {}
            row_starts = windows.byte_offsets
            for row, offset, byte_offset, most, flags, bits, piece in zip(
                window_rows[looked].tolist(),
                windows.starts[looked].tolist(),
                (windows.byte_starts[looked] - row_starts[window_rows[looked]]).tolist(),
                windows.digits[looked].tolist(),
                windows.flags[looked].tolist(),
                fits.tolist(),
                pieces,
                strict=True,
            ):
                if not bits:
                    continue
                looking = by_bits.get(bits)
                if looking is None:
                    looking = [kind for i, kind in enumerate(windowed) if bits >> i & 1]
                    by_bits[bits] = looking
                if regions is not None:
                    context.regions = regions[row]
                spans = [(0, WHOLE, most, flags)]
                for kind, item in self._find_in_row(piece, looking, context, {}, spans):
                    # the bytes too, so that the row is redacted without decoding it
                    head = byte_offset + len(piece[: item.start].encode())
                    tail = head + len(piece[item.start : item.end].encode())
                    shifted = Found(offset + item.start, offset + item.end, item.value, head, tail)
                    finds.setdefault(row, []).append((rank[kind], kind, shifted))
        # the other kinds (and IPv6), row by row where their screens match
        texts = subset.to_pylist() if len(rows) else []
        values = dict(zip(rows.tolist(), texts, strict=True))
        # per row, the parts of each kind's screens that matched it (in the kinds' order)
        screened: list[dict[str, frozenset[str]]] = []
        for position in range(len(texts)):
            matched: dict[str, set[str]] = {}
            for (kind, part), mask in masks.items():
                if mask[position]:
                    matched.setdefault(kind, set()).add(part)
            screened.append({kind: frozenset(parts) for kind, parts in matched.items()})
        prepared = self._prepare(texts, screened)
        for position, (value, screens) in enumerate(zip(texts, screened, strict=True)):
            row = int(rows[position])
            if regions is not None:
                context.regions = regions[row]
            shares = {kind: share[position] for kind, share in prepared.items()}
            for kind, item in self._find_in_row(value, list(screens), context, screens, [], shares):
                finds.setdefault(row, []).append((rank[kind], kind, item))
        return {row: self._resolve(found) for row, found in finds.items()}, values

    @staticmethod
    def _prepare(
        texts: list[str], screened: list[dict[str, frozenset[str]]]
    ) -> dict[str, list[Any]]:
        """Per kind with a `prepare`, its result for each row (None where its screens did not
        match): one call with every row the kind's screens matched."""
        prepared: dict[str, list[Any]] = {}
        for kind, rule in RULES.items():
            if rule.prepare is None:
                continue
            positions = [i for i, screens in enumerate(screened) if kind in screens]
            if not positions:
                continue
            share = rule.prepare(
                [texts[i] for i in positions], [screened[i][kind] for i in positions]
            )
            prepared[kind] = [None] * len(texts)
            for position, result in zip(positions, share, strict=True):
                prepared[kind][position] = result
        return prepared

    @staticmethod
    def _resolve(found: list[tuple[int, str, Found]]) -> list[tuple[str, Found]]:
        """Kinds in their order; a span overlapping one already taken is dropped."""
        by_start = sorted(found, key=lambda f: f[2].start)
        if all(a[2].end <= b[2].start for a, b in zip(by_start, by_start[1:], strict=False)):
            return [(kind, item) for _, kind, item in by_start]  # nothing overlaps
        taken: list[tuple[str, Found]] = []
        for _, kind, item in sorted(found, key=lambda f: (f[0], f[2].start, -f[2].end)):
            if all(item.end <= other.start or item.start >= other.end for _, other in taken):
                taken.append((kind, item))
        return taken

    def _redact_people(self, text: pa.Array, counts: np.ndarray) -> pa.Array:
        mask = pc.fill_null(pc.match_substring_regex(text, PERSON_SCREEN), False)
        flagged = mask.to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(flagged)
        if not len(rows):
            return text
        values = pc.take(text, pa.array(rows)).to_pylist()
        redacted = []
        for row, value, spans in zip(rows, values, self.ner().find(values), strict=True):
            found = [Found(start, end, name.casefold()) for start, end, name in spans]
            value, counts[row] = self.redact(value, "person", found)
            redacted.append(value)
        return pc.replace_with_mask(text, pa.array(flagged), pa.array(redacted, text.type))
