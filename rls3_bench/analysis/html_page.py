"""A single static HTML leaderboard page: sortable tables and figures, no external resources.

The page works offline from a file:// URL: inline CSS, a few lines of vanilla JavaScript, images
referenced by relative paths. Click a column header to sort by it (ascending, then descending).
Sorting uses numbers the page was given, never numbers read back out of display text: a cell whose
value is a number, or that the caller gave a sort key (``0.612 [0.598, 0.627]`` keyed by its mean),
carries it in a ``data-sort`` attribute and sorts by it; other text sorts after numbers, and an empty
cell always sorts last. Without JavaScript the page is still a readable static table.
"""

from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np

from rls3_bench.data.atomic import atomic_write_text

_CSS = """
:root { color-scheme: light; --line: #d0d7de; --head: #f3f5f7; --accent: #1f5fa8; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 24px auto;
       max-width: 1400px; padding: 0 16px; color: #1b1f24; background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.notes p { margin: 4px 0; color: #444; max-width: 100ch; }
.hint { color: #666; font-size: 12px; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { font-size: 13px; border-collapse: collapse; font-variant-numeric: tabular-nums; white-space: nowrap; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--line); text-align: left; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #eef4fb; }
th { background: var(--head); position: sticky; top: 0; font-weight: 600; }
th.sortable { cursor: pointer; user-select: none; }
th.sortable:hover, th.sortable:focus { background: #e4e9ef; outline: none; }
th.sortable::after { content: "\\2195"; color: #9aa4ae; margin-left: 4px; font-size: 11px; }
th[aria-sort="ascending"]::after { content: "\\25B2"; color: var(--accent); }
th[aria-sort="descending"]::after { content: "\\25BC"; color: var(--accent); }
td.num, th.num { text-align: right; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 18px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #333; margin-top: 6px; text-align: center; font-family: ui-monospace, monospace; }
"""

# Numeric-aware, stable sort. Key: [rank, value]: rank 0 = number, 1 = text, 2 = empty (always last).
_JS = r"""
(function () {
  "use strict";
  function key(cell) {
    if (cell && cell.hasAttribute("data-sort")) return [0, Number(cell.getAttribute("data-sort"))];
    var text = (cell ? cell.textContent : "").trim();
    if (text === "") return [2, ""];
    return [1, text.toLowerCase()];
  }
  function compare(a, b, dir) {
    if (a[0] !== b[0]) return a[0] - b[0];          // numbers, then text, then empty: in both directions
    if (a[0] === 2) return 0;
    if (a[0] === 0) return dir * (a[1] - b[1]);
    return dir * a[1].localeCompare(b[1], undefined, {numeric: true});
  }
  function sortBy(table, th) {
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return {row: row, key: key(row.cells[col]), i: i};
    });
    rows.sort(function (a, b) { return compare(a.key, b.key, dir) || a.i - b.i; });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th) {
      th.classList.add("sortable");
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th); }
      });
    });
  });
})();
"""


def table_id(key: str, taken: set[str] | None = None) -> str:
    """An HTML id from a table's dict key: ``"budget 2048"`` -> ``"table-budget-2048"``; unique within ``taken``."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(key).lower()).strip("-") or "table"
    out, n = f"table-{slug}", 2
    while taken is not None and out in taken:
        out, n = f"table-{slug}-{n}", n + 1
    if taken is not None:
        taken.add(out)
    return out


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return format(value, ".6g")
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return ""
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pass
    return str(value)


def _sort_value(value) -> str | None:
    """The ``data-sort`` text of a number (``Infinity`` sorts after every finite one), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if math.isnan(value):
        return None
    return "Infinity" if value == math.inf else "-Infinity" if value == -math.inf else repr(float(value))


