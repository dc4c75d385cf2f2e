"""The data half at scale: what Dagster's bookkeeping costs per document (issue 17).

Writes a synthetic corpus into a temp folder (N blog posts of 4-8 KB of article HTML,
optionally M Gutenberg-style books of about 450 KB; words drawn from the bundled samples'
vocabulary with a seeded RNG, so documents differ), among the posts a planted share of near
duplicates (2 %: the previous post with a sentence added, for dedup to drop) and of bad files
(0.5 %: bytes that are not text, or a page with no article, for cleaning to set aside), then
runs the data half as a user does from the README, each command a child process against a
fresh DAGSTER_HOME (the default SQLite instance, or with `--postgres URL` a fresh database on
that PostgreSQL server) and a fresh artifact folder:

    dagster asset materialize -m llmft_assets.definitions --select document_catalog
    dagster asset materialize ... --select <each partitioned asset> --partition-range FIRST...LAST
    dagster asset materialize ... --select text_chunks,training_dataset

The partitioned assets and their partition sets come from the code under test
(`llmft_assets.definitions.ASSETS`, `partitions_def.name`), the keys from the instance, so the
script runs on one partition per document as on batches of documents. An asset whose backfill
policy is not single-run gets one command per partition (`--partition KEY`), as the pipeline
command does, since Dagster's CLI refuses a range for it. Then a few new posts, the catalog
again, one evaluation of the automation conditions (an automation tick), the new posts' batch
through each asset partitioned by batch (fetched, cleaned, and, where the code has
`batch_chunks`, chunked) and `text_chunks,training_dataset` again (every other batch's shards
reused), and the webserver's answer to each asset's page (`ASSET_PAGE_QUERY`), timed.

Per step it prints documents, raw MB, wall seconds, work seconds (the run's step durations as
Dagster's step stats record them), function seconds (each step until its first output event),
bookkeeping = (wall - work) / documents in ms and net of each command's fixed cost, event log
records, the instance's storage growth per document, artifact store growth and the children's
peak RSS;
then what the run set aside (documents rejected, duplicates dropped) beside what was planted.
`--baseline REV` runs the same steps, on the same corpus in the same call, with another revision
checked out by `git worktree add` (same venv, PYTHONPATH and working directory set to the
worktree) and prints ratios current / baseline. `--rev REV` measures a revision instead of this
checkout's working tree.

    .venv/bin/python benchmarks/scale.py                      # 1,000 posts, ~3 minutes
    .venv/bin/python benchmarks/scale.py --posts 20000 --books 2200 --baseline <rev>
"""

from __future__ import annotations

import argparse
import html
import itertools
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "llmft_assets" / "sample_data"
CODE_LOCATION = "llmft_assets.definitions"
LAST_DATA_ASSET = "training_dataset"  # the data half ends here; the model half is not run
NEW_POSTS = 20  # posts added after the first run, before the catalog again and the tick
BLOG_BATCHES = "blog_post_batches"
DOCUMENT_BATCHES = "document_batches"  # cleaning's partitions, and those of later per-batch work
NEAR_DUPLICATE_EVERY = 50  # every 50th post is the previous one with a sentence added
BAD_EVERY = 200  # every 200th post is a bad file (offset from the near duplicates)
SET_ASIDE = ("rejected", "duplicates_dropped")  # what the report says was set aside
SUMMED = (*SET_ASIDE, "shards", "shards_reused")  # materialization metadata the report sums
CHUNKING = "shards_reused"  # the metadata of an asset that chunks shards (whose are summed)
# What the UI's page of an asset asks the webserver for: its partitions' status and its latest
# materializations with their metadata (a representative subset of the page's queries).
ASSET_PAGE_QUERY = """
query AssetPage($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      partitionStats { numMaterialized numPartitions numFailed numMaterializing }
      partitionKeysByDimension { name partitionKeys }
      assetPartitionStatuses {
        ... on DefaultPartitionStatuses { materializedPartitions failedPartitions }
      }
      assetMaterializations(limit: 100) {
        runId partition timestamp
        metadataEntries { label __typename ... on MarkdownMetadataEntry { mdStr } }
      }
    }
  }
}
"""
_RUN_START = re.compile(r" - (?P<run_id>[0-9a-f]{8}-[0-9a-f-]{27}) - \d+ - RUN_START - ")


# --------------------------------------------------------------------------- the corpus


_TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.S)
# Words that make cleaning take a paragraph for Project Gutenberg's own (licence, notes) or
# fail the boilerplate check when drawn side by side: not drawn.
_HOUSE_WORDS_TEXT = """
gutenberg project tm ebook ebooks etext etexts license licence licensed electronic donation
donations internet bitnet volunteers copyright trademark foundation domain www http https org
com net html pgdp header refund damages disclaimer archive literary transcriber note notes
original preparer typographical errata release edition editions print small director executive
website web site mail
"""
_HOUSE_WORDS = frozenset(_HOUSE_WORDS_TEXT.split())


