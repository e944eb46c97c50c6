"""Split the manual that README.md used to be into the documentation site's pages.

Used once, when README.md became a short front page (issue 17): each page listed in ``PAGES`` is the text of
one or more sections of the old README, unchanged but for three things: headings raised so that the section's
own heading is the page title, links between sections pointed at the page each section went to, and the
screenshots' paths made relative to the page.

Kept for merging work that still edits the old README's sections: run it on that version of README.md and
compare the output with docs/ to carry the edits over::

    git show some-branch:README.md > /tmp/old-readme.md
    python scripts/readme_to_docs.py /tmp/old-readme.md --out /tmp/pages
    diff -ru docs /tmp/pages
"""

from __future__ import annotations

import argparse
import posixpath
import re
import sys
from pathlib import Path

#: page -> (title when it gathers several sections, or None, [README headings, in order]).
PAGES: dict[str, tuple[str | None, list[str]]] = {
    "install.md": (None, ["## Installation into an existing project"]),
    "quickstart.md": (None, ["## Quick start (Logto's M2M page, on Django)"]),
    "shapes/index.md": (None, ["## Where the API runs: three deployment shapes"]),
    "shapes/one-project.md": (None, ["### 1. Issuer and API in one project"]),
    "shapes/remote.md": (None, ["### 2. The API elsewhere (remote mode)"]),
    "shapes/logto-cloud.md": (None, ["### 3. A Logto Cloud tenant"]),
    "guides/calling-apis.md": (None, ["## Calling an API from Python"]),
    "reference/management-api.md": (None, ["## Managing M2M from code"]),
    "reference/imports.md": (None, ["## Public import paths"]),
    "guides/custom-claims.md": (None, ["## Custom claims"]),
    "guides/organizations.md": (None, ["## Organizations"]),
    "reference/settings.md": (None, ["## Settings reference"]),
    "reference/token-endpoint.md": (None, ["## Token endpoint errors"]),
    "reference/checks.md": (None, ["## System checks"]),
    "guides/admin.md": (None, ["## Admin walkthrough"]),
    "guides/signing-keys.md": (None, ["## Signing keys"]),
    "guides/client-secrets.md": (None, ["## Client secrets"]),
    "guides/example-project.md": (None, ["## The example project"]),
    "security.md": (None, ["## Security"]),
    "deployment/checklist.md": (None, ["### Deployment checklist"]),
    "performance.md": (None, ["## Performance"]),
    "contributing.md": ("Contributing", ["## The two commands", "## Running the tests"]),
    "changelog.md": (None, ["## Changelog"]),
}

#: Sections cut out of the section that holds them (they have a page of their own).
DETACHED = {
    "### 1. Issuer and API in one project",
    "### 2. The API elsewhere (remote mode)",
    "### 3. A Logto Cloud tenant",
    "### Deployment checklist",
}

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6}) ")
_LINK = re.compile(r"\]\((#[^)]*|docs/[^)]*)\)")


def _slug(heading: str) -> str:
    """The anchor MkDocs (and GitHub) gives a heading."""
    text = heading.lstrip("#").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return re.sub(r"\s", "-", text)


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, text) of every heading outside code fences."""
    found, fenced = [], False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line)):
            found.append((index, len(match.group(1)), line.rstrip("\n")))
    return found


def _section(lines: list[str], heads: list[tuple[int, int, str]], heading: str) -> list[str]:
    """One section: its heading to the next heading of the same or a higher level, less its detached parts."""
    for position, (index, level, text) in enumerate(heads):
        if text == heading:
            end = next((i for i, lv, _ in heads[position + 1 :] if lv <= level), len(lines))
            dropped: set[int] = set()
            for p in range(position + 1, len(heads)):
                start, inner_level, inner = heads[p]
                if start >= end:
                    break
                if inner in DETACHED:
                    stop = next((i for i, lv, _ in heads[p + 1 :] if lv <= inner_level), len(lines))
                    dropped.update(range(start, min(stop, end)))
            return [line for i, line in enumerate(lines[index:end], index) if i not in dropped]
    raise SystemExit(f"readme_to_docs: no section {heading!r} in the README")


def _raise_headings(body: list[str], by: int) -> list[str]:
    out, fenced = [], False
    for line in body:
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and _HEADING.match(line) and by:
            line = line[by:]
        out.append(line)
    return out


def _anchor_pages(heads: list[tuple[int, int, str]]) -> dict[str, tuple[str, str | None]]:
    """README anchor -> (page, anchor on that page or None for the page itself)."""
    owner: dict[str, tuple[str, str | None]] = {}
    spans = []
    for page, (_, sections) in PAGES.items():
        for heading in sections:
            position = next(p for p, (_, _, t) in enumerate(heads) if t == heading)
            level = heads[position][1]
            end = next((p for p in range(position + 1, len(heads)) if heads[p][1] <= level), len(heads))
            spans.append((end - position, page, position, end, heading))
    # The narrowest section that holds a heading owns it (a detached subsection beats its parent).
    for _, page, position, end, heading in sorted(spans, reverse=True):
        for p in range(position, end):
            text = heads[p][2]
            owner[_slug(text)] = (page, None if text == heading and len(PAGES[page][1]) == 1 else _slug(text))
    return owner


def _relink(body: list[str], page: str, owner: dict[str, tuple[str, str | None]]) -> list[str]:
    def replace(match: re.Match[str]) -> str:
        target = match.group(1)
        if target.startswith("docs/"):
            return f"]({posixpath.relpath(target.removeprefix('docs/'), posixpath.dirname(page) or '.')})"
        where = owner.get(target[1:])
        if where is None:
            raise SystemExit(f"readme_to_docs: {page}: link to {target}, which no page holds")
        other, anchor = where
        path = "" if other == page else posixpath.relpath(other, posixpath.dirname(page) or ".")
        return f"]({path}{'#' + anchor if anchor else ''})" if path or anchor else f"]({target})"

    return [_LINK.sub(replace, line) for line in body]


def split(readme: str) -> dict[str, str]:
    lines = readme.splitlines(keepends=True)
    heads = _headings(lines)
    owner = _anchor_pages(heads)
    pages = {}
    for page, (title, sections) in PAGES.items():
        parts = [f"# {title}\n\n"] if title else []
        for heading in sections:
            level = len(heading) - len(heading.lstrip("#"))
            body = _section(lines, heads, heading)
            parts.extend(_raise_headings(body, level - 2 if title else level - 1))
            if not parts[-1].endswith("\n\n"):
                parts.append("\n")
        pages[page] = _relink(parts, page, owner)
    return {page: "".join(body).rstrip("\n") + "\n" for page, body in pages.items()}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("readme", type=Path, help="a README.md that still holds the manual")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="where the pages go (default docs/)")
    args = parser.parse_args(argv)
    for page, text in split(args.readme.read_text()).items():
        path = args.out / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