def _table_html(df, tid: str, keys=None) -> str:
    """``df``'s cells as text; a cell sorts by its own value when that is a number, else by the same
    row and column of ``keys`` (a frame of numbers, index-aligned with ``df``) when there is one."""
    import pandas as pd

    if not isinstance(df.index, pd.RangeIndex) or df.index.name is not None:
        df = df.reset_index()
    columns = [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in df.columns]
    raw = list(df.itertuples(index=False, name=None))
    sort = [
        [
            _sort_value(v)
            if _sort_value(v) is not None
            else (_sort_value(keys.iloc[i][c]) if keys is not None and c in keys.columns and i < len(keys) else None)
            for c, v in zip(df.columns, values, strict=True)
        ]
        for i, values in enumerate(raw)
    ]
    body = [[_cell_text(v) for v in values] for values in raw]
    # a column whose non-empty cells all have a sort number is right-aligned, header included
    numeric = [
        any(body[i][j] for i in range(len(body)))
        and all(sort[i][j] is not None for i in range(len(body)) if body[i][j])
        for j in range(len(columns))
    ]
    cls = [' class="num"' if n else "" for n in numeric]
    head = "".join(f'<th scope="col"{cls[j]}>{html.escape(c)}</th>' for j, c in enumerate(columns))
    rows = [
        "<tr>"
        + "".join(
            f"<td{cls[j]}"
            + (f' data-sort="{sort[i][j]}"' if sort[i][j] is not None else "")
            + f">{html.escape(t)}</td>"
            for j, t in enumerate(row)
        )
        + "</tr>"
        for i, row in enumerate(body)
    ]
    return (
        f'<div class="scroll"><table id="{html.escape(tid)}" class="sortable">\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table></div>"
    )


def _relative_url(path: Path, folder: Path) -> str:
    rel = os.path.relpath(Path(path).absolute(), Path(folder).absolute())
    return quote(Path(rel).as_posix(), safe="/")


def _caption(name: str, path: Path) -> str:
    suffix = Path(path).suffix
    return name[: -len(suffix)] if suffix and name.endswith(suffix) and len(name) > len(suffix) else name


def render_leaderboard_html(
    tables: dict, figures: dict[str, Path], out_path: Path, title: str, notes: str = "", sort_keys: dict | None = None
) -> Path:
    """Write one self-contained HTML page: a heading, ``notes`` (paragraphs split on blank lines), each
    table of ``tables`` (name -> pandas DataFrame) with sortable columns and the id ``table-<slug>``,
    then each figure of ``figures`` (name -> image path) as an <img> with a path relative to the page
    and its name as the caption. ``sort_keys`` (name -> DataFrame of numbers, row-aligned with that
    table) gives the numbers formatted cells sort by. All text is escaped. Written atomically;
    returns ``out_path``."""
    out_path = Path(out_path)
    parts = [f"<h1>{html.escape(title)}</h1>"]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", notes or "") if p.strip()]
    if paragraphs:
        parts.append('<div class="notes">' + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + "</div>")
    if tables:
        parts.append(
            '<p class="hint">Click a column header to sort (again to reverse). '
            "Numbers sort by value; empty cells sort last.</p>"
        )
    taken: set[str] = set()
    for name, df in tables.items():
        tid = table_id(name, taken)
        parts.append(f'<section aria-labelledby="{tid}-title"><h2 id="{tid}-title">{html.escape(str(name))}</h2>')
        parts.append(_table_html(df, tid, (sort_keys or {}).get(name)) + "</section>")
    if figures:
        parts.append('<section><h2>Figures</h2><div class="figures">')
        for name, path in figures.items():
            cap = html.escape(_caption(str(name), path))
            src = html.escape(_relative_url(path, out_path.parent))
            parts.append(
                f'<figure><a href="{src}"><img src="{src}" alt="{cap}"></a><figcaption>{cap}</figcaption></figure>'
            )
        parts.append("</div></section>")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(parts)
        + f"\n<script>{_JS}</script>\n</body>\n</html>\n"
    )
    return atomic_write_text(out_path, page)