class Words:
    """Unigram word model of the bundled samples: real English words at their frequencies."""

    def __init__(self, rng: random.Random) -> None:
        counts: Counter[str] = Counter()
        for path in sorted(SAMPLES.rglob("*")):
            if path.suffix in {".html", ".txt", ".md"}:
                text = path.read_bytes().decode("utf-8", errors="ignore")
                if path.suffix == ".html":
                    text = _TAGS.sub(" ", text)
                elif path.parent.name == "gutenberg":  # the book, not its licence
                    text = text[text.find("*** START") + 1 : text.find("*** END")]
                counts.update(re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower()))
        self.words = [w for w in counts if len(w) < 16 and w not in _HOUSE_WORDS]
        self.cumulative = list(itertools.accumulate(counts[w] for w in self.words))
        self.rare = [w for w in self.words if counts[w] <= 2 and len(w) > 4]
        self.rng = rng

    def draw(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cumulative, k=k)

    def sentence(self, low: int = 7, high: int = 24) -> str:
        words = self.draw(self.rng.randint(low, high))
        if len(words) > 9 and self.rng.random() < 0.4:
            words[self.rng.randrange(3, len(words) - 3)] += ","
        text = " ".join(words)
        return text[0].upper() + text[1:] + self.rng.choice(".....?!")

    def title(self, low: int = 3, high: int = 8) -> str:
        words = [*self.draw(self.rng.randint(low, high - 1)), self.rng.choice(self.rare)]
        self.rng.shuffle(words)
        return " ".join(w.capitalize() if len(w) > 3 or i == 0 else w for i, w in enumerate(words))


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]


SITES = ["The Data Shed", "Pipelines and Prose", "Notes from the Warehouse", "Small Data Club"]
AUTHORS = ["Elena Varga", "Sam Okafor", "Priya Raman", "Tom Lindqvist", "Ana Costa", "Li Wei"]


def blog_post(words: Words, number: int, target: int) -> tuple[str, str]:
    """(file name, HTML) of one WordPress-like article page of about `target` bytes."""
    rng = words.rng
    title, site, author = words.title(), rng.choice(SITES), rng.choice(AUTHORS)
    domain = slug(site).replace("-", "") + ".blog"
    day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    url = f"https://{domain}/{day[:4]}/{day[5:7]}/{slug(title)}/"
    t, description = html.escape(title), html.escape(words.sentence(12, 20))
    head = (
        f'<!doctype html>\n<html lang="en-US">\n<head>\n<meta charset="UTF-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{t} &#8211; {site}</title>\n"
        f'<meta name="description" content="{description}">\n'
        f'<link rel="canonical" href="{url}">\n<meta property="og:type" content="article">\n'
        f'<meta property="og:title" content="{t}">\n'
        f'<meta property="og:site_name" content="{site}">\n'
        f'<meta property="article:published_time" content="{day}T07:30:00+00:00">\n'
        f'<meta name="author" content="{author}">\n'
        f"<link rel='stylesheet' href='https://{domain}/wp-content/themes/shed/style.css' />\n"
        f'</head>\n<body class="post-template-default single single-post">\n'
        f'<header class="site-header"><p class="site-title"><a href="/">{site}</a></p>\n'
        f'<nav class="main-navigation"><ul><li><a href="/">Home</a></li>'
        f'<li><a href="/archive/">Archive</a></li><li><a href="/about/">About</a></li>'
        f'<li><a href="/newsletter/">Newsletter</a></li></ul></nav></header>\n'
        f'<main id="main"><article class="post type-post">\n'
        f'<header class="entry-header"><h1 class="entry-title">{t}</h1>\n'
        f'<div class="entry-meta">By <a href="/author/{slug(author)}/">{author}</a> '
        f'<time datetime="{day}">{day}</time></div></header>\n<div class="entry-content">\n'
    )
    tags = ", ".join(f'<a href="/tag/{w}/" rel="tag">{w}</a>' for w in words.draw(3))
    others = [words.title() for _ in range(2)]
    related = "".join(f'<li><a href="/{slug(o)}/">{html.escape(o)}</a></li>' for o in others)
    tail = (
        f'</div>\n<footer class="entry-footer"><span class="tags-links">Tagged {tags}</span>'
        f"</footer>\n</article>\n"
        f'<section id="comments"><h2 class="comments-title">2 comments</h2><ol>'
        f"<li><p>{html.escape(words.sentence())}</p></li>"
        f"<li><p>{html.escape(words.sentence())}</p></li></ol></section>\n"
        f'<aside class="related"><h3>Related posts</h3><ul>{related}</ul></aside>\n</main>\n'
        f'<footer class="site-footer"><p>&copy; 2024 {site}. Proudly powered by WordPress.</p>'
        f'</footer>\n<script src="https://{domain}/wp-includes/js/site.min.js"></script>\n'
        f"</body>\n</html>\n"
    )
    blocks: list[str] = []
    size = len(head) + len(tail)
    while size < target:
        kind = rng.random()
        if kind < 0.08 and blocks:
            block = f"<h2>{html.escape(words.title())}</h2>"
        elif kind < 0.14:
            items = "".join(f"<li>{html.escape(words.sentence(4, 12))}</li>" for _ in range(3))
            block = f"<ul>{items}</ul>"
        elif kind < 0.17:
            block = f"<blockquote><p>{html.escape(words.sentence())}</p></blockquote>"
        elif kind < 0.20:
            cols = words.draw(3)
            block = f"<pre><code>select {', '.join(cols)}\nfrom {cols[0]}_{number}\n</code></pre>"
        else:
            sentences = " ".join(words.sentence() for _ in range(rng.randint(2, 5)))
            block = f"<p>{html.escape(sentences)}</p>"
        blocks.append(block)
        size += len(block) + 1
    name = f"{10_000_000 + number}.{slug(title)}.html"
    return name, head + "\n".join(blocks) + "\n" + tail


