"""PII redaction (FineWeb step 9): e-mail addresses and public IP addresses become placeholders.

E-mails are replaced on the whole column with one regular expression. IP-looking strings need
a validity check (private, loopback and reserved ranges are not personal data and stay), so only
the rows that hold a candidate go through Python. The placeholders are themselves reserved
documentation values, so running the stage twice changes nothing the second time.
"""

from __future__ import annotations

import ipaddress
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from textmill.document import TEXT
from textmill.pipeline import Mapper, StageOptions, register

PII_EMAIL = "pii_email"
PII_IP = "pii_ip"
EMAIL_PATTERN = (
    r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\b"
)
# Cheap RE2 screens that find the rows worth a Python look.
IPV4_SCREEN = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
IPV6_SCREEN = r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
IP_CANDIDATE = re.compile(
    rf"(?<![\w.:])(?:{_OCTET}(?:\.{_OCTET}){{3}}"  # IPv4, not inside a longer dotted number
    r"|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}"  # IPv6 shape; ipaddress decides
    r")(?![\w:]|\.\d)"
)


def is_public_ip(candidate: str) -> bool:
    """Globally routable unicast addresses only; anything unparsable is not an address, nor an
    IPv6 shape with fewer than 3 groups (`::a` in code or prose is no one's address)."""
    if ":" in candidate and sum(1 for group in candidate.split(":") if group) < 3:
        return False
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return address.is_global and not address.is_multicast


@register("pii")
class Pii(Mapper):
    """Replaces e-mail addresses and public IPv4/IPv6 addresses in `text`; counts each kind per
    row in `pii_email` and `pii_ip` (int32) so that the report can sum them."""

    class Options(StageOptions):
        email_placeholder: str = "email@example.com"  # datatrove's PIIFormatter placeholder
        ipv4_placeholder: str = "192.0.2.1"  # RFC 5737 documentation address: never public
        ipv6_placeholder: str = "2001:db8::1"  # RFC 3849 documentation address: never public
        emails: bool = True
        ips: bool = True

    def replace_ips(self, text: str) -> tuple[str, int]:
        replaced = 0

        def substitute(match: re.Match[str]) -> str:
            nonlocal replaced
            candidate = match.group(0)
            if not is_public_ip(candidate):
                return candidate
            replaced += 1
            return (
                self.options.ipv6_placeholder if ":" in candidate else self.options.ipv4_placeholder
            )

        return IP_CANDIDATE.sub(substitute, text), replaced

    def map(self, batch: pa.Table) -> pa.Table:
        o = self.options
        text = batch[TEXT]
        num_rows = batch.num_rows
        email_counts: pa.Array | pa.ChunkedArray = pa.array(np.zeros(num_rows, dtype=np.int32))
        if o.emails:
            # the placeholder itself (a second run) is not counted again
            already = pc.count_substring_regex(text, rf"\b{re.escape(o.email_placeholder)}\b")
            found = pc.subtract(pc.count_substring_regex(text, EMAIL_PATTERN), already)
            email_counts = pc.fill_null(found, 0)
            text = pc.replace_substring_regex(text, EMAIL_PATTERN, o.email_placeholder)
        ip_counts = np.zeros(num_rows, dtype=np.int32)
        if o.ips:
            candidates = pc.or_(
                pc.match_substring_regex(text, IPV4_SCREEN),
                pc.match_substring_regex(text, IPV6_SCREEN),
            )
            mask = pc.fill_null(candidates, False)
            rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
            if len(rows):
                redacted = []
                for row, value in zip(rows, pc.take(text, pa.array(rows)).to_pylist(), strict=True):
                    value, ip_counts[row] = self.replace_ips(value)
                    redacted.append(value)
                text_type = batch.schema.field(TEXT).type
                text = pc.replace_with_mask(
                    text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text,
                    mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask,
                    pa.array(redacted, text_type),
                )
        batch = batch.set_column(batch.column_names.index(TEXT), batch.schema.field(TEXT), text)
        for name, counts in ((PII_EMAIL, email_counts), (PII_IP, pa.array(ip_counts))):
            column = pc.cast(counts, pa.int32())
            if name in batch.column_names:
                batch = batch.drop_columns([name])
            batch = batch.append_column(name, column)
        return batch
