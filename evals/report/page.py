"""HTML of the report: the tables' markdown (evals/tables.py) converted, the page around the sections.

The converter knows exactly what tables.py writes -- `#` headings, paragraphs, pipe tables, **best** and
<u>second</u> -- and escapes everything else, so a label can never inject markup. Rows flagged with ⚠ (untrained
weights) are highlighted as in TABLES.md they are labelled.
"""
from __future__ import annotations

import html
import re

FLAG = "⚠"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1300px; padding: 0 1em; color: #222; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; }
tr.flagged td:first-child { background: #fff3cd; }
section.task { border-top: 2px solid #888; margin-top: 2em; }
.note { background: #fff3cd; border-left: 4px solid #e0a800; padding: 0.5em 0.8em; }
.panels { display: flex; flex-wrap: wrap; gap: 0.6em; }
.panels figure { margin: 0; flex: 0 1 380px; min-width: 0; }
.panels figure img { width: 100%; border: 1px solid #ccc; }
.figures figure { margin: 0; max-width: 640px; }
.figures figure img { max-width: 100%; }
figcaption { font-size: 0.8em; color: #444; }
.example h4 { margin: 1em 0 0.3em; }
.metric { color: #444; font-size: 0.9em; }
"""


def inline(text: str) -> str:
    """Escaped text with tables.py's two marks turned into markup."""
    escaped = html.escape(text.strip())
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"&lt;u&gt;(.+?)&lt;/u&gt;", r"<u>\1</u>", escaped)


def _cells(line: str) -> list[str]:
    return line.strip().strip("|").split("|")


def _table(lines: list[str]) -> str:
    header, body = lines[0], lines[2:]  # lines[1] is the |---| separator
    rows = ["<tr>" + "".join(f"<th>{inline(c)}</th>" for c in _cells(header)) + "</tr>"]
    for line in body:
        flagged = ' class="flagged"' if FLAG in line else ""
        rows.append(f"<tr{flagged}>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(line)) + "</tr>")
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def markdown_to_html(text: str, heading_offset: int = 1) -> str:
    """tables.py's markdown as HTML; headings move down `heading_offset` levels (the page has its own h1)."""
    blocks, table = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            blocks.append(_table(table))
            table = []
        heading = re.match(r"(#+) (.*)", line)
        if heading:
            level = min(6, len(heading.group(1)) + heading_offset)
            blocks.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif line.strip():
            blocks.append(f"<p>{inline(line)}</p>")
    return "\n".join(blocks)


def page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
