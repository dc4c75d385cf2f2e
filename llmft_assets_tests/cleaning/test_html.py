"""Blog post HTML to title and main text: every bundled post against its ground truth, the
Substack fragment's structure, the boilerplate that must go, titles, and broken input."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from llmft_assets.cleaning.decoding import decode_text
from llmft_assets.cleaning.html import Article, extract_article
from llmft_assets.errors import DocumentError

POSTS = Path(__file__).resolve().parents[2] / "llmft_assets" / "sample_data" / "blog_posts"
GROUND_TRUTH = Path(__file__).resolve().parent / "html_ground_truth"
SUBSTACK = "89014957.data-engineer-vs-senior-data-engineer.html"
POST_FILES = sorted(p.name for p in POSTS.glob("*.html"))
ARTICLE_TEXT = " ".join(
    ["Columnar files store each column together, so a query reads only what it needs."] * 4
)


def token_f1(predicted: str, reference: str) -> float:
    """Bag-of-words F1 of lowercase word tokens, counting repeats (multiset overlap)."""
    ours = Counter(re.findall(r"\w+", predicted.lower()))
    theirs = Counter(re.findall(r"\w+", reference.lower()))
    overlap = sum((ours & theirs).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(ours.values())
    recall = overlap / sum(theirs.values())
    return 2 * precision * recall / (precision + recall)


@cache
def raw(name: str) -> str:
    return decode_text((POSTS / name).read_bytes()).text


@cache
def extracted(name: str) -> Article:
    return extract_article(raw(name), file_name=name)


def test_token_f1_helper() -> None:
    assert token_f1("a b b c", "a b b c") == 1.0
    assert token_f1("x y", "a b") == 0.0
    assert token_f1("A b", "a B c d") == pytest.approx(2 / 3)
    assert token_f1("b b b b", "b") == pytest.approx(0.4)  # repeats are not free


def test_every_post_has_ground_truth() -> None:
    assert len(POST_FILES) >= 14
    assert sorted(p.stem for p in GROUND_TRUTH.glob("*.txt")) == [Path(n).stem for n in POST_FILES]


@pytest.mark.parametrize("name", POST_FILES)
def test_post_text_matches_ground_truth(name: str) -> None:
    truth = (GROUND_TRUTH / f"{Path(name).stem}.txt").read_text(encoding="utf-8")
    article = extracted(name)
    assert token_f1(f"{article.title}\n\n{article.text}", truth) >= 0.95
    assert article.title == truth.split("\n", 1)[0]


def test_substack_fragment_keeps_headings_and_lists_as_blocks() -> None:
    text = extracted(SUBSTACK).text
    blocks = text.split("\n\n")
    # <h2> and <h4> headings are paragraphs of their own.
    assert "The difference between Senior DE and DE isn’t what you think." in blocks
    assert "What Senior Data Engineers bring to the table." in blocks
    assert "Able to drive a project autonomously without much need for guidance." in blocks
    assert "Kind, understanding, and empathic." in blocks
    assert "In summary." in blocks
    # A list is one block of "- " lines, inline markup flattened.
    assert (
        "- It’s purely technical skills that separate Senior from not-Senior level.\n"
        "- You have to be an expert on every new or popular tool released.\n"
        "- You have to be a star programmer, agile, TDD, OPP, functional genius.\n"
        "- You need to be able to code in Java, Scala, and Python.\n"
        "- Doing good work on time is enough to qualify you."
    ) in blocks
    # The blockquote and paragraphs each stand alone, separated by one blank line.
    assert "“I made a mistake.”" in blocks
    assert "It’s like grading your own papers." in blocks
    assert "\n\n\n" not in text
    assert text.startswith("Engineers at every level and in any context are always asking")
    assert text.endswith(
        "Learning to work with others and build no-technical skills is just as,"
        " if not more, important."
    )


def test_paragraphs_are_separated_by_one_blank_line() -> None:
    for name in POST_FILES:
        text = extracted(name).text
        assert text == text.strip()
        assert len(text.split("\n\n")) >= 8
        if "<pre" not in raw(name):  # code may hold blank lines of its own
            assert "\n\n\n" not in text


def test_text_after_an_html_comment_is_kept_and_the_comment_is_not() -> None:
    """Ad slots and CMS markers sit inside paragraphs; the words after them are the post's."""
    paragraphs = "".join(
        f"<p>{ARTICLE_TEXT}<!-- ad slot {i} --> Rows stay together {i}.<?php echo 1; ?></p>"
        for i in range(3)
    )
    html = f"<html><body><!-- header --><article>{paragraphs}</article></body></html>"
    text = extract_article(html).text
    assert [f"Rows stay together {i}." in text for i in range(3)] == [True] * 3
    assert "ad slot" not in text and "header" not in text and "php" not in text