def _licence() -> str:
    """The real licence and footer after a bundled book's END marker, for the books' ends."""
    text = (SAMPLES / "gutenberg" / "pg68283-orig_call-of-cthulhu_2022.txt").read_bytes()
    text = text.decode("utf-8-sig").replace("\r\n", "\n")
    return text[text.index("\n", text.index("*** END OF THE PROJECT GUTENBERG EBOOK")) + 1 :]


def book(words: Words, number: int, target: int, licence: str) -> tuple[str, str]:
    """(file name, text) of one Gutenberg-style book: header, markers, chapters of hard-wrapped
    paragraphs, END marker and licence."""
    rng = words.rng
    title, author = words.title(2, 6), f"{words.title(1, 2)} {words.title(1, 2)}"
    ebook = 70_000 + number
    header = (
        f"The Project Gutenberg eBook of {title}\n\n"
        "This ebook is for the use of anyone anywhere in the United States and\n"
        "most other parts of the world at no cost and with almost no restrictions\n"
        "whatsoever. You may copy it, give it away or re-use it under the terms\n"
        "of the Project Gutenberg License included with this ebook or online\n"
        "at www.gutenberg.org. If you are not located in the United States,\n"
        "you will have to check the laws of the country where you are located\n"
        "before using this eBook.\n\n"
        f"Title: {title}\n\nAuthor: {author}\n\n"
        f"Release date: March {rng.randint(1, 28)}, 2023 [eBook #{ebook}]\n\n"
        "Language: English\n\n"
        "Credits: the Online Distributed Proofreading Team at https://www.pgdp.net\n\n\n"
        f"*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\n\n\n\n"
        f"{title.upper()}\n\nBy {author}\n\n\n"
    )
    parts = [header]
    size, chapter = len(header), 0
    while size < target:
        if chapter == 0 or rng.random() < 0.02:
            chapter += 1
            part = f"\n\nCHAPTER {chapter}.\n\n{words.title(2, 5).upper()}\n\n\n"
        else:
            sentences = " ".join(words.sentence() for _ in range(rng.randint(2, 8)))
            part = wrap(sentences) + "\n\n"
        parts.append(part)
        size += len(part)
    parts.append(f"\n\n*** END OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n")
    parts.append(licence)
    return f"pg{ebook}-{slug(title)[:40]}.txt", "".join(parts)


def wrap(text: str, width: int = 70) -> str:
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(lines)


@dataclass
class Corpus:
    posts: Path
    books: Path
    post_count: int = 0
    book_count: int = 0
    post_bytes: int = 0
    book_bytes: int = 0
    near_duplicates: int = 0
    bad_files: int = 0


def write_corpus(root: Path, posts: int, books: int, seed: int) -> Corpus:
    rng = random.Random(seed)
    words = Words(rng)
    corpus = Corpus(root / "posts", root / "books")
    corpus.posts.mkdir(parents=True)
    corpus.books.mkdir(parents=True)  # an empty folder: no books, not the bundled samples
    add_posts(corpus, words, posts)
    licence = _licence()
    for number in range(books):
        name, text = book(words, number, rng.randint(400_000, 500_000), licence)
        corpus.book_bytes += (corpus.books / name).write_bytes(text.encode())
        corpus.book_count += 1
    return corpus


def add_posts(corpus: Corpus, words: Words, count: int) -> list[Path]:
    paths: list[Path] = []
    data = b""  # the previous post's bytes, which a near duplicate repeats
    for number in range(corpus.post_count, corpus.post_count + count):
        name, text = blog_post(words, number, words.rng.randint(4_000, 8_000))
        if number % NEAR_DUPLICATE_EVERY == NEAR_DUPLICATE_EVERY - 1 and data:
            data = near_duplicate(data, words)
            corpus.near_duplicates += 1
        elif number % BAD_EVERY == BAD_EVERY // 2:
            data = bad_file(text, number, words.rng)
            corpus.bad_files += 1
        else:
            data = text.encode()
        paths.append(corpus.posts / name)
        corpus.post_bytes += paths[-1].write_bytes(data)
        corpus.post_count += 1
    return paths


def near_duplicate(page: bytes, words: Words) -> bytes:
    """The page with one sentence added at the top of its article: a repost, lightly edited."""
    opening = b'<div class="entry-content">\n'
    added = f"<p>{html.escape(words.sentence())}</p>\n".encode()
    return page.replace(opening, opening + added, 1)


