from pathlib import Path

import pyarrow as pa

from textmill.document import make_batch
from textmill.pipeline import build_stage
from textmill.stages.url_filter import UrlFilter, read_default_list, url_hosts


def batch_of(urls: list[str | None]) -> pa.Table:
    return make_batch([f"doc{i}" for i in range(len(urls))], ["text"] * len(urls), urls=urls)


def test_default_lists_ship_with_the_package_and_are_not_empty():
    assert "pornhub.com" in read_default_list("resources/url_blocked_domains.txt")
    assert "porn" in read_default_list("resources/url_banned_words.txt")
    assert "sex" in read_default_list("resources/url_soft_banned_words.txt")


def test_blocked_domain_blocks_its_subdomains_but_not_lookalikes():
    stage = build_stage("url_filter", {"use_default_lists": False, "blocked_domains": ["bad.test"]})
    batch = batch_of(
        ["https://bad.test/a", "http://WWW.Bad.Test:8080/b?c=1", "https://notbad.test/", None]
    )
    _, decision = stage.process(batch)
    assert decision.reasons.to_pylist() == ["blocked_domain", "blocked_domain", None, None]


def test_each_reason_for_the_default_lists():
    batch = batch_of(
        [
            "https://www.pornhub.com/view",  # shipped domain list
            "https://news.example.com/xxx-video",  # hard-banned word
            "https://example.org/hot-sexy-pics",  # two soft words
            "https://example.org/myhentaiblog",  # banned sub-word inside a word
            "https://example.org/hot-news",  # one soft word only
            "https://www.sussex.ac.uk/sex-education",  # 'sex' is soft, not a sub-word
        ]
    )
    _, decision = UrlFilter().process(batch)
    assert decision.reasons.to_pylist() == [
        "blocked_domain",
        "banned_word",
        "soft_banned_words",
        "banned_subword",
        None,
        None,
    ]


def test_soft_words_count_distinct_words_and_threshold_is_an_option():
    batch = batch_of(["https://a.test/hot/hot/hot", "https://a.test/hot-teen"])
    _, default = UrlFilter().process(batch)
    _, strict = UrlFilter(soft_banned_threshold=1).process(batch)
    assert default.reasons.to_pylist() == [None, "soft_banned_words"]
    assert strict.reasons.to_pylist() == ["soft_banned_words", "soft_banned_words"]


def test_blocklist_files_accept_comments_and_hosts_format(tmp_path: Path):
    blocklist = tmp_path / "domains.txt"
    blocklist.write_text("# my list\nspam.test\n0.0.0.0 tracker.test  # hosts style\n\n")
    stage = UrlFilter(use_default_lists=False, blocklist_files=[str(blocklist)])
    batch = batch_of(["http://spam.test/", "http://ads.tracker.test/x", "http://ok.test/"])
    _, decision = stage.process(batch)
    assert decision.reasons.to_pylist() == ["blocked_domain", "blocked_domain", None]


def test_allow_list_exempts_a_domain_from_every_check(tmp_path: Path):
    allowlist = tmp_path / "allow.txt"
    allowlist.write_text("wiki.test\n")
    stage = UrlFilter(allowlist_files=[str(allowlist)], blocked_domains=["wiki.test"])
    batch = batch_of(["https://en.wiki.test/Porn_studies", "https://other.test/porn"])
    _, decision = stage.process(batch)
    assert decision.reasons.to_pylist() == [None, "banned_word"]


def test_measure_counts_banned_words_per_url():
    stage = UrlFilter(use_default_lists=False, banned_words=["Foo"], soft_banned_words=["a", "b"])
    metrics = stage.measure(batch_of(["https://x.test/foo/FOO?q=a&r=b", None]))
    assert metrics["banned_words"].to_pylist() == [1, 0]
    assert metrics["soft_banned_words"].to_pylist() == [2, 0]
    assert metrics["has_url"].to_pylist() == [True, False]


def test_url_hosts_strip_scheme_user_port_and_case():
    urls = pa.array(["https://User@Sub.Example.COM:8080/a", "//cdn.test/x", "example.org/p", None])
    assert url_hosts(urls).to_pylist() == ["sub.example.com", "cdn.test", "example.org", None]