def test_code_blocks_keep_their_indentation() -> None:
    text = extracted("kimball-is-not-dead.html").text
    assert (
        "-- marts/sales/orders_wide.sql\nselect\n    f.order_line_id,\n    f.order_date,\n"
    ) in text
    assert (
        "left join {{ ref('dim_customer') }} as c\n    on f.customer_key = c.customer_key\n"
    ) in text


@pytest.mark.parametrize(
    ("name", "absent"),
    [
        # Substack's subscribe widget, its image srcset and data-attrs JSON
        (SUBSTACK, "reader-supported publication"),
        (SUBSTACK, "Type your email"),
        (SUBSTACK, "substackcdn.com"),
        (SUBSTACK, "bucketeer-e05bbc84"),
        (SUBSTACK, "belowTheFold"),
        (SUBSTACK, "1456w"),
        # image captions
        (
            "90417736.testing-data-pipelines-without-losing-your-mind.html",
            "The pipeline, moments before someone renamed an upstream column.",
        ),
        ("91230475.stop-reaching-for-spark.html", "Cluster or laptop? For most jobs"),
        ("airflow-vs-dagster-an-honest-take.html", "Two orchestrators, one on-call rotation."),
        ("airflow-vs-dagster-an-honest-take.html", "1.2K"),  # the clap counter
        ("delta-lake-vs-iceberg-pick-one-and-move-on.html", "Photo by a friend who is very"),
        # scripts and styles
        ("kimball-is-not-dead.html", "gtag("),
        ("kimball-is-not-dead.html", "_wpemojiSettings"),
        ("kimball-is-not-dead.html", "adsbygoogle"),
        ("kimball-is-not-dead.html", "font-family"),
        # comment section
        ("kimball-is-not-dead.html", "Took us a month to notice"),
        ("kimball-is-not-dead.html", "says:"),
        ("kimball-is-not-dead.html", "thoughts on"),
        # navigation, share and like buttons, related posts, ads, author box
        ("kimball-is-not-dead.html", "Skip to content"),
        ("kimball-is-not-dead.html", "Work With Me"),
        ("kimball-is-not-dead.html", "Previous post"),
        ("kimball-is-not-dead.html", "Share this:"),
        ("kimball-is-not-dead.html", "Click to share on Reddit"),
        ("kimball-is-not-dead.html", "Like this:"),
        ("kimball-is-not-dead.html", "Surrogate Keys Are Not Optional"),
        ("kimball-is-not-dead.html", "Advertisement"),
        ("kimball-is-not-dead.html", "Marcus has spent twelve years"),
        ("kimball-is-not-dead.html", "Categorized as"),
    ],
)
def test_boilerplate_is_absent(name: str, absent: str) -> None:
    assert absent in raw(name)  # the page does carry it
    article = extracted(name)
    assert absent not in article.text
    assert absent not in article.title


def test_no_boilerplate_in_any_post() -> None:
    for name in POST_FILES:
        text = extracted(name).text
        for marker in ("<script", "<div", "function(", "srcset", "Share this", "Leave a Reply"):
            assert marker not in text, (name, marker)


def page(head: str = "", body: str = "") -> str:
    return (
        f"<!doctype html><html><head>{head}</head><body>"
        f"<article>{body}<p>{ARTICLE_TEXT}</p><p>{ARTICLE_TEXT}</p></article></body></html>"
    )


