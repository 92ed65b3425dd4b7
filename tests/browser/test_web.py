"""The web app in headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against the
local cloud's real gateway: Cognito sign-in, the JWT check, the api function, moto's S3.

One cloud and one browser for the module; each role gets its own browser context (its own
sessionStorage). The tests run in order: the merchant's upload feeds the board, the review desk
and the failure report. Each page's screenshot is written to out/screenshots/web-*.png
(docs/img/ with SHANGJIA_SCREENSHOTS=docs).
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import pytest

from shangjia.pipeline.products import get_product
from shangjia.localcloud import LocalCloud
from shangjia.localcloud.demo import DEMO_CLOCK, make_image

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("browser")]

CHROMIUM = Path("/usr/bin/chromium")
# What Chromium needs here (docs/web.md): no sandbox as root, no GPU, and no background traffic to
# Google's hosts, which this machine's closed network refuses. Playwright gives each launch a
# fresh, empty profile (its own --user-data-dir).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
# docs/img when asked (SHANGJIA_SCREENSHOTS=docs: refresh the documentation's pictures); otherwise
# out/screenshots, so that a test run leaves the tracked files as they were
IMG = Path(__file__).resolve().parents[2] / ("docs/img" if os.environ.get("SHANGJIA_SCREENSHOTS") == "docs"
                                             else "out/screenshots")
PASSWORD = "Browser-Test-2026!"
MERCHANT, OTHER = "mweb-001", "mweb-002"
HOSTILE = '<img src=x onerror="window.__pwned=1">防泼水冲锋衣 <b>加厚</b>'
WAIT_MS = 90_000            # ceilings for conditions, never expectations of speed

USERS = [("shop1", "merchant", MERCHANT), ("shop2", "merchant", OTHER), ("editor1", "editor", None),
         ("reviewer1", "reviewer", None), ("ops1", "ops", None)]


@pytest.fixture(scope="module")
def cloud():
    with LocalCloud(clock=DEMO_CLOCK, visibility_timeout_s=1) as c:
        from shangjia.pipeline.config import set_setting
        from shangjia.pipeline.deps import aws_deps

        from shangjia.pipeline.merchants import put_merchant

        deps = aws_deps()
        set_setting(deps.store, "audit_sample_rate", 0)
        for merchant in (MERCHANT, OTHER):          # ordinary (not VIP) merchants: every product is reviewed
            put_merchant(deps.store, merchant, name=f"网页测试 {merchant}", annual_sales_cny=300_000, channels=["own_shop"])
        for name, role, merchant in USERS:          # as `shangjia users add NAME --role R [--merchant M]`
            c.add_user(name, role, merchant, PASSWORD)
        ops = c.sign_in("ops1", PASSWORD)["id_token"]
        status, _ = c.api("PUT", "/api/editors/editor1/merchants", token=ops, body={"merchants": [MERCHANT]})
        assert status == 200
        yield c


@pytest.fixture(scope="module")
def deps(cloud):
    from shangjia.pipeline.deps import aws_deps

    return aws_deps()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: `make browser-deps` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Session:
    """One person's browser tab, signed in through the sign-in page."""

    def __init__(self, browser, cloud, username: str | None):
        self.cloud = cloud
        self.context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN",
                                           accept_downloads=True)
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(cloud.gateway.url + "/")
        self.page.wait_for_selector("#signin")
        if username:
            self.sign_in(username)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.page.fill("#username", username)
        self.page.fill("#password", password)
        self.page.click("#signin-submit")
        self.page.wait_for_selector("#who")

    def go(self, page_id: str) -> None:
        """Navigate once the app has settled on its home page after sign-in (else its own redirect
        to home could land after ours)."""
        self.page.wait_for_function("() => /^#\\/[a-z]+/.test(location.hash) && location.hash !== '#/signin'")
        self.page.evaluate("id => { location.hash = '#/' + id; }", page_id)
        self.page.wait_for_function("id => location.hash === '#/' + id", arg=page_id)

    def nav(self) -> list[str]:
        return self.page.eval_on_selector_all("nav a[data-page]", "els => els.map(e => e.dataset.page)")

    def fetch(self, path: str, method: str = "GET") -> int:
        """The page's own token on a raw API call (what a curious user could try from the console)."""
        return self.page.evaluate("""async ([path, method]) => {
            const r = await fetch(path, {method, headers: {Authorization: 'Bearer ' + sessionStorage.getItem('sj.id_token')}});
            return r.status; }""", [path, method])

    def shot(self, name: str) -> Path:
        IMG.mkdir(parents=True, exist_ok=True)
        path = IMG / name
        self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        assert not self.errors, f"uncaught errors in the page: {self.errors}"
        self.context.close()


