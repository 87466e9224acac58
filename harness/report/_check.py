"""The surface check: every number in a rendered paper or page comes from a claim reference, and every cited
claim shows its current status (a stale or failing claim never reads as a plain number).

Marked spans (written by ``_render``): ``<!--c:ID:STATUS-->...<!--/c-->`` a claim field with its badge;
``<!--d:ID-->...<!--/d-->`` item-level values from that claim's rows (only on a page that also cites the
claim); ``<!--n-->...<!--/n-->`` a number the template states on purpose (``lit``); ``<!--src-->...<!--/src-->``
a verbatim claim file or provenance block. Any other number is an error.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import ClassVar

from harness.report._bundle import Bundle

_WORD = re.compile(r"[\w.+\-%]+")
_NUMBER = re.compile(r"[+\-]?\d+(?:\.\d+)?%?")
_CITE = re.compile(r"<!--c:([^:>]+):([A-Z_]+)-->(.*?)<!--/c-->", re.S)
_DATA = re.compile(r"<!--d:([^>]+)-->(.*?)<!--/d-->", re.S)
_ALLOWED = re.compile(r"<!--(n|src)-->.*?<!--/\1-->", re.S)
_OPEN = re.compile(r"<!--(c:[^>]*|d:[^>]*|n|src)-->")


def numbers_in(text: str) -> list[str]:
    """Number tokens of a text; digits inside names (gemma3, 270M, 3v1, Gemma-3-4B-IT) are not numbers."""
    out = []
    for word in _WORD.findall(text):
        word = word.strip(".")
        if _NUMBER.fullmatch(word):
            out.append(word)
    return out


class _Surface(HTMLParser):
    """Visible text of an HTML page, keeping comments (the markers); script, style and svg are dropped."""

    _HIDDEN: ClassVar[set[str]] = {"script", "style", "svg"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in ("p", "div", "tr", "li", "br", "h1", "h2", "h3", "table", "pre"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.parts.append(f"<!--{data}-->")


def html_surface(html: str) -> str:
    """What a reader of the page sees (plus the marker comments)."""
    parser = _Surface()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _blank(m: re.Match[str]) -> str:
    """A span replaced by spaces, keeping its newlines (line numbers stay right)."""
    return re.sub(r"[^\n]", " ", m.group(0))


def check_surface(text: str, bundle: Bundle, where: str) -> list[str]:
    """Problems of one rendered surface (Markdown, or an HTML page's ``html_surface``); empty when clean."""
    from harness.report._render import claim_numbers, marker

    problems: list[str] = []
    cited: set[str] = set()
    allowed_cache: dict[str, set[str]] = {}
    for m in _CITE.finditer(text):
        cid, status, body = m.group(1), m.group(2), m.group(3)
        at = f"{where}:{_line(text, m.start())}"
        entry = bundle.entries.get(cid)
        if entry is None:
            problems.append(f"{at}: cites claim {cid!r}, which has no claim file or result")
            continue
        cited.add(cid)
        if status != marker(entry.status):
            problems.append(f"{at}: claim {cid} is cited as {status.replace('_', ' ')} but is now {entry.status}. "
                            "Fix: render the report again.")
        if entry.status not in body.replace("_", " "):
            problems.append(f"{at}: claim {cid} is {entry.status} but the citation does not say so: {body!r}")
        allowed = allowed_cache.setdefault(cid, claim_numbers(entry))
        stray = [x for x in numbers_in(_ALLOWED.sub(" ", body)) if x not in allowed]
        if stray:
            problems.append(f"{at}: number(s) {', '.join(stray)} inside the citation of {cid} are not values of "
                            "that claim (edited by hand?)")
    for m in _DATA.finditer(text):
        if m.group(1) not in bundle.entries or m.group(1) not in cited:
            problems.append(f"{where}:{_line(text, m.start())}: item values of claim {m.group(1)!r} on a page "
                            "that does not cite the claim with its status")
    rest = text
    for pattern in (_ALLOWED, _CITE, _DATA):
        rest = pattern.sub(_blank, rest)
    for m in _OPEN.finditer(rest):
        problems.append(f"{where}:{_line(rest, m.start())}: marker <!--{m.group(1)}--> is never closed")
    for lineno, line in enumerate(rest.splitlines(), start=1):
        found = numbers_in(line)
        if found:
            problems.append(f"{where}:{lineno}: number(s) {', '.join(found)} without a claim source: "
                            f"{line.strip()[:100]!r}. Fix: cite it with claim(...).<field>, or lit(...) if it "
                            "is not a result")
    return problems