def bad_file(page: str, number: int, rng: random.Random) -> bytes:
    """Not a document: alternately bytes that are not text, and the page without its article."""
    if number // BAD_EVERY % 2 == 0:
        return b"\x89PNG\r\n\x1a\n\x00\x00" + rng.randbytes(4_000)
    return re.sub(r"<article.*</article>", "", page, flags=re.S).encode()


# --------------------------------------------------------------------------- the child side


def probe(what: str, argument: str) -> None:
    """Runs in a child whose PYTHONPATH is the code under test; prints one line of JSON."""
    import dagster as dg

    if what == "steps":
        import llmft_assets
        from llmft_assets.definitions import ASSETS

        steps: list[dict] = []
        for asset in ASSETS:
            (key,) = asset.keys
            name, partitions = key.to_user_string(), asset.partitions_def
            if partitions is not None:
                # Dagster's CLI runs a range in one run only for a single-run backfill policy;
                # for any other, a user runs one command per partition (as the pipeline does).
                policy = asset.backfill_policy
                single = policy is not None and policy.policy_type.value == "SINGLE_RUN"
                steps.append(
                    {"assets": [name], "partition_set": partitions.name, "single_run": single}
                )
            elif steps and steps[-1]["partition_set"] is None:
                steps[-1]["assets"].append(name)
            else:
                steps.append({"assets": [name], "partition_set": None})
            if name == LAST_DATA_ASSET:
                break
        result: object = {"module": llmft_assets.__file__, "steps": steps}
    elif what == "keys":
        with dg.DagsterInstance.get() as instance:
            result = {}
            for name in json.loads(argument):
                result[name] = list(instance.get_dynamic_partitions(name))
    elif what == "runs":
        with dg.DagsterInstance.get() as instance:
            result = {}
            for run_id in json.loads(argument):
                events = instance.all_logs(run_id)
                types = Counter(e.dagster_event_type.value for e in events if e.is_dagster_event)
                stats = instance.get_run_step_stats(run_id)
                materializations = [
                    e.asset_materialization.metadata
                    for e in events
                    if e.is_dagster_event and e.dagster_event_type.value == "ASSET_MATERIALIZATION"
                ]
                result[run_id] = {
                    "summed": {
                        key: sum(
                            int(m[key].value)
                            for m in materializations
                            if key in m and (key != "shards" or CHUNKING in m)
                        )
                        for key in SUMMED
                    },
                    "status": instance.get_run_by_id(run_id).status.value,
                    "work_s": sum(s.end_time - s.start_time for s in stats if s.end_time),
                    "function_s": _function_seconds(events),
                    "steps": len(stats),
                    "events": len(events),
                    "event_types": dict(types),
                }
    elif what == "tick":
        from dagster._serdes import deserialize_value, serialize_value

        from llmft_assets.definitions import defs

        cursor_file = Path(argument)
        cursor = deserialize_value(cursor_file.read_text()) if cursor_file.exists() else None
        with dg.DagsterInstance.get() as instance:
            started = time.perf_counter()
            evaluation = dg.evaluate_automation_conditions(
                defs=defs, instance=instance, cursor=cursor
            )
            seconds = time.perf_counter() - started
        cursor_file.write_text(serialize_value(evaluation.cursor))
        result = {"seconds": seconds, "requested": evaluation.total_requested}
    else:
        raise SystemExit(f"unknown probe {what}")
    print("PROBE " + json.dumps(result))


