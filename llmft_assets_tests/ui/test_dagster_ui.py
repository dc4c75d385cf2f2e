"""The Dagster UI end to end: `dagster dev` serving this code location, driven in Chromium.

One `dagster dev` (webserver, daemon and code server, as with `make ui`) serves the test
module from a temporary DAGSTER_HOME, with two sample posts and one short book as its sources.
The tests use the UI as a person would: the global asset lineage with its groups expanded,
then an asset's Materialize button, the run's page until it succeeds, and the asset's page.

The browser is Debian's Chromium (`make system-deps` installs it); Playwright's own browser
downloads are not used. The lineage screenshot is always written under pytest's temporary
folder; to refresh the one in the docs, name it in LLMFT_UI_SCREENSHOT:

    LLMFT_UI_SCREENSHOT=docs/dagster-ui-asset-graph.png .venv/bin/pytest llmft_assets_tests/ui
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from llmft_assets.sources.blog import BLOG_POSTS
from llmft_assets.sources.gutenberg import GUTENBERG_BOOKS
from llmft_assets.sources.naming import document_id
from llmft_assets_tests.conftest import free_port
from llmft_assets_tests.deployment import ALL_ASSETS, copy_samples

pytestmark = pytest.mark.slow  # a browser against dagster dev

REPO_ROOT = Path(__file__).resolve().parents[2]
DAGSTER = Path(sys.executable).with_name("dagster")
CHROMIUM = Path("/usr/bin/chromium")
# Headless, as root, on a machine whose network is closed: no sandbox, no GPU, and none of
# Chromium's own background connections (they are refused, many at a time).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
# The "Join the Dagster community" dialog, shown once per browser on localhost, dismissed the
# way its Skip button records it.
DISMISS_COMMUNITY_NUX = "window.localStorage.setItem('communityNux', JSON.stringify('1'))"

POSTS = ["kimball-is-not-dead.html", "parquet-is-not-magic.html"]
BOOKS = ["a-short-sermon_no-markers.txt"]
POST_IDS = [document_id(BLOG_POSTS.name, Path(name).stem) for name in POSTS]
BOOK_IDS = [document_id(GUTENBERG_BOOKS.name, Path(name).stem) for name in BOOKS]

# Deployment settings that would take precedence over the temporary folders.
OUTSIDE_SETTINGS = (
    "LLMFT_S3_BUCKET",
    "LLMFT_S3_ENDPOINT_URL",
    "LLMFT_BLOG_S3_PREFIX",
    "LLMFT_BLOG_URLS",
    "LLMFT_GUTENDEX_URL",
    "LLMFT_NOTES_FOLDER",
)

SERVER_START_TIMEOUT_S = 120
SERVER_STOP_TIMEOUT_S = 30
RUN_TIMEOUT_S = 90
UI_TIMEOUT_MS = 30_000


@dataclass
class DagsterDev:
    url: str
    home: Path
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright; missing, it fails the tests (never skips them)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the Dagster UI tests drive Debian's Chromium."
            " Install it with `make system-deps` (apt-get install chromium).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    """`dagster dev` on a free port, in its own process group, until the module is done."""
    root = tmp_path_factory.mktemp("dagster_dev")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LLMFT_DATA_DIR": str(root / "data"),
        "LLMFT_BLOG_FOLDER": str(copy_samples(root / "posts", "blog_posts", POSTS)),
        "LLMFT_BOOKS_FOLDER": str(copy_samples(root / "books", "gutenberg", BOOKS)),
        "DAGSTER_DISABLE_TELEMETRY": "1",  # nothing to upload from a test
    }
    for name in OUTSIDE_SETTINGS:
        env.pop(name, None)
    port = free_port()
    server = DagsterDev(f"http://127.0.0.1:{port}", home, root / "dagster-dev.log")
    command = [str(DAGSTER), "dev", "-m", "llmft_assets.definitions"]
    with server.log.open("wb") as log:
        process = subprocess.Popen(
            [*command, "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(process, server)
        yield server
    finally:
        _stop_process_group(process)


def _wait_until_serving(process: subprocess.Popen, server: DagsterDev) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"dagster dev exited with code {process.returncode} before serving;"
                f" its output ({server.log}):\n{server.log_tail()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"dagster dev did not answer {server.url}/server_info within {SERVER_START_TIMEOUT_S} s;"
        f" its output ({server.log}):\n{server.log_tail()}",
        pytrace=False,
    )


def _stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to the group (dagster dev then stops its services), SIGKILL what is left."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=SERVER_STOP_TIMEOUT_S)
    # The code servers and any run still going belong to the group and outlive the leader.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _group_alive(process.pid):
        time.sleep(0.2)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def page(browser: Browser, dagster_dev: DagsterDev) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, base_url=dagster_dev.url)
    context.add_init_script(DISMISS_COMMUNITY_NUX)
    context.set_default_timeout(UI_TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


@contextmanager
def explained(page: Page, server: DagsterDev, name: str) -> Iterator[None]:
    """On failure: the page's URL, a screenshot of it, and the end of dagster dev's output."""
    try:
        yield
    except Exception as error:
        shot = server.log.parent / f"failure-{name}.png"
        with suppress(Exception):
            page.screenshot(path=shot)
        raise AssertionError(
            f"{error}\n\nat {page.url} (screenshot: {shot})\n"
            f"dagster dev output ({server.log}):\n{server.log_tail()}"
        ) from error


def test_asset_lineage_shows_every_asset(
    page: Page, dagster_dev: DagsterDev, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with explained(page, dagster_dev, "lineage"):
        page.goto("/asset-groups")
        # The global lineage opens with each group collapsed to a box: expand them all from
        # the graph's settings menu (unless that is already how it opened).
        page.get_by_role("button", name="settings", exact=True).click(timeout=60_000)
        toggle = page.get_by_role("menuitem", name=re.compile(r"(Expand|Collapse) all groups"))
        if toggle.inner_text().startswith("Expand"):
            toggle.click()
        else:
            page.keyboard.press("Escape")
        names = [page.get_by_text(name, exact=True) for name in ALL_ASSETS]
        for name in names:
            expect(name).to_be_visible(timeout=UI_TIMEOUT_MS)

        # Room for the graph: hide the navigation and the group sidebar, then double-click
        # the empty background below the graph, which zooms it to fit.
        page.get_by_role("button", name="Hide navigation").click()
        page.get_by_role("button", name="panel_show_right").click()
        page.mouse.dblclick(VIEWPORT["width"] / 2, VIEWPORT["height"] - 15)
        _wait_until_still(names[-1])
        for name in names:
            expect(name).to_be_in_viewport(timeout=UI_TIMEOUT_MS)

        shot = tmp_path_factory.mktemp("screenshots") / "dagster-ui-asset-graph.png"
        page.screenshot(path=shot)
    if os.environ.get("LLMFT_UI_SCREENSHOT"):
        target = REPO_ROOT / os.environ["LLMFT_UI_SCREENSHOT"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target)


def _wait_until_still(locator: Locator, timeout_s: float = 10) -> None:
    """Until the element stops moving (the zoom to fit is animated)."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        box = locator.bounding_box()
        if box is not None and box == last:
            return
        last = box
        time.sleep(0.25)
    raise AssertionError(f"{locator} kept moving for {timeout_s} s")