def test_title_from_og_title_first() -> None:
    html = page(
        '<title>Data Notes :: Something Else</title><meta property="og:title" content="Parquet'
        ' Is Not Magic">',
        "<h1>A Different Heading</h1>",
    )
    assert extract_article(html).title == "Parquet Is Not Magic"


def test_title_from_h1_without_og_title() -> None:
    html = page("<title>Data Notes :: Something Else</title>", "<h1>Parquet   Is Not\nMagic</h1>")
    article = extract_article(html)
    assert article.title == "Parquet Is Not Magic"
    assert not article.text.startswith("Parquet Is Not Magic")  # not repeated in the text


def test_title_from_title_element_with_site_prefix() -> None:
    # The real file: "Dave's Data Notebook :: You Probably Don't Need Streaming", no og:title.
    name = "you-probably-dont-need-streaming.html"
    assert "og:title" not in raw(name)
    assert extracted(name).title == "You Probably Don’t Need Streaming"


@pytest.mark.parametrize(
    "title_element",
    [
        "The Engineering Notebook of Dave Whitfield :: Small Files",
        "Small Files - by Ana Ruiz - The Data Engineering Central Newsletter",
        "Small Files | The Data Engineering Central Newsletter",
    ],
)
def test_title_from_title_element_with_site_and_author_parts(title_element: str) -> None:
    html = page(f"<title>{title_element}</title>")
    assert extract_article(html).title == "Small Files"


@pytest.mark.parametrize(
    ("title_element", "title"),
    [
        (
            "Why Your dbt Project Needs Fewer Models - by Marcus Hale - Bits",
            "Why Your dbt Project Needs Fewer Models",
        ),
        (
            "Airflow vs Dagster - An Honest Take - by Sam Lee - Pipeline Notes",
            "Airflow vs Dagster - An Honest Take",
        ),
        (
            "Airflow vs Dagster - An Honest Take | Pipeline Notes",
            "Airflow vs Dagster - An Honest Take",
        ),
        ("Kimball Is Not Dead – Bits &amp; Batches", "Kimball Is Not Dead"),
        ("Parquet Is Not Magic", "Parquet Is Not Magic"),
    ],
)
def test_title_element_keeps_the_whole_post_title(title_element: str, title: str) -> None:
    assert extract_article(page(f"<title>{title_element}</title>")).title == title


@pytest.mark.parametrize(
    ("file_name", "title"),
    [
        (
            "89014957.data-engineer-vs-senior-data-engineer.html",
            "Data Engineer vs Senior Data Engineer",
        ),
        ("12345.the-state-of-data-in-2024.html", "The State of Data in 2024"),
        ("why_we_moved_to_dagster.html", "Why We Moved to Dagster"),
    ],
)
def test_title_from_the_file_name(file_name: str, title: str) -> None:
    html = f"<p>{ARTICLE_TEXT}</p><p>{ARTICLE_TEXT}</p>"
    assert extract_article(html, file_name=file_name).title == title


def test_truncated_html_keeps_the_text_before_the_cut() -> None:
    html = raw("kimball-is-not-dead.html")
    cut = html.index('<h2 class="wp-block-heading">Where one big table') + len('<h2 class="wp-bl')
    article = extract_article(html[:cut], file_name="kimball-is-not-dead.html")
    assert article.title == "Kimball Is Not Dead (But One Big Table Has a Point)"
    assert article.text.startswith("Every year or so, someone declares dimensional modelling dead.")
    assert "You have a pile." in article.text
    assert article.text.endswith("and a very uncomfortable afternoon.")
    assert "Where one big table" not in article.text


def test_truncated_substack_fragment_keeps_the_text_before_the_cut() -> None:
    html = raw(SUBSTACK)
    cut = html.index("<h4>Able to upskill other team members.</h4>") + 3
    article = extract_article(html[:cut], file_name=SUBSTACK)
    assert "Able to drive a project autonomously without much need for guidance." in article.text
    assert article.text.endswith("You should be able to run projects and make decisions yourself.")


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>Home</title></head><body><nav><a href='/'>Home</a>"
        "<a href='/about'>About</a></nav><footer>© 2024</footer></body></html>",
        "<html><body><script>var x = 1;</script><style>p {color: red}</style></body></html>",
        "<p>Too short.</p>",
    ],
    ids=["nav-only", "script-only", "too-short"],
)
def test_page_without_article_text_is_rejected(html: str) -> None:
    with pytest.raises(DocumentError, match="no article text"):
        extract_article(html, file_name="page.html")


