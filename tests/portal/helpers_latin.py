"""Find English left on a page meant for a Chinese reader: words of three or more Latin letters a person would read.

Read: text nodes, and the `title`, `placeholder`, `aria-label` and `alt` attributes and the values of submit,
button and reset inputs. Not read: `<script>`, `<style>`, `<code>`, `<kbd>`, `<samp>`, anything marked
`translate="no"` (HTML's own marker for text that must not be translated: codes, machine words), and tokens
that are references or codes: with a digit or an underscore in them (numbers, HR-3F2A…, rk_…, unknown_number,
recycled_numbers.batch), masked values (a password hash's salt, abc1****), URLs and e-mail addresses.
A word in the allow-list file (brands, codes, units) is allowed anywhere.
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ALLOWLIST_FILE = Path(__file__).with_name("latin_allowlist.txt")
WORD = re.compile(r"[A-Za-z]{3,}")
SKIPPED_TAGS = {"script", "style", "code", "kbd", "samp", "template"}
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
BUTTON_TYPES = {"submit", "button", "reset"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track",
        "wbr"}
_TOKEN = re.compile(r"\S+")


def allowlist() -> set[str]:
    words = set()
    for line in ALLOWLIST_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            words.add(line)
    return words


@dataclass(frozen=True)
class Finding:
    word: str
    where: str  # "text" or the attribute's name
    context: str


def latin_words(text: str, allowed: set[str]) -> list[str]:
    found = []
    for token in _TOKEN.findall(text):
        if any(ch.isdigit() or ch in "_*@" for ch in token) or "://" in token:
            continue
        found += [w for w in WORD.findall(token) if w not in allowed]
    return found


class _Reader(HTMLParser):
    def __init__(self, allowed: set[str]):
        super().__init__(convert_charrefs=True)
        self.allowed = allowed
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped)
        self.findings: list[Finding] = []

    @property
    def skipping(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def _read(self, text: str, where: str) -> None:
        for word in latin_words(text, self.allowed):
            self.findings.append(Finding(word, where, " ".join(text.split())[:120]))

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skipped = self.skipping or tag in SKIPPED_TAGS or attributes.get("translate") == "no"
        if not skipped:
            for name in READ_ATTRIBUTES:
                if attributes.get(name):
                    self._read(attributes[name], name)
            if tag == "input" and (attributes.get("type") or "").lower() in BUTTON_TYPES and attributes.get("value"):
                self._read(attributes["value"], "button value")
        if tag not in VOID:
            self.stack.append((tag, skipped))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self._read(data, "text")


def english_on_page(html: str, allowed: set[str]) -> list[Finding]:
    reader = _Reader(allowed)
    reader.feed(html)
    reader.close()
    return reader.findings