def test_materialize_document_catalog_from_its_page(page: Page, dagster_dev: DagsterDev) -> None:
    with explained(page, dagster_dev, "materialize"):
        page.goto("/assets/document_catalog")
        page.locator("button", has_text=re.compile(r"^Materialize$")).click(timeout=60_000)
        launched = page.get_by_text(re.compile(r"^Launched run"))
        dialog = page.get_by_role("dialog")
        expect(launched.or_(dialog)).to_be_visible(timeout=UI_TIMEOUT_MS)
        if dialog.is_visible():  # a confirmation, in case the UI asks for one
            confirm = dialog.get_by_role("button", name=re.compile(r"^(Materialize|Launch)"))
            confirm.first.click()
        view_run = page.locator("a[href^='/runs/']", has_text=re.compile(r"^View$"))
        run_id = view_run.get_attribute("href").rsplit("/", 1)[-1]
        view_run.click()
        page.wait_for_url(f"**/runs/{run_id}")
        status = _final_run_status(page)
        assert status == "Success", f"run {run_id} ended with {status}"

        # The asset's page shows the new materialization: the catalog of the three documents.
        page.goto("/assets/document_catalog")
        for doc_id in POST_IDS + BOOK_IDS:
            expect(page.get_by_text(doc_id, exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)

    with dg.DagsterInstance.from_config(str(dagster_dev.home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("document_catalog"))
        assert event is not None, "no materialization of document_catalog in the instance"
        assert event.run_id == run_id
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        # One dynamic partition per batch of documents, registered by the asset.
        batches = ["blog-batch-00000", "gutenberg-batch-00000"]
        assert instance.get_dynamic_partitions("document_batches") == batches
        assert instance.get_dynamic_partitions("blog_post_batches") == batches[:1]
        assert instance.get_dynamic_partitions("gutenberg_book_batches") == batches[1:]


def _final_run_status(page: Page) -> str:
    """The run page's status once the run has ended, reloading it now and then."""
    ended = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$"))
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        try:
            ended.first.wait_for(timeout=5_000)
            return ended.first.inner_text()
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise AssertionError(f"the run did not end within {RUN_TIMEOUT_S} s") from None
            page.reload()