def _function_seconds(events: list) -> float:
    """The steps' own functions: from each STEP_START to the step's first output,
    materialization, check result or end (what a step records after its function returned)."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    after = {
        "STEP_OUTPUT",
        "ASSET_MATERIALIZATION",
        "ASSET_CHECK_EVALUATION",
        "STEP_SUCCESS",
        "STEP_FAILURE",
    }
    for event in events:
        if not event.is_dagster_event or not event.step_key:
            continue
        kind = event.dagster_event_type.value
        if kind == "STEP_START":
            starts[event.step_key] = event.timestamp
        elif kind in after and event.step_key in starts and event.step_key not in ends:
            ends[event.step_key] = event.timestamp
    return sum(ends[k] - starts[k] for k in ends)


# --------------------------------------------------------------------------- the parent side


@dataclass
class Stage:
    name: str
    documents: int
    raw_mb: float
    wall_s: float = 0.0
    work_s: float | None = None  # the run's steps, as Dagster's step stats record them
    function_s: float | None = None  # the steps' functions, until their first output event
    peak_rss_mb: float = 0.0
    events: int | None = None
    db_growth_mb: float = 0.0
    store_growth_mb: float = 0.0
    partitions: int | None = None
    commands: int = 0
    run_ids: list[str] = field(default_factory=list)
    ok: bool = True
    fixed_cost_probe: bool = False  # a command of almost no per-document bookkeeping
    later: bool = False  # after the first run: not counted against what was planted
    event_types: dict = field(default_factory=dict)
    summed: Counter = field(default_factory=Counter)  # SUMMED metadata of its runs

    def per_document_ms(self, seconds: float | None) -> float | None:
        if seconds is None or not self.documents:
            return None
        return 1000 * seconds / self.documents

    @property
    def bookkeeping_ms(self) -> float | None:
        """(wall - work) / documents, as issue 17 measured it."""
        return self.per_document_ms(None if self.work_s is None else self.wall_s - self.work_s)

    @property
    def in_step_ms(self) -> float | None:
        """What a step spends after its function, per document (its events, mostly)."""
        if self.work_s is None or self.function_s is None:
            return None
        return self.per_document_ms(self.work_s - self.function_s)

    def net_ms(self, startup_s: float | None) -> float | None:
        """Everything but the functions, per document, less the fixed cost of its commands."""
        if self.function_s is None or startup_s is None:
            return None
        return self.per_document_ms(self.wall_s - self.function_s - self.commands * startup_s)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


class Database:
    """A fresh PostgreSQL database for one revision's instance, dropped afterwards."""

    def __init__(self, server: str, name: str) -> None:
        self.server, self.name = server.rstrip("/"), name
        self._execute(f"DROP DATABASE IF EXISTS {name}")
        self._execute(f"CREATE DATABASE {name}")

    def _execute(self, sql: str) -> list[tuple]:
        import psycopg2  # dagster-postgres' driver

        connection = psycopg2.connect(f"{self.server}/postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def instance_yaml(self) -> str:
        return f"storage:\n  postgres:\n    postgres_url: {self.server}/{self.name}\n"

    def size(self) -> int:
        return int(self._execute(f"SELECT pg_database_size('{self.name}')")[0][0])

    def drop(self) -> None:
        self._execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Revision:
    """One revision of the code and its own instance and artifact store, sharing the corpus."""

    def __init__(
        self, label: str, code: Path, corpus: Corpus, work: Path, database: Database | None
    ) -> None:
        self.label, self.code, self.corpus = label, code, corpus
        self.home, self.store, self.logs = work / "dagster_home", work / "store", work / "logs"
        for folder in (self.home, self.store, self.logs):
            folder.mkdir(parents=True)
        self.database = database
        (self.home / "dagster.yaml").write_text(database.instance_yaml() if database else "")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LLMFT_")}
        if "LLMFT_CACHE_DIR" in os.environ:  # tokenizers: shared, not part of the run
            self.env["LLMFT_CACHE_DIR"] = os.environ["LLMFT_CACHE_DIR"]
        self.env.update(
            PYTHONPATH=str(code),
            DAGSTER_HOME=str(self.home),
            LLMFT_DATA_DIR=str(self.store),
            LLMFT_BLOG_FOLDER=str(corpus.posts),
            LLMFT_BOOKS_FOLDER=str(corpus.books),
            RAYON_NUM_THREADS=os.environ.get("RAYON_NUM_THREADS", "1"),
            TOKENIZERS_PARALLELISM="false",
        )
        self.stages: list[Stage] = []
        self.tick: dict | None = None
        self.asset_pages: dict[str, tuple[float, float]] = {}  # seconds, first and again

    @property
    def startup_s(self) -> float | None:
        """What a command costs besides its functions, whatever its size: the catalog commands'
        wall less their function, on average (a process start, imports, a run of one step
        with a dozen events)."""
        catalogs = [s for s in self.stages if s.fixed_cost_probe and s.function_s is not None]
        if not catalogs:
            return None
        return sum(s.wall_s - s.function_s for s in catalogs) / len(catalogs)

    def instance_bytes(self) -> int:
        """What the instance's storage takes: its PostgreSQL database, or the SQLite folder."""
        return self.database.size() if self.database else folder_bytes(self.home)

    def probe(self, what: str, argument: object = "") -> dict:
        command = [sys.executable, str(Path(__file__).resolve()), "--probe", what]
        command.append(argument if isinstance(argument, str) else json.dumps(argument))
        out = subprocess.run(
            command, cwd=self.code, env=self.env, capture_output=True, text=True, check=False
        )
        lines = [x for x in out.stdout.splitlines() if x.startswith("PROBE ")]
        if out.returncode or not lines:
            raise RuntimeError(f"probe {what} failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
        return json.loads(lines[-1].removeprefix("PROBE "))

    def materialize(self, stage: Stage, assets: list[str], extra: list[str]) -> bool:
        """One `dagster asset materialize` command, its figures added to `stage`'s."""
        command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", CODE_LOCATION]
        command += ["--select", ",".join(assets), *extra]
        log = self.logs / f"{len(self.stages):02d}-{assets[0]}-{stage.commands:05d}.log"
        db_before, store_before = self.instance_bytes(), folder_bytes(self.store)
        print(f"  [{self.label}] {stage.name}: {' '.join(command[3:])}", flush=True)
        started = time.perf_counter()
        with log.open("w") as out:
            child = subprocess.Popen(
                command, cwd=self.code, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        stage.wall_s += time.perf_counter() - started
        stage.commands += 1
        stage.peak_rss_mb = max(stage.peak_rss_mb, usage.ru_maxrss / 1024)
        stage.db_growth_mb += (self.instance_bytes() - db_before) / 1e6
        stage.store_growth_mb += (folder_bytes(self.store) - store_before) / 1e6
        text = log.read_text(errors="replace")
        if match := _RUN_START.search(text):
            stage.run_ids.append(match["run_id"])
        if child.returncode != 0:
            stage.ok = False
            tail = "\n".join(text.splitlines()[-25:])
            print(f"  [{self.label}] {stage.name} FAILED (exit {child.returncode}):\n{tail}")
        return stage.ok

    def run(self, tick: bool, one_asset_a_command: bool) -> None:
        info = self.probe("steps")
        print(f"  [{self.label}] llmft_assets from {info['module']}", flush=True)
        if not Path(info["module"]).resolve().is_relative_to(self.code.resolve()):
            raise RuntimeError(f"{self.label}: imported {info['module']}, not from {self.code}")
        corpus = self.corpus
        documents = {"blog": corpus.post_count, "gutenberg": corpus.book_count}
        raw = {"blog": corpus.post_bytes / 1e6, "gutenberg": corpus.book_bytes / 1e6}
        total, total_mb = sum(documents.values()), sum(raw.values())
        keys: dict[str, list[str]] = {}
        for step in info["steps"]:
            assets, partition_set = step["assets"], step["partition_set"]
            if partition_set is None:
                for group in [[a] for a in assets] if one_asset_a_command else [assets]:
                    stage = Stage(",".join(group), total, total_mb)
                    stage.fixed_cost_probe = group == ["document_catalog"]
                    self.stages.append(stage)
                    if not self.materialize(stage, group, []):
                        break
                if not keys:  # after the catalog: every partition set's keys
                    sets = [s["partition_set"] for s in info["steps"] if s["partition_set"]]
                    keys = self.probe("keys", sets)
            else:
                partitions = keys.get(partition_set, [])
                if not partitions:
                    print(f"  [{self.label}] {assets[0]}: {partition_set} is empty, skipped")
                    continue
                source = next((s for s in documents if assets[0].startswith(s)), None)
                stage = Stage(
                    assets[0],
                    documents[source] if source else total,
                    raw[source] if source else total_mb,
                    partitions=len(partitions),
                )
                self.stages.append(stage)
                if step["single_run"]:
                    ranges = [["--partition-range", f"{partitions[0]}...{partitions[-1]}"]]
                else:
                    ranges = [["--partition", key] for key in partitions]
                for extra in ranges:
                    if not self.materialize(stage, assets, extra):
                        break
            if not stage.ok:
                break
        else:
            if tick:
                self.automation_tick()
                self.time_asset_pages([a for step in info["steps"] for a in step["assets"]])
        runs = [run_id for s in self.stages for run_id in s.run_ids]
        figures = self.probe("runs", runs) if runs else {}
        for stage in self.stages:
            ours = [figures[r] for r in stage.run_ids if r in figures]
            if ours:
                stage.work_s = sum(f["work_s"] for f in ours)
                stage.function_s = sum(f["function_s"] for f in ours)
                stage.events = sum(f["events"] for f in ours)
                types = sum((Counter(f["event_types"]) for f in ours), Counter())
                stage.event_types = dict(types.most_common(6))
                stage.summed = sum((Counter(f["summed"]) for f in ours), Counter())

    def automation_tick(self) -> None:
        """New posts, the catalog again, then one automation evaluation with the cursor of one
        made before the new posts (as the sensor's ticks follow one another)."""
        cursor = self.logs / "automation-cursor.json"
        quiet = self.probe("tick", str(cursor))
        words = Words(random.Random(f"new posts {self.corpus.post_count}"))
        added = replace(self.corpus)
        new_files = add_posts(added, words, NEW_POSTS)
        documents = added.post_count + added.book_count
        megabytes = (added.post_bytes + added.book_bytes) / 1e6
        stage = Stage("catalog again, +new posts", documents, megabytes, fixed_cost_probe=True)
        self.stages.append(stage)
        self.materialize(stage, ["document_catalog"], [])
        after = self.probe("tick", str(cursor))
        self.tick = {"quiet": quiet, "after": after, "new_posts": NEW_POSTS}
        self.add_new_batch(documents, megabytes)
        for path in new_files:
            path.unlink()  # the next revision starts from the same corpus

    def add_new_batch(self, documents: int, megabytes: float) -> None:
        """The new posts' batch through each partitioned asset that has it, then the corpus-wide
        stages again: what a day's new documents cost once the corpus is in."""
        info = self.probe("steps")
        [new_batch] = self.probe("keys", [BLOG_BATCHES])[BLOG_BATCHES][-1:]
        batch = Stage("new batch: per-batch steps", NEW_POSTS, 0.0, partitions=1, later=True)
        self.stages.append(batch)
        for step in info["steps"]:
            if step["partition_set"] in (BLOG_BATCHES, DOCUMENT_BATCHES):
                self.materialize(batch, step["assets"], ["--partition", new_batch])
        again = Stage("again: chunks + dataset", documents, megabytes, later=True)
        self.stages.append(again)
        self.materialize(again, ["text_chunks", "training_dataset"], [])

    def time_asset_pages(self, assets: list[str]) -> None:
        """Start the webserver on the instance and time what each asset's page asks of it,
        once when first opened and once again."""
        with socket.socket() as probe_socket:
            probe_socket.bind(("127.0.0.1", 0))
            port = probe_socket.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "dagster_webserver", "-m", CODE_LOCATION]
        command += ["-h", "127.0.0.1", "-p", str(port)]
        with (self.logs / "webserver.log").open("w") as log:
            server = subprocess.Popen(
                command, cwd=self.code, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                deadline = time.monotonic() + 180
                while not _answers(f"{url}/server_info"):
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the webserver did not start: {self.logs}")
                    time.sleep(0.5)
                for asset in assets:
                    first, again = (_asset_page_seconds(url, asset) for _ in range(2))
                    self.asset_pages[asset] = (first, again)
            finally:
                server.terminate()
                server.wait(60)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


def _asset_page_seconds(url: str, asset: str) -> float:
    body = {"query": ASSET_PAGE_QUERY, "variables": {"key": {"path": [asset]}}}
    request = urllib.request.Request(
        f"{url}/graphql", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.load(response)
    seconds = time.perf_counter() - started
    if answer.get("errors") or "partitionStats" not in (answer["data"]["assetNodeOrError"] or {}):
        raise RuntimeError(f"the page of {asset}: {json.dumps(answer)[:2000]}")
    return seconds


# --------------------------------------------------------------------------- reporting


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(revision: Revision) -> None:
    print(f"\n{revision.label}:")
    print(
        f"  {'step':<28} {'docs':>6} {'parts':>5} {'runs':>4} {'raw MB':>6} {'wall s':>6}"
        f" {'work s':>6} {'fn s':>6} {'ms/doc':>6} {'in-step':>7} {'net':>6} {'events':>6}"
        f" {'DB KB/doc':>9} {'store MB':>8} {'RSS MB':>6}"
    )
    startup = revision.startup_s
    for s in revision.stages:
        per_doc_kb = 1000 * s.db_growth_mb / s.documents if s.documents else None
        print(
            f"  {s.name:<28} {s.documents:>6} {fmt(s.partitions, 'd'):>5} {s.commands:>4}"
            f" {s.raw_mb:>6.1f}"
            f" {s.wall_s:>6.1f} {fmt(s.work_s, '.1f'):>6} {fmt(s.function_s, '.1f'):>6}"
            f" {fmt(s.bookkeeping_ms, '.2f'):>6} {fmt(s.in_step_ms, '.2f'):>7}"
            f" {fmt(s.net_ms(startup), '.2f'):>6} {fmt(s.events, 'd'):>6}"
            f" {fmt(per_doc_kb, '.2f'):>9} {s.store_growth_mb:>8.1f} {s.peak_rss_mb:>6.0f}"
            + ("" if s.ok else "  FAILED")
        )
    print(
        "  work: the run's steps (Dagster's step stats); fn: the steps' functions, until their"
        " first output event;\n  ms/doc = (wall - work) / docs; in-step = (work - fn) / docs;"
        f" net = (wall - fn - runs x {fmt(startup, '.1f')} s) / docs,\n  {fmt(startup, '.1f')} s"
        " being what one command costs whatever its size (the catalogs' wall - fn)"
    )
    if revision.tick:
        t = revision.tick
        print(
            f"  automation tick: {t['quiet']['seconds']:.2f} s with nothing new"
            f" ({t['quiet']['requested']} requested); {t['after']['seconds']:.2f} s after"
            f" {t['new_posts']} new posts ({t['after']['requested']} asset partitions requested)"
        )
    if revision.asset_pages:
        pages = ", ".join(f"{a} {f:.2f}/{g:.2f}" for a, (f, g) in revision.asset_pages.items())
        print(f"  asset pages (s, first/again): {pages}")
    total_wall = sum(s.wall_s for s in revision.stages)
    print(
        f"  whole: {total_wall:.0f} s wall; instance {revision.instance_bytes() / 1e6:.1f} MB,"
        f" artifact store {folder_bytes(revision.store) / 1e6:.1f} MB"
    )
    c = revision.corpus
    set_aside = ", ".join(
        f"{s.name} {key.replace('_', ' ')} {count}"
        for s in revision.stages
        for key, count in s.summed.items()
        if count and key in SET_ASIDE and not s.later
    )
    print(
        f"  set aside: {set_aside or 'nothing'} (planted: {c.bad_files} bad files,"
        f" {c.near_duplicates} near duplicates)"
    )
    shards = "; ".join(
        f"{s.name}: {s.summed['shards']} ({s.summed['shards_reused']} reused)"
        for s in revision.stages
        if s.summed["shards"]
    )
    if shards:
        print(f"  shards chunked: {shards}")
    for s in revision.stages:
        if s.event_types:
            print(f"  events of {s.name}: {s.event_types}")


def significant(a: float | None, b: float | None) -> tuple[float | None, float | None]:
    """Both, or neither where one is within a command's noise (under 1 ms per document)."""
    if a is None or b is None or abs(a) < 1 or abs(b) < 1:
        return None, None
    return a, b


def ratios(current: Revision, baseline: Revision) -> None:
    print(f"\nratios {current.label} / {baseline.label} (below 1: the current code costs less):")
    print(
        f"  {'step':<28} {'wall':>6} {'work':>6} {'fn':>6} {'ms/doc':>6} {'net':>6} {'events':>6}"
        f" {'DB':>6} {'RSS':>6}"
    )
    base = {s.name: s for s in baseline.stages}

    def ratio(a: float | None, b: float | None) -> str:
        return "-" if a is None or not b else f"{a / b:.3f}"

    for s in current.stages:
        b = base.get(s.name)
        if b is None:
            continue
        print(
            f"  {s.name:<28} {ratio(s.wall_s, b.wall_s):>6} {ratio(s.work_s, b.work_s):>6}"
            f" {ratio(s.function_s, b.function_s):>6}"
            f" {ratio(s.bookkeeping_ms, b.bookkeeping_ms):>6}"
            f" {ratio(*significant(s.net_ms(current.startup_s), b.net_ms(baseline.startup_s))):>6}"
            f" {ratio(s.events, b.events):>6}"
            f" {ratio(s.db_growth_mb, b.db_growth_mb):>6} {ratio(s.peak_rss_mb, b.peak_rss_mb):>6}"
        )
    if current.tick and baseline.tick:
        print(
            "  automation tick after new posts: "
            + ratio(current.tick["after"]["seconds"], baseline.tick["after"]["seconds"])
        )


# --------------------------------------------------------------------------- main


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def checkout(rev: str, work: Path) -> tuple[Path, str]:
    """`rev` in a worktree under `work`, with the C extension this checkout built (copied when
    its source is the same, else built in place)."""
    commit = git("rev-parse", "--short", f"{rev}^{{commit}}")
    tree = work / f"code-{commit}"
    git("worktree", "add", "--detach", str(tree), commit)
    for source in (REPO / "llmft_assets").rglob("*.c"):
        relative = source.relative_to(REPO)
        theirs = tree / relative
        built = sorted(source.parent.glob(f"{source.stem}.*.so"))
        if built and theirs.exists() and theirs.read_bytes() == source.read_bytes():
            shutil.copy2(built[0], theirs.parent / built[0].name)
        elif theirs.exists():
            build = [sys.executable, "-c", "import setuptools; setuptools.setup()"]
            subprocess.run([*build, "build_ext", "--inplace"], cwd=tree, check=True)
    return tree, f"{rev} ({commit})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000, help="blog posts (4-8 KB each)")
    parser.add_argument("--books", type=int, default=0, help="books (about 450 KB each)")
    parser.add_argument("--rev", help="measure this revision (default: this working tree)")
    parser.add_argument("--baseline", help="also run this revision, and print ratios")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument(
        "--no-tick", action="store_true", help="skip the automation tick and the asset pages"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="keep each instance in a fresh database on this PostgreSQL server instead of SQLite"
        " (e.g. postgresql://postgres@127.0.0.1:5432)",
    )
    parser.add_argument(
        "--one-asset-a-command",
        action="store_true",
        help="materialize the unpartitioned assets one per command (text_chunks apart from"
        " training_dataset), for each one's own peak RSS",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(*args.probe)
        return

    work = Path(tempfile.mkdtemp(prefix="llmft-scale-"))
    trees: list[Path] = []
    databases: list[Database] = []
    try:
        started = time.perf_counter()
        corpus = write_corpus(work / "corpus", args.posts, args.books, args.seed)
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        print(
            f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores,"
            f" {mem:.0f} GiB, python {platform.python_version()};"
            f" {time.strftime('%Y-%m-%d %H:%M %Z')}; load {os.getloadavg()[0]:.2f}"
        )
        print(
            f"corpus: {corpus.post_count} posts, {corpus.post_bytes / 1e6:.1f} MB"
            f" ({corpus.near_duplicates} near duplicates, {corpus.bad_files} bad files);"
            f" {corpus.book_count} books, {corpus.book_bytes / 1e6:.1f} MB"
            f" (written in {time.perf_counter() - started:.0f} s to {work})"
        )
        revisions: list[Revision] = []
        for rev, label in ((args.baseline, "baseline"), (args.rev, "current")):
            if label == "baseline" and not rev:
                continue
            if rev:
                code, name = checkout(rev, work)
                trees.append(code)
            else:
                code, name = REPO, f"working tree ({git('describe', '--always', '--dirty')})"
            database = None
            if args.postgres:
                database = Database(args.postgres, f"llmft_scale_{label}_{os.getpid()}")
                databases.append(database)
            revision = Revision(f"{label}: {name}", code, corpus, work / label, database)
            print(f"\n{revision.label}", flush=True)
            revision.run(tick=not args.no_tick, one_asset_a_command=args.one_asset_a_command)
            revisions.append(revision)
        for revision in revisions:
            report(revision)
        if len(revisions) == 2:
            ratios(revisions[1], revisions[0])
        print(
            f"\nthe whole benchmark took {time.perf_counter() - started:.0f} s;"
            f" load {os.getloadavg()[0]:.2f} at the end"
        )
        failed = [r.label for r in revisions if not all(s.ok for s in r.stages)]
        if failed:
            print(f"FAILED steps in: {'; '.join(failed)}", file=sys.stderr)
            sys.exit(1)
    finally:
        for database in databases:
            database.drop()
        for tree in trees:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
