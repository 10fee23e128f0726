"""Charts as inline SVG, drawn on the server: no JavaScript library, nothing fetched."""

from __future__ import annotations

from markupsafe import Markup, escape

from archive.search.coverage import Timeline

WIDTH, HEIGHT = 900, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 36
# Colour-blind-safe (Okabe-Ito); outlets past the palette share the last colour, "other".
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
MAX_LABELS = 12
MAX_BAR = 48.0


def outlet_colours(timeline: Timeline) -> dict[str, str]:
    """A colour per outlet, the largest first; the rest share grey."""
    names = [c.value for c in timeline.outlets]
    named = names[: len(PALETTE) - 1]
    return {name: (PALETTE[i] if name in named else PALETTE[-1]) for i, name in enumerate(names)}


def timeline_svg(timeline: Timeline) -> Markup:
    """Stacked bars of matching articles per bucket and outlet; the earliest report's bucket marked."""
    buckets = timeline.buckets
    if not buckets:
        return Markup('<p class="empty">No dated article matches.</p>')
    colours = outlet_colours(timeline)
    peak = max(b.count for b in buckets) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(buckets)
    bar_w = min(max(step * 0.8, 1.0), MAX_BAR)
    parts = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'data-total="{timeline.total}" data-buckets="{len(buckets)}" '
        f'aria-label="{escape(f"{timeline.total} matching articles per {timeline.by}")}">',
        *_axis(peak, plot_h),
    ]
    every = max(1, -(-len(buckets) // MAX_LABELS))
    for i, bucket in enumerate(buckets):
        x = LEFT + i * step + (step - bar_w) / 2
        y: float = TOP + plot_h
        for outlet, count in sorted(bucket.outlets.items(), key=lambda kv: (-kv[1], kv[0])):
            h = plot_h * count / peak
            y -= h
            tip = escape(f"{bucket.start}: {count} from {outlet}")
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(outlet, PALETTE[-1])}"><title>{tip}</title></rect>'
            )
        if i % every == 0:
            parts.append(
                f'<text class="label" x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{escape(bucket.start)}</text>'
            )
        if bucket.start == timeline.earliest_bucket:
            parts.append(_earliest_marker(x + bar_w / 2, TOP + plot_h - plot_h * bucket.count / peak, timeline))
    parts.append("</svg>")
    return Markup("".join(parts))


def _axis(peak: int, plot_h: float) -> list[str]:
    base = TOP + plot_h
    lines = [f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#666"/>']
    for value in sorted({0, peak // 2, peak}):
        y = base - plot_h * value / peak
        lines.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>'
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd"/>'
        )
    return lines


def _earliest_marker(cx: float, top: float, timeline: Timeline) -> str:
    first = timeline.earliest
    label = f"earliest: {first.outlet or 'unknown outlet'}, {(first.published or '')[:10]}" if first else "earliest"
    anchor = "start" if cx < WIDTH / 2 else "end"
    tip_y = max(top - 4, TOP - 2)
    return (
        f'<g class="earliest"><path d="M{cx - 6:.1f},{tip_y - 10:.1f} L{cx + 6:.1f},{tip_y - 10:.1f} '
        f'L{cx:.1f},{tip_y:.1f} Z" fill="#C00"/>'
        f'<text x="{cx + (8 if anchor == "start" else -8):.1f}" y="{max(tip_y - 12, 12):.1f}" '
        f'text-anchor="{anchor}" fill="#C00">{escape(label)}</text></g>'
    )
