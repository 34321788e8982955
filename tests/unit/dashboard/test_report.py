"""Report figures and SVG charts, without the web layer."""

from __future__ import annotations

from bot.context import App
from bot.dashboard.charts import bar_chart
from bot.dashboard.report import build_report, percentile, register_csv
from tests.unit.dashboard.conftest import make_case


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 0.5) == 10.0
    assert percentile([4.0], 0.95) == 4.0


def test_chart_stacks_per_month_and_escapes_names() -> None:
    svg = bar_chart(["2026-10", "2026-11"], ["access", "<b>x</b>"],
                    {"2026-10": {"access": 2, "<b>x</b>": 1}, "2026-11": {"access": 3}},
                    title="Requests & rights")
    assert svg.startswith("<svg") and svg.count("<rect") == 3 + 2  # bars + legend keys
    assert "<b>x</b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert "Requests &amp; rights" in svg
    assert ">3</text>" in svg  # totals over the bars


def test_empty_chart_says_so() -> None:
    assert "no data yet" in bar_chart([], [], {}, title="t")


def test_report_counts_overdue_late_and_rights(app: App) -> None:
    make_case(app, kind="access", days_ago=40, closed_after_days=35)  # closed late
    make_case(app, kind="deletion", days_ago=35, address="a@example.org")  # overdue
    make_case(app, kind="complaint", days_ago=3, address="b@example.org")
    report = build_report(app)
    assert (report.total, report.closed, report.closed_late, report.overdue_open) == (3, 1, 1, 1)
    assert report.rights == ["access", "deletion", "other requests"]
    assert report.median_days == 35.0


def test_register_quotes_cells_a_spreadsheet_would_run(app: App) -> None:
    make_case(app, kind="access", days_ago=5, channel="=HYPERLINK(1)")
    row = register_csv(app).splitlines()[1]
    assert ",'=HYPERLINK(1)," in row