def test_xml_declaration_with_encoding_does_not_crash() -> None:
    html = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN"'
        ' "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Parquet Is Not Magic</title>'
        f"</head><body><article><h1>Parquet Is Not Magic</h1><p>{ARTICLE_TEXT}</p>"
        f"<p>Row groups matter. {ARTICLE_TEXT}</p></article></body></html>"
    )
    article = extract_article(html)
    assert article.title == "Parquet Is Not Magic"
    assert "Row groups matter." in article.text


def test_xml_declaration_in_bytes_decoded_first() -> None:
    data = (
        b'<?xml version="1.0" encoding="iso-8859-1"?>\n<html><body><article><h1>Caf\xe9</h1>'
        + f"<p>{ARTICLE_TEXT}</p><p>{ARTICLE_TEXT}</p>".encode()
        + b"</article></body></html>"
    )
    assert extract_article(decode_text(data).text).title == "Café"


def test_counters_around_the_article_go_and_numbers_in_it_stay() -> None:
    html = (
        "<!doctype html><html><body><article><h1>Counting things</h1><p>1.2K</p>"
        f"<p>{ARTICLE_TEXT}</p><p>42</p><p>{ARTICLE_TEXT}</p><p>14</p></article></body></html>"
    )
    blocks = extract_article(html).text.split("\n\n")
    assert blocks == [ARTICLE_TEXT, "42", ARTICLE_TEXT]


SITE_ONLY_PAGES = {
    "nav-cookie-footer": (
        "<!doctype html><html><head><title>Example Blog</title></head><body><header><nav><ul>"
        "<li><a href='/'>Home</a></li><li><a href='/about'>About</a></li>"
        "<li><a href='/blog'>Blog</a></li></ul></nav></header><div class='cookie-banner'><p>We"
        " use cookies to improve your experience on our website. By continuing to browse, you"
        " agree to our use of cookies.</p><button>Accept all</button></div><footer><p>© 2024"
        " Example Media Ltd. All rights reserved.</p><p><a href='/privacy'>Privacy Policy</a> |"
        " <a href='/terms'>Terms of Service</a></p></footer></body></html>"
    ),
    "share-links": (
        "<html><body><article><div class='share'><a href='#'>Share on Twitter</a> <a href='#'>"
        "Share on Facebook</a> <a href='#'>Copy link</a></div><p>Subscribe to our newsletter to"
        " get the latest posts delivered to your inbox every week.</p></article></body></html>"
    ),
    "consent-dialog": (
        "<html><body><main><h1>Your privacy</h1><p>This website uses cookies and similar"
        " technologies to personalise content and ads, to provide social media features and"
        " to analyse our traffic.</p><p><a>Accept all cookies</a> <a>Reject</a></p></main>"
        "</body></html>"
    ),
    "footer-only": (
        "<html><body><div id='content'></div><footer><h3>Stay in touch</h3><p>Sign up for our"
        " newsletter and never miss a post.</p><p>Follow us on Twitter, Instagram and"
        " YouTube.</p><p>Copyright © 2023 Data Blog Inc. All rights reserved. Powered by"
        " WordPress.</p></footer></body></html>"
    ),
}


@pytest.mark.parametrize("html", SITE_ONLY_PAGES.values(), ids=SITE_ONLY_PAGES.keys())
def test_a_page_of_only_the_sites_navigation_notices_and_links_is_rejected(html: str) -> None:
    with pytest.raises(DocumentError, match="no article text found in the HTML"):
        extract_article(html, file_name="page.html")


def test_a_short_post_that_mentions_site_words_is_kept() -> None:
    text = "Kafka consumers subscribe to topics; the broker keeps their offsets, not the consumer."
    html = f"<html><body><article><h1>Offsets</h1><p>{text}</p></article></body></html>"
    assert extract_article(html).text == text