@pytest.fixture
def session(browser, cloud):
    opened: list[Session] = []

    def open_(username: str | None) -> Session:
        s = Session(browser, cloud, username)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        try:        # what the page showed, for a failing test's report (pytest prints captured output)
            print(f"--- page at {s.page.url}:\n{s.page.inner_text('body')[:3000]}")
        except Exception:  # noqa: BLE001 - the page may be gone
            pass
        s.close()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A 4-product sheet (one invalid: a bad barcode check digit; one with a hostile title) and its
    20 images, as a merchant has them on disk."""
    import openpyxl

    from shangjia.sheets.samples import write_sample_workbook

    folder = tmp_path_factory.mktemp("upload")
    sheet = folder / "春季新品.xlsx"
    images = write_sample_workbook(sheet, 4, seed=3, invalid_ratio=0.3)
    wb = openpyxl.load_workbook(sheet)
    ws = wb.active
    spus = sorted({r[0].value for r in ws.iter_rows(min_row=2) if r[0].value})
    for row in ws.iter_rows(min_row=2):
        if row[0].value == spus[0] and row[1].value:
            row[1].value = HOSTILE
    wb.save(sheet)
    rng = random.Random(3)
    for name in images:
        (folder / name).write_bytes(make_image(name, rng, size=800))
    return {"sheet": sheet, "images": [folder / n for n in images], "spus": spus, "invalid": spus[3],
            "hostile": spus[0]}


def status_of(deps, spu: str) -> str | None:

    item = get_product(deps, MERCHANT, spu)
    return item.get("status") if item else None


def wait_for(cloud, predicate, what: str, timeout_s: float = 120) -> None:
    assert cloud.wait_until(predicate, timeout_s=timeout_s, interval_s=0.5), f"timed out waiting for {what}"


# --- sign-in ---------------------------------------------------------------------------------------

def test_sign_in_page_in_chinese_refuses_a_wrong_password_and_switches_to_english(session):
    s = session(None)
    page = s.page
    assert page.text_content("h1") == "登录上架平台"
    assert page.get_attribute("html", "lang") == "zh-CN"
    s.shot("web-signin.png")
    page.fill("#username", "shop1")
    page.fill("#password", "not-the-password-1A!")
    page.click("#signin-submit")
    page.wait_for_function("() => document.querySelector('#signin-error').textContent.length > 0")
    assert "不正确" in page.text_content("#signin-error")
    assert page.evaluate("sessionStorage.getItem('sj.id_token')") is None
    # one dictionary per language, the same keys in both
    missing = page.evaluate("""async () => {
        const { DICTS } = await import('./js/i18n.js');
        const zh = Object.keys(DICTS.zh), en = Object.keys(DICTS.en);
        return [zh.filter(k => !(k in DICTS.en)), en.filter(k => !(k in DICTS.zh))]; }""")
    assert missing == [[], []]
    page.click("#lang")
    page.wait_for_function("() => document.querySelector('h1').textContent === 'Sign in to Shangjia'")
    assert page.text_content("#signin-submit") == "Sign in"


def test_an_expired_or_forged_token_sends_the_user_back_to_sign_in(session):
    s = session("shop1")
    s.page.evaluate("sessionStorage.setItem('sj.id_token', 'eyJhbGciOiJIUzI1NiJ9.e30.forged')")
    s.page.reload()
    s.page.wait_for_selector("#signin")
    assert s.page.evaluate("sessionStorage.getItem('sj.id_token')") is None


# --- merchant --------------------------------------------------------------------------------------

def test_merchant_sees_only_the_portal_and_the_api_refuses_staff_routes(session):
    s = session("shop1")
    assert s.nav() == ["portal"]
    assert "商家" in s.page.text_content("#who")
    s.go("board")
    s.page.wait_for_selector("#forbidden")
    s.go("review")
    s.page.wait_for_selector("#forbidden")
    assert s.fetch("/api/board") == 403
    assert s.fetch("/api/review/tasks") == 403
    assert s.fetch("/api/failures/weekly") == 403
    assert s.fetch("/api/ops/dlq") == 403
    assert s.fetch("/api/batches") == 200


def test_merchant_uploads_a_sheet_with_its_images_and_downloads_the_report(session, sample, cloud, deps):
    s = session("shop1")
    page = s.page
    page.wait_for_selector("#drop")
    # a drop of the sheet alone first shows it in the list (the drop zone's own handler) ...
    page.evaluate("""async () => {
        const dt = new DataTransfer();
        dt.items.add(new File(['x'], 'dropped.csv', {type: 'text/csv'}));
        document.querySelector('#drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""")
    page.wait_for_selector("#files li:has-text('dropped.csv')")
    page.click("text=清空")
    # ... the real upload: the sheet and its images through the file picker
    page.set_input_files("#file-input", [str(sample["sheet"]), *map(str, sample["images"])])
    assert page.locator("#files li").count() == 1 + len(sample["images"])
    page.click("#upload-start")
    page.wait_for_function("n => document.querySelectorAll('#files li.done').length === n", arg=1 + len(sample["images"]),
                           timeout=WAIT_MS)
    assert page.locator("#files li.failed").count() == 0
    # the batch appears (polled) and its products move through the stages
    page.wait_for_selector("#batch-table tr[data-batch]", timeout=WAIT_MS)
    assert "春季新品.xlsx" in page.text_content("#batch-table")
    wait_for(cloud, lambda: status_of(deps, sample["invalid"]) == "needs_fix", "the invalid product to need a fix")
    wait_for(cloud, lambda: all(status_of(deps, spu) == "in_review" for spu in sample["spus"][:3]),
             "the valid products to reach review")
    page.click("#batch-table tr[data-batch] button")
    page.wait_for_selector("#errors-table", timeout=WAIT_MS)
    errors = page.text_content("#errors-table")
    assert "BARCODE_CHECK_DIGIT" in errors and sample["invalid"] in errors
    page.wait_for_selector("#report-download:not([disabled])", timeout=WAIT_MS)
    page.wait_for_function("() => document.querySelector('#batch-table .stagebar').children.length > 0")
    s.shot("web-merchant.png")
    with page.expect_download(timeout=WAIT_MS) as dl:
        page.click("#report-download")
    import io

    import openpyxl

    assert dl.value.suggested_filename.endswith(".xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes()), read_only=True)
    text = " ".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c)
    assert "BARCODE_CHECK_DIGIT" in text or "条形码" in text
    # the hostile title is shown as text, never run
    assert page.evaluate("window.__pwned") is None


def test_another_merchant_cannot_see_the_batch(session, cloud):
    s = session("shop2")
    s.page.wait_for_selector("#batches .empty")
    batches = cloud.api("GET", "/api/batches", token=cloud.sign_in("shop1", PASSWORD)["id_token"])[1]["items"]
    batch_id = batches[0]["batch_id"]
    assert s.fetch(f"/api/batches/{batch_id}") == 404
    assert s.fetch(f"/api/batches/{batch_id}/report") == 404


# --- staff -----------------------------------------------------------------------------------------

def test_ops_sees_every_page_and_the_board_shows_the_batch(session, sample):
    s = session("ops1")
    assert s.nav() == ["portal", "board", "review", "failures", "ops"]
    s.go("board")
    page = s.page
    page.wait_for_selector("#board section[data-column='pre_review'] .kcard", timeout=WAIT_MS)
    columns = page.eval_on_selector_all("#board section[data-column]", "els => els.map(e => e.dataset.column)")
    assert columns == ["uploaded", "validating", "needs_fix", "pre_review", "final_review", "scheduled",
                       "publishing", "published", "failed"]
    page.wait_for_selector(f"#board section[data-column='needs_fix'] .kcard:has-text('{sample['invalid']}')")
    assert HOSTILE in page.text_content("#board section[data-column='pre_review']")     # as text
    assert page.evaluate("window.__pwned") is None
    # a filter by another merchant empties the board; the real merchant fills it again
    page.fill("#filter-merchant_id", OTHER)
    page.press("#filter-merchant_id", "Enter")
    page.wait_for_function("() => document.querySelectorAll('#board .kcard').length === 0")
    page.fill("#filter-merchant_id", MERCHANT)
    page.press("#filter-merchant_id", "Enter")
    page.wait_for_selector("#board .kcard")
    s.shot("web-kanban.png")
    s.go("ops")
    page.wait_for_selector("#dlq table")
    page.wait_for_selector("#setting-audit_sample_rate")
    s.shot("web-ops.png")


def test_editor_sees_the_board_but_not_the_review_desk(session):
    s = session("editor1")
    assert s.nav() == ["portal", "board", "failures"]
    s.go("review")
    s.page.wait_for_selector("#forbidden")
    assert s.fetch("/api/review/tasks") == 403
    assert s.fetch("/api/ops/dlq") == 403
    assert s.fetch("/api/board") == 200


def test_reviewer_moves_a_product_through_both_stages_with_the_keyboard(session, sample, cloud, deps):
    s = session("reviewer1")
    page = s.page
    assert s.nav() == ["board", "review", "failures"]
    assert s.fetch("/api/ops/dlq") == 403
    s.go("review")
    approve, reject = sample["hostile"], sample["spus"][1]

    def pick(spu: str) -> None:
        page.wait_for_selector(f"#queue li[data-task]:has-text('{spu}')", timeout=WAIT_MS)
        page.click(f"#queue li[data-task]:has-text('{spu}')")
        page.wait_for_selector("#task-title")

    # pre-review: claim with c, approve with a
    pick(approve)
    assert page.text_content("#task-title") == HOSTILE
    page.keyboard.press("c")
    page.wait_for_selector("#queue li.current:has-text('已由我认领')")
    page.keyboard.press("?")
    page.wait_for_selector("#help:not([hidden])")
    page.keyboard.press("Escape")
    s.shot("web-review.png")
    page.keyboard.press("a")
    wait_for(cloud, lambda: any(t.get("spu_code") == approve for t in _tasks(cloud, "final")), "the final-review task")
    # pre-review: reject the next one with r, a reason by its number, Enter
    pick(reject)
    page.keyboard.press("r")
    page.wait_for_selector("#reject-dialog:not([hidden])")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_for(cloud, lambda: status_of(deps, reject) == "needs_fix", "the rejected product to need a fix")
    # final review: the same product, approved
    page.click("#tab-final")
    pick(approve)
    page.wait_for_selector("#preview-mobile, .frames .empty")
    page.keyboard.press("a")
    wait_for(cloud, lambda: status_of(deps, approve) in ("approved", "scheduled", "publishing", "published"),
             "the approved product to leave review")
    assert page.evaluate("window.__pwned") is None


def _tasks(cloud, stage: str) -> list[dict]:
    token = cloud.sign_in("ops1", PASSWORD)["id_token"]
    return cloud.api("GET", "/api/review/tasks", token=token, query={"stage": stage})[1]["tasks"]


def test_failures_page_shows_an_empty_state_then_the_weekly_report(session, cloud, deps, sample):
    from shangjia.pipeline.failures import week_of, write_weekly

    s = session("ops1")
    page = s.page
    # no report at all: the page's empty state (the API's own 404, answered here for this one call)
    page.route("**/api/failures/weekly*", lambda route: route.fulfill(
        status=404, content_type="application/json",
        body='{"code":"API_NOT_FOUND","message":"Not found","message_zh":"找不到该对象"}'))
    s.go("failures")
    page.wait_for_selector("#failures-empty")
    page.unroute("**/api/failures/weekly*")
    # this week's report, as the Monday schedule writes it (the week the failures fell in)
    write_weekly(deps, week_of(deps.clock.now()))
    s.go("board")
    s.go("failures")
    page.wait_for_selector("#chart-code svg rect.bar", timeout=WAIT_MS)
    assert re.search(r"BARCODE_CHECK_DIGIT", page.text_content("#chart-code"))
    assert int(page.text_content("#failures-total")) >= 2
    for chart in ("trend", "code", "category", "merchant", "channel"):
        assert page.locator(f"#chart-{chart} svg").count() == 1
    s.shot("web-failures.png")
