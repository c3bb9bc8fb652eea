"""Language codes: one key per language whatever the identifier calls it.

lid.176 labels ISO 639-1 (`zh`), GlotLID and FineWeb-2 label ISO 639-3 plus script
(`cmn_Hani`), users write either. Tables keyed by language are looked up through
`candidate_keys`, so a threshold given for `zh` applies to `cmn_Hani` and the other way round.
Identifiers' own bare codes that differ from the table's are renamed by `identifier_code`: lid.176
and CLD2 say `no` for Norwegian Bokmål (their `nn` is Nynorsk), the table and FineWeb-2 say `nb`
(`nob_Latn`); a table keyed `no` still applies to `nb` and `nn` (the macro-language, last).
"""

from __future__ import annotations

# ISO 639-3 (individual or macro-language code as GlotLID/FineWeb-2 use it) -> ISO 639-1.
_ISO3_TO_ISO1 = {
    "afr": "af", "amh": "am", "ara": "ar", "arb": "ar", "asm": "as", "aze": "az", "azj": "az",
    "bak": "ba", "bel": "be", "bul": "bg", "ben": "bn", "bod": "bo", "bre": "br", "bos": "bs",
    "cat": "ca", "ces": "cs", "cym": "cy", "dan": "da", "deu": "de", "div": "dv", "ell": "el",
    "eng": "en", "epo": "eo", "spa": "es", "est": "et", "ekk": "et", "eus": "eu", "fas": "fa",
    "pes": "fa", "fin": "fi", "fra": "fr", "fry": "fy", "gle": "ga", "gla": "gd", "glg": "gl",
    "guj": "gu", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy", "ind": "id",
    "isl": "is", "ita": "it", "jpn": "ja", "jav": "jv", "kat": "ka", "kaz": "kk", "khm": "km",
    "kan": "kn", "kor": "ko", "kir": "ky", "lat": "la", "ltz": "lb", "lug": "lg", "lao": "lo",
    "lit": "lt", "lav": "lv", "lvs": "lv", "mlg": "mg", "plt": "mg", "mri": "mi", "mkd": "mk",
    "mal": "ml", "mon": "mn", "khk": "mn", "mar": "mr", "msa": "ms", "zsm": "ms", "mlt": "mt",
    "mya": "my", "nep": "ne", "npi": "ne", "nld": "nl", "nno": "nn", "nob": "nb", "nor": "no",
    "ori": "or", "ory": "or", "pan": "pa", "pol": "pl", "pus": "ps", "pbt": "ps", "por": "pt",
    "ron": "ro", "rus": "ru", "san": "sa", "sin": "si", "slk": "sk", "slv": "sl", "sna": "sn",
    "som": "so", "sqi": "sq", "als": "sq", "srp": "sr", "sot": "st", "sun": "su", "swe": "sv",
    "swa": "sw", "swh": "sw", "tam": "ta", "tel": "te", "tgk": "tg", "tha": "th", "tuk": "tk",
    "tgl": "tl", "fil": "tl", "tsn": "tn", "tur": "tr", "tso": "ts", "tat": "tt", "uig": "ug",
    "ukr": "uk", "urd": "ur", "uzb": "uz", "uzn": "uz", "vie": "vi", "xho": "xh", "yid": "yi",
    "ydd": "yi", "yor": "yo", "zho": "zh", "cmn": "zh", "yue": "zh", "zul": "zu",
}  # fmt: skip
# bare codes identifiers emit -> the table's code (CLD2: iw, jw are the withdrawn ISO codes)
_IDENTIFIER_CODES = {"no": "nb", "iw": "he", "jw": "jv", "zh-Hant": "zh"}
_MACRO_LANGUAGE = {"nb": "no", "nn": "no"}  # ISO 639-1 individual -> macro-language
_ISO1_TO_ISO3: dict[str, list[str]] = {}
for _iso3, _iso1 in _ISO3_TO_ISO1.items():
    _ISO1_TO_ISO3.setdefault(_iso1, []).append(_iso3)


def split_label(lang: str) -> tuple[str, str | None]:
    """`cmn_Hani` -> ("cmn", "Hani"); `zh-Hant` -> ("zh", "Hant"); `pt-br` -> ("pt", None)."""
    lang = lang.strip().removeprefix("__label__")
    for separator in ("_", "-"):
        if separator in lang:
            base, rest = lang.split(separator, 1)
            return base.lower(), rest if len(rest) == 4 and rest[0].isupper() else None
    return lang.lower(), None


def identifier_code(code: str) -> str:
    """An identifier's bare label in the table's spelling: lid.176's `no` -> `nb`."""
    return _IDENTIFIER_CODES.get(code, code)


def base_language(lang: str) -> str:
    """The ISO 639-1 code where one exists (`cmn_Hani` -> `zh`), else the lower-cased base."""
    base, _ = split_label(lang)
    return _ISO3_TO_ISO1.get(base, base)


def candidate_keys(lang: str) -> list[str]:
    """Keys a per-language table may use for `lang`, most specific first."""
    base, script = split_label(lang)
    iso1 = _ISO3_TO_ISO1.get(base, base)
    keys = [lang]
    names = [base, iso1, *_ISO1_TO_ISO3.get(iso1, [])]
    if script:
        keys += [f"{name}_{script}" for name in names]
    keys += names
    macro = _MACRO_LANGUAGE.get(iso1)
    if macro:
        keys += [macro, *_ISO1_TO_ISO3.get(macro, [])]
    return list(dict.fromkeys(keys))


def lookup(table: dict[str, object], lang: str | None) -> object | None:
    """The entry of `table` for `lang` under any of its spellings, or None."""
    if not lang:
        return None
    for key in candidate_keys(lang):
        if key in table:
            return table[key]
    return None
