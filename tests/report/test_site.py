"""The static site: every claim listed with its status, links that resolve, plots, a clean surface check, and
a headless-Chromium check of the served site with a screenshot."""

from __future__ import annotations

import functools
import html
import http.server
import re
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_workspace import STATUS


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value and not value.startswith("data:"):  # inline, nothing to fetch
                self.links.append(value)
            if tag in ("link", "script", "img") and name in ("href", "src") and value and "://" in value:
                self.external.append(value)


def _links(html: str) -> _Links:
    p = _Links()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One synthetic site for the module (plots take a second each on a shared CPU)."""
    from report_workspace import build_workspace

    from harness.report import load_bundle
    from harness.report._site import write_site

    ws = build_workspace(tmp_path_factory.mktemp("ws"))
    bundle = load_bundle(ws.results, ws.claims)
    out = ws.root / "site"
    return bundle, out, write_site(bundle, out, paper="# paper\n")


@pytest.fixture
def site(built):
    return built[1], built[2]


@pytest.fixture
def bundle(built):
    return built[0]


def test_index_lists_every_claim_with_its_status_and_links_resolve(bundle, site):
    out, pages = site
    index = (out / "index.html").read_text()
    rows = dict(re.findall(r'data-claim="([^"]+)" data-status="([^"]+)"', index))
    assert rows == STATUS
    assert len(pages) == 1 + len(STATUS)
    for page in pages:
        found = _links(page.read_text())
        assert found.external == [], f"{page} loads external resources"
        for link in found.links:
            target = (page.parent / urllib.parse.unquote(link.split("#")[0])).resolve()
            assert target.is_file(), f"{page.name}: link {link} does not resolve"


def test_site_pages_pass_the_surface_check(bundle, site):
    from harness.report import check_surface, html_surface

    _, pages = site
    for page in pages:
        assert check_surface(html_surface(page.read_text()), bundle, page.name) == []


def test_claim_pages_show_plots_spec_provenance_and_flip_tables(site):
    out, _ = site
    det = (out / "claims" / "hneuron_detector_auroc.html").read_text()
    dose = (out / "claims" / "hneuron_minus_random_slope.html").read_text()
    for kind in ("roc", "forest", "controls"):
        assert f"../plots/hneuron_detector_auroc-{kind}.png" in det
    assert "../plots/hneuron_minus_random_slope-dose.png" in dose
    assert "envelope (min to max) of the random control sets" in dose
    for name in ("hneuron_detector_auroc-roc.png", "hneuron_minus_random_slope-dose.png"):
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "most confident errors" in det and det.count("<!--d:hneuron_detector_auroc-->") >= 3
    assert "moved most from the no-op" in dose and "pass_rule: {kind: upper_below" in dose
    assert '"spec_hash"' in html.unescape(dose)
    stale = (out / "claims" / "hneuron_scaling_counterfactual_slope.html").read_text()
    assert "spec hash (run, current file)" in stale and "v-stale" in stale


def test_dose_response_band_is_seeded(bundle, tmp_path):
    from harness.report._plots import dose_response

    entry = bundle.entries["hneuron_minus_random_slope"]
    a = dose_response(entry, tmp_path / "a")
    b = dose_response(entry, tmp_path / "b")
    assert a is not None and b is not None
    assert (tmp_path / "a" / a.file).read_bytes() == (tmp_path / "b" / b.file).read_bytes()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest's output readable
        pass


def _chromium() -> str | None:
    return next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)


def _headless(chromium: str, *args: str) -> str:
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--virtual-time-budget=3000", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


@pytest.mark.browser
def test_served_site_in_headless_chromium(bundle, site):
    """`make test` installs chromium first (make browser-deps); skipped only where it is still missing."""
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not found after `make browser-deps` (apt-get install chromium chromium-driver failed)")
    out, pages = site
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        dom = _headless(chromium, "--dump-dom", base + "index.html")
        rows = re.findall(r'<tr class="claim" data-claim="([^"]+)" data-status="([^"]+)"[^>]*>', dom)
        assert dict(rows) == STATUS
        for cid, status in STATUS.items():  # the verdict cell shows the status
            row = re.search(rf'data-claim="{cid}".*?</tr>', dom, re.S)
            assert row and re.search(rf'class="badge v-[a-z-]+">{status}</span>', row.group(0)), cid
        assert f"{len(STATUS)} of {len(STATUS)} claims shown" in dom  # the filter script ran
        filtered = _headless(chromium, "--dump-dom", base + "index.html#status=REFUTED")
        assert "1 of 5 claims shown" in filtered
        assert re.search(r'data-claim="hneuron_detector_auroc"[^>]*hidden', filtered)
        # every link of every page resolves on the server
        for page in pages:
            url = base + page.relative_to(out).as_posix()
            for link in _links(page.read_text()).links:
                target = urllib.parse.urljoin(url, link.split("#")[0])
                with urllib.request.urlopen(target, timeout=10) as resp:
                    assert resp.status == 200, target
        shot = Path(__file__).resolve().parents[2] / "data" / "report" / "screenshot.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        _headless(chromium, f"--screenshot={shot}", "--window-size=1400,900", base + "index.html")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        print(f"screenshot: {shot}")
    finally:
        server.shutdown()
        server.server_close()
