"""Charts as inline SVG, drawn on the server: no script, no CDN, nothing fetched by the browser.

Every value placed in the markup goes through :func:`~django.utils.html.format_html`; the colours
are CSS classes (``m2m-s-<n>``) so that the admin's light and dark themes can style them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 10, 26


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2 and 5 times a power of ten that is at least ``value`` (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def stacked_bars(
    element_id: str,
    labels: Sequence[str],
    stacks: Sequence[Sequence[tuple[str, int]]],
    titles: Sequence[str],
    classes: dict[str, str],
    label_every: int = 1,
) -> SafeString:
    """One bar per label, its segments stacked bottom-up (``(series, count)``), each bar with a ``<title>``."""
    top = nice_ceiling(max((sum(n for _s, n in stack) for stack in stacks), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    bar_w = max(1.0, slot * 0.72)
    grid = format_html_join(
        "",
        '<line class="m2m-grid" x1="{}" x2="{}" y1="{}" y2="{}"/><text class="m2m-axis" x="{}" y="{}" '
        'text-anchor="end">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, y, y, LEFT - 6, y + 4, value)
            for value, y in ((tick, _y(tick, top, plot_h)) for tick in sorted({0, top // 2, top}))
        ),
    )
    bars = []
    for n, (stack, title) in enumerate(zip(stacks, titles, strict=True)):
        x = LEFT + n * slot + (slot - bar_w) / 2
        base = 0
        rects = []
        for series, count in stack:
            if count <= 0:
                continue
            y0, y1 = _y(base, top, plot_h), _y(base + count, top, plot_h)
            rects.append(
                format_html(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}"/>',
                    classes.get(series, "m2m-s-other"),
                    f"{x:.1f}",
                    f"{y1:.1f}",
                    f"{bar_w:.1f}",
                    f"{max(0.5, y0 - y1):.1f}",
                )
            )
            base += count
        # A transparent full-height rect makes the whole column hoverable for the tooltip.
        hover = format_html(
            '<rect class="m2m-hover" x="{}" y="{}" width="{}" height="{}"/>',
            f"{LEFT + n * slot:.1f}",
            TOP,
            f"{slot:.1f}",
            plot_h,
        )
        tick = (
            format_html(
                '<text class="m2m-axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                f"{x + bar_w / 2:.1f}",
                HEIGHT - 8,
                labels[n],
            )
            if n % label_every == 0
            else ""
        )
        bars.append(
            format_html(
                '<g class="m2m-bar"><title>{}</title>{}{}{}</g>',
                title,
                hover,
                format_html_join("", "{}", ((r,) for r in rects)),
                tick,
            )
        )
    return format_html(
        '<svg id="{}" class="m2m-chart" viewBox="0 0 {} {}" role="img" xmlns="http://www.w3.org/2000/svg">{}{}</svg>',
        element_id,
        WIDTH,
        HEIGHT,
        grid,
        format_html_join("", "{}", ((b,) for b in bars)),
    )


def _y(value: int, top: int, plot_h: int) -> float:
    return TOP + plot_h - plot_h * value / top


def sparkline(values: Sequence[int], label: str, width: int = 140, height: int = 24) -> SafeString:
    """Tiny bars of ``values`` (requests per bucket), for a table cell; described by ``aria-label``."""
    top = max(values, default=0) or 1
    slot = width / max(1, len(values))
    rects = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}"/>',
        (
            (f"{n * slot:.1f}", f"{height - h:.1f}", f"{max(1.0, slot - 1):.1f}", f"{h:.1f}")
            for n, value in enumerate(values)
            if value > 0
            for h in (max(1.0, height * value / top),)
        ),
    )
    return format_html(
        '<svg class="m2m-spark" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        width,
        height,
        width,
        height,
        label,
        rects,
    )
