import pyarrow as pa

from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.stages.safety.pii import Pii, is_public_ip


def three_rows() -> pa.Table:
    return make_batch(
        ["mail", "ips", "none"],
        [
            "Write to Jane.Doe@mail.example.org or ops@corp.io today.",
            "Server 8.8.8.8, LAN 192.168.1.10, loopback ::1, public 2606:4700:4700::1111.",
            None,
        ],
    )


def test_emails_and_public_ips_are_replaced_and_counted():
    out = build_stage("pii").process(three_rows())[0]
    assert out["text"].to_pylist() == [
        "Write to email@example.com or email@example.com today.",
        "Server 192.0.2.1, LAN 192.168.1.10, loopback ::1, public 2001:db8::1.",
        None,
    ]
    assert out["pii_email"].to_pylist() == [2, 0, 0]
    assert out["pii_ip"].to_pylist() == [0, 2, 0]
    assert out.schema.field("pii_email").type == pa.int32()
    assert out.schema.field("pii_ip").type == pa.int32()


def test_version_numbers_times_and_mac_addresses_are_not_ips():
    text = "Release 1.2.3.4.5 at 12:30:45 from 00:1a:2b:3c:4d:5e, out of 999.1.1.1 range."
    out = Pii().map(make_batch(["a"], [text]))
    assert out["text"][0].as_py() == text
    assert out["pii_ip"][0].as_py() == 0


def test_second_run_changes_nothing_and_counts_nothing():
    once = Pii().map(three_rows())
    twice = Pii().map(once)
    assert twice["text"].to_pylist() == once["text"].to_pylist()
    assert twice["pii_email"].to_pylist() == [0, 0, 0]
    assert twice["pii_ip"].to_pylist() == [0, 0, 0]


def test_ip_redaction_can_be_switched_off():
    out = Pii(ips=False).map(three_rows())
    assert "8.8.8.8" in out["text"][1].as_py()
    assert out["pii_ip"].to_pylist() == [0, 0, 0]


def test_private_reserved_and_multicast_addresses_are_not_public():
    private = ["10.0.0.1", "172.16.5.4", "127.0.0.1", "100.64.0.1", "224.0.0.1", "fe80::1", "::a"]
    assert [is_public_ip(address) for address in private] == [False] * len(private)
    assert is_public_ip("1.1.1.1") and is_public_ip("2a00:1450:4001::200e")
