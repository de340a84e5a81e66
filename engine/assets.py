"""What a document may read while it is made into a PDF: `data:` URLs and files inside the
pack's own `assets/` folder, nothing else.

WeasyPrint's default fetcher reads any URL it is given, so a template could embed a local file
(`<link rel="attachment" href="file:///.../qbo-tokens.json">` would carry the refresh token
inside the PDF) or call out to the network. Rendering uses `AssetPolicy` as its fetcher; every
refused URL is kept and reported. `validate` reports the same references in templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

ASSETS = "assets"
# URLs in HTML attributes and CSS: src, href, srcset, data, poster, url(...), @import.
_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|srcset|data|poster|background)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
    r"""(?P<url>[^"'\s)>]+)""",
    re.I,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def refusal(url: str, root: Path) -> str:
    """Why `url` may not be read by a document of the pack at `root`; "" when it may."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "data":
        return ""
    if scheme and scheme != "file":
        return f"{scheme}: URLs are not fetched (documents read nothing from the network)"
    if not scheme and url.startswith("//"):
        return "network URLs are not fetched"
    path = Path(url2pathname(unquote(urlsplit(url).path))) if scheme else root / unquote(url)
    assets = (root / ASSETS).resolve()
    if not path.resolve().is_relative_to(assets):
        return f"only files inside the pack's {ASSETS}/ folder may be read"
    return ""


def references(source: str) -> list[tuple[int, str, str]]:
    """(line, url, why) for every reference in a template that rendering would refuse.
    Templated URLs (`{{ ... }}`) and links only followed by a reader (`<a href>`) are left
    alone: what matters is what the renderer itself reads."""
    found = []
    for match in _REFERENCE.finditer(source):
        url = match.group("url")
        if "{{" in url or "{%" in url or url.startswith("#"):
            continue
        if _is_plain_link(source, match.start()):
            continue
        why = refusal(url, Path("/pack")) if _SCHEME.match(url) or url.startswith("/") else ""
        if not why and not _SCHEME.match(url):
            inside = Path(url).parts[:1] == (ASSETS,) and ".." not in Path(url).parts
            why = "" if inside else f"only files inside the pack's {ASSETS}/ folder may be read"
        if why:
            found.append((source.count("\n", 0, match.start()) + 1, url, why))
    return found


def _is_plain_link(source: str, at: int) -> bool:
    """True for the href of an `<a>` without rel=attachment: a link the reader may follow,
    which the renderer never fetches."""
    tag_start = source.rfind("<", 0, at)
    tag = source[tag_start : source.find(">", at) + 1]
    return bool(re.match(r"<a\b", tag, re.I)) and not re.search(r"rel\s*=\s*[\"']?attachment", tag)


@dataclass
class AssetPolicy:
    """The fetcher WeasyPrint is given; `refused` lists what a document tried to read."""

    root: Path
    refused: list[str] = field(default_factory=list)

    def check(self, url: str) -> None:
        why = refusal(url, self.root)
        if why:
            shown = url if len(url) <= 80 else url[:77] + "..."
            self.refused.append(f"{shown}: {why}")
            raise PermissionError(why)


__all__ = ["ASSETS", "AssetPolicy", "references", "refusal"]
