#!/usr/bin/env python3
"""Draws target/bench/compose.json with matplotlib: requests/s and p99 latency per scenario,
time to first byte and to the last byte in the slow-fragment scenario, and peak RSS.

    chart.py compose.json compose.png   (bench/run runs it in target/bench/venv)
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SYSTEMS = ["shell", "nginx-ssi", "tailor", "podium"]
SCENARIOS = ["static", "services", "slow-fragment", "browser", "signed-in"]
COLOURS = {"shell": "#d9480f", "nginx-ssi": "#2b8a3e", "tailor": "#1c7ed6", "podium": "#7048e8"}


def grouped(ax, rows, field, title, ylabel, scenarios, fmt="{:,.0f}", log=False):
    width = 0.8 / len(SYSTEMS)
    for i, system in enumerate(SYSTEMS):
        xs, ys = [], []
        for j, scenario in enumerate(scenarios):
            row = rows.get((scenario, system))
            if row is not None:
                xs.append(j + (i - (len(SYSTEMS) - 1) / 2) * width)
                ys.append(row[field])
        bars = ax.bar(xs, ys, width, label=system, color=COLOURS[system])
        ax.bar_label(bars, labels=[fmt.format(y) for y in ys], fontsize=7, padding=2, rotation=90)
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.margins(y=0.25)
    ax.grid(axis="y", alpha=0.3)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    data = json.load(open(src))
    rows = {(r["scenario"], r["system"]): r for r in data}
    scenarios = [s for s in SCENARIOS if any(r["scenario"] == s for r in data)]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    grouped(axes[0][0], rows, "rps", "Throughput (wrk -t1 -c32), higher is better", "requests/s", scenarios)
    grouped(axes[0][1], rows, "p99_ms", "p99 latency under load, lower is better", "ms (log scale)", scenarios, "{:.1f}", log=True)
    grouped(axes[1][1], rows, "rss_mib", "Peak RSS of the composer under load, lower is better", "MiB", scenarios, "{:.0f}")

    ax = axes[1][0]
    slow = [s for s in SYSTEMS if ("slow-fragment", s) in rows]
    if slow:
        width = 0.38
        xs = range(len(slow))
        ttfb = [rows[("slow-fragment", s)]["ttfb_p50_ms"] for s in slow]
        total = [rows[("slow-fragment", s)]["total_p50_ms"] for s in slow]
        b1 = ax.bar([x - width / 2 for x in xs], ttfb, width, label="first byte", color=[COLOURS[s] for s in slow], alpha=0.55)
        b2 = ax.bar([x + width / 2 for x in xs], total, width, label="last byte", color=[COLOURS[s] for s in slow])
        ax.bar_label(b1, labels=[f"{v:.1f}" for v in ttfb], fontsize=7, padding=2)
        ax.bar_label(b2, labels=[f"{v:.0f}" for v in total], fontsize=7, padding=2)
        ax.axhline(300, color="grey", linestyle="--", linewidth=1)
        top = max(total + [300]) * 1.35
        ax.set_ylim(0, top)
        ax.text(-0.45, top * 0.93, "dashed: the late fragment's 300 ms", ha="left", va="top", fontsize=8, color="grey")
        ax.set_xticks(list(xs), slow)
        ax.set_ylabel("ms (median of sequential requests)")
        ax.set_title("slow-fragment: first byte (light) and last byte", fontsize=11)
        ax.grid(axis="y", alpha=0.3)
    else:
        ax.set_axis_off()

    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.suptitle("Composing the same three fragments into one page (bench/run)", y=0.99, fontsize=13)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.955), ncol=len(SYSTEMS), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main()
