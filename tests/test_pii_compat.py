"""`compat: datatrove`: e-mail and IP exactly as datatrove's PIIFormatter (0.10.1) writes them.

Each case is one of the differences between textmill's rules and datatrove's on the shared web
text (BENCHMARKS.md, PII section); the datatrove column is what its PIIFormatter returned with
`email_replacement="email@example.com", ip_replacement="192.0.2.1"`.
"""

import pytest

from textmill.document import make_batch
from textmill.stages.safety.pii import Pii

CASES = [  # (input, textmill's default, datatrove's)
    (  # multicast: global in Python's ipaddress, not anyone's address
        "mDNS answers on 224.0.0.251 port 5353.",
        "mDNS answers on 224.0.0.251 port 5353.",
        "mDNS answers on 192.0.2.1 port 5353.",
    ),
    (  # public IPv6: datatrove has no IPv6 pattern
        "Google at 2a00:1450:4001:82a::200e today.",
        "Google at 2001:db8::1 today.",
        "Google at 2a00:1450:4001:82a::200e today.",
    ),
    (  # a dotted version: datatrove's IPv4 pattern has no boundaries
        "Build 8.0.1.27165 and 1.2.3.4.5 released.",
        "Build 8.0.1.27165 and 1.2.3.4.5 released.",
        "Build 192.0.2.1165 and 192.0.2.1.5 released.",
    ),
    (  # an address right after a CJK character: Python's Unicode `\b` sees no boundary
        "联系邮箱图fyzw88@126.com谢谢",
        "联系邮箱图email@example.com谢谢",
        "联系邮箱图fyzw88@126.com谢谢",
    ),
    (  # a systemd path: `/` is atext to datatrove, and its domain needs no letters at the end
        "Add /etc/systemd/system/systemd-nspawn@foobar.service.d/50-network.conf here.",
        "Add /etc/systemd/system/email@example.com.d/50-network.conf here.",
        "Add /email@example.com/50-network.conf here.",
    ),
    (  # RFC 5322 atext and an address literal, both in datatrove's pattern
        "Mail o'brien@example.org or root@[8.8.8.8] now.",
        "Mail o'email@example.com or root@[192.0.2.1] now.",
        "Mail email@example.com or email@example.com now.",
    ),
    (  # two `@`: the first match takes the domain up to the second
        "a@b.c@d.com and é-foo@x.com",
        "a@email@example.com and é-email@example.com",
        "email@example.com@d.com and éemail@example.com",
    ),
    (  # leading zeros: not an address for Python's ipaddress, as for datatrove's validator
        "Hosts 01.2.3.4 and 10.0.0.1 and 8.8.8.8.",
        "Hosts 01.2.3.4 and 10.0.0.1 and 192.0.2.1.",
        "Hosts 01.2.3.4 and 10.0.0.1 and 192.0.2.1.",
    ),
]


def redact(texts: list[str], **options) -> list[str]:
    batch = make_batch([str(i) for i in range(len(texts))], texts)
    return Pii(**options).map(batch)["text"].to_pylist()


@pytest.mark.parametrize(("text", "textmill", "datatrove"), CASES)
def test_compat_datatrove_writes_what_datatrove_writes_and_the_default_does_not(
    text, textmill, datatrove
):
    assert redact([text], compat="datatrove") == [datatrove]
    assert redact([text]) == [textmill]


def test_a_batch_of_every_case_matches_case_by_case_and_counts_what_it_replaced():
    texts = [text for text, _, _ in CASES]
    assert redact(texts, compat="datatrove") == [datatrove for _, _, datatrove in CASES]
    out = Pii(compat="datatrove").map(make_batch([str(i) for i in range(len(texts))], texts))
    assert out["pii_ip"].to_pylist() == [1, 0, 2, 0, 0, 0, 0, 1]
    assert out["pii_email"].to_pylist() == [0, 0, 0, 0, 1, 2, 2, 0]


def test_compat_with_every_other_kind_still_finds_them():
    text = "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, multicast 224.0.0.251."
    [out] = redact([text], compat="datatrove", kinds=["email", "ip", "credit_card", "iban"])
    assert out == "Card <CREDIT_CARD>, IBAN <IBAN>, multicast 192.0.2.1."


def test_compat_is_an_option_that_refuses_unknown_values():
    assert Pii().options.compat == "textmill"
    with pytest.raises(ValueError, match="compat"):
        Pii(compat="fineweb")
