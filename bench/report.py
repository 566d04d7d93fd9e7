#!/usr/bin/env python3
"""Turns `mailbench.py compare` runs (their --out JSON lines) into the README's performance table
and plot.

    python3 bench/report.py fresh.jsonl load.jsonl --md bench/report/report.md --svg bench/report/report.svg

Target A is the peer stack, B is mailnook. Several files are merged metric by metric: the
per-repeat values of every run are pooled (bench/report.sh runs the memory scenarios once per
freshly started mailnook, so they are three one-repeat runs). Every line of the table is one
mailbench metric: both medians, and mailnook's advantage as the median of the per-repeat ratios
(peer / mailnook for costs and latencies, mailnook / peer for rates), with its range; a product
budget (README "Performance") is checked where one applies. The plot shows the advantages on a
log scale. Python's standard library only.
"""

import argparse
import json
import statistics
import sys

MIB = 1024 * 1024

# (scenario, metric or None for the worst command p99, label, unit, budget)
# budget: ("ratio", x): advantage >= x; ("max", v): mailnook's median <= v (in the metric's unit).
LINES = [
    ("smtp-deliver", "accept_msgs_per_s", "SMTP accept-and-store rate", "msgs/s", ("ratio", 1.5)),
    ("smtp-deliver", "e2e_msgs_per_s", "end-to-end delivery to IMAP visibility", "msgs/s", None),
    ("smtp-deliver", "message_p50_ms", "SMTP message latency p50", "ms", None),
    ("smtp-deliver", "message_p99_ms", "SMTP message latency p99", "ms", None),
    ("smtp-deliver", "server_cpu_ms_per_msg", "server CPU per delivered message", "ms", None),
    ("smtp-deliver", "write_amplification", "bytes written per delivered message ÷ its size", "×",
     ("max", 1.3)),
    ("imap-session", "sessions_per_s", "IMAP session throughput", "sessions/s", ("ratio", 1.5)),
    ("imap-session", "fetch_body_p99_ms", "IMAP FETCH body p99", "ms", None),
    ("imap-session", None, "IMAP command p99, worst command", "ms", None),
    ("imap-session", "server_cpu_ms_per_session", "server CPU per IMAP session", "ms", None),
    ("pop3-drain", "msgs_per_s", "POP3 drain", "msgs/s", ("ratio", 1.5)),
    ("pop3-drain", "server_cpu_ms_per_msg", "server CPU per POP3 message", "ms", None),
    ("memory", "rss_bytes", "idle RSS, every role on", "MiB", ("max", 6 * MIB)),
    ("memory", "pss_bytes", "idle PSS", "MiB", None),
    ("idle-conns", "rss_per_conn_bytes", "RSS per idle TLS IMAP connection", "KiB",
     ("max", 64 * 1024)),
    ("idle-conns", "pss_per_conn_bytes", "PSS per idle TLS IMAP connection", "KiB", None),
    ("idle-conns", "notify_p50_ms", "IDLE push after delivery, p50", "ms", ("max", 50)),
    ("idle-conns", "notify_max_ms", "IDLE push after delivery, max", "ms", None),
]


def load(paths):
    """Ratio records by (scenario, metric), the per-repeat values of every file pooled."""
    ratios = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("type") != "ratio":
                    continue
                key = (rec["scenario"], rec["metric"])
                if key in ratios:
                    ratios[key]["a_values"] += rec["a_values"]
                    ratios[key]["b_values"] += rec["b_values"]
                else:
                    ratios[key] = {k: rec[k] for k in ("a_values", "b_values", "higher_is_better")}
    for rec in ratios.values():
        rec["a_median"] = statistics.median(rec["a_values"])
        rec["b_median"] = statistics.median(rec["b_values"])
    return ratios


def worst_p99(ratios, scenario):
    """Per repeat, the highest *_p99_ms of any command, for A and B, as a ratio record."""
    keys = [r for (s, m), r in ratios.items() if s == scenario and m.endswith("_p99_ms")]
    if not keys:
        return None
    a = [max(vals) for vals in zip(*(r["a_values"] for r in keys))]
    b = [max(vals) for vals in zip(*(r["b_values"] for r in keys))]
    return {"a_values": a, "b_values": b, "higher_is_better": False,
            "a_median": statistics.median(a), "b_median": statistics.median(b)}


def scale(unit, v):
    return v / MIB if unit == "MiB" else v / 1024 if unit == "KiB" else v


def fmt(v):
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def advantage(rec):
    """mailnook's advantage per repeat (>1: mailnook better)."""
    out = []
    for a, b in zip(rec["a_values"], rec["b_values"]):
        if a and b:
            out.append(b / a if rec["higher_is_better"] else a / b)
    return out


def rows(ratios):
    out = []
    for scenario, metric, label, unit, budget in LINES:
        rec = worst_p99(ratios, scenario) if metric is None else ratios.get((scenario, metric))
        if rec is None:
            continue
        adv = advantage(rec)
        row = {
            "label": label, "unit": unit, "scenario": scenario, "metric": metric or "max *_p99_ms",
            "peers": scale(unit, rec["a_median"]), "mailnook": scale(unit, rec["b_median"]),
            "adv": statistics.median(adv) if adv else None,
            "adv_range": (min(adv), max(adv)) if adv else None, "budget": "", "met": None,
        }
        if budget and budget[0] == "ratio":
            row["budget"] = f"≥ {budget[1]}×"
            row["met"] = row["adv"] is not None and row["adv"] >= budget[1]
        elif budget:
            row["budget"] = f"≤ {fmt(scale(unit, budget[1]))} {unit}"
            row["met"] = rec["b_median"] <= budget[1]
        out.append(row)
    return out


def markdown(rs, meta):
    lines = [
        f"mailbench {meta['scenarios']}, {meta['repeats']} repeats, targets alternated, medians; "
        f"advantage = median of the per-repeat ratios (peers ÷ mailnook for costs and latencies, "
        f"mailnook ÷ peers for rates), range in brackets.",
        "",
        "| measure | unit | Postfix+Dovecot | mailnook | mailnook's advantage | budget |",
        "|---|---|---|---|---|---|",
    ]
    for r in rs:
        adv = "–" if r["adv"] is None else (
            f"{fmt(r['adv'])}× ({fmt(r['adv_range'][0])}–{fmt(r['adv_range'][1])})")
        met = "" if r["met"] is None else (" met" if r["met"] else " **missed**")
        lines.append(f"| {r['label']} | {r['unit']} | {fmt(r['peers'])} | {fmt(r['mailnook'])} | "
                     f"{adv} | {r['budget']}{met} |")
    return "\n".join(lines) + "\n"


def svg(rs, title):
    """Horizontal bars of the advantage on a log scale (1× in the middle of the axis)."""
    import math
    rs = [r for r in rs if r["adv"]]
    lo, hi = 1 / 16, 1024  # bars beyond are drawn to the edge, their labels give the value
    w, left, right, bar, gap, top = 900, 330, 40, 16, 8, 50
    h = top + len(rs) * (bar + gap) + 50
    span = math.log(hi) - math.log(lo)

    def x(v):
        v = min(max(v, lo), hi)
        return left + (math.log(v) - math.log(lo)) / span * (w - left - right)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>']
    ticks = [1 / 16, 1 / 4, 1, 4, 16, 64, 256, 1024]
    for t in ticks:
        label = f"1/{round(1 / t)}×" if t < 1 else f"{t:g}×"
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 8}" x2="{x(t):.1f}" y2="{h - 40}" '
                   f'stroke="{"#444" if t == 1 else "#ddd"}"/>')
        out.append(f'<text x="{x(t):.1f}" y="{h - 25}" text-anchor="middle">{label}</text>')
    out.append(f'<text x="{x(1):.1f}" y="{h - 8}" text-anchor="middle">'
               f'← peers better · mailnook better → (log scale)</text>')
    for i, r in enumerate(rs):
        y = top + i * (bar + gap)
        x0, x1 = sorted((x(1), x(r["adv"])))
        color = "#2a7" if r["adv"] >= 1 else "#c44"
        out.append(f'<text x="{left - 8}" y="{y + bar - 4}" text-anchor="end">{r["label"]}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar}" '
                   f'fill="{color}"/>')
        lo_r, hi_r = r["adv_range"]
        out.append(f'<line x1="{x(lo_r):.1f}" y1="{y + bar / 2}" x2="{x(hi_r):.1f}" '
                   f'y2="{y + bar / 2}" stroke="black"/>')
        tx = x(max(r["adv"], hi_r)) + 4 if r["adv"] >= 1 else x(min(r["adv"], lo_r)) - 4
        anchor, fill = ("start" if r["adv"] >= 1 else "end"), "black"
        if r["adv"] >= hi / 4:  # no room right of the bar: the label goes inside its end
            tx, anchor, fill = x(r["adv"]) - 4, "end", "white"
        out.append(f'<text x="{tx:.1f}" y="{y + bar - 4}" text-anchor="{anchor}" fill="{fill}">'
                   f'{fmt(r["adv"])}×</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("jsonl", nargs="+")
    p.add_argument("--md", help="write the table here (default: stdout)")
    p.add_argument("--svg", help="write the plot here")
    a = p.parse_args()
    ratios = load(a.jsonl)
    if not ratios:
        sys.exit("no ratio records (were the files written by mailbench.py compare --out?)")
    repeats = max(len(r["a_values"]) for r in ratios.values())
    scenarios = ",".join(dict.fromkeys(s for s, _ in ratios))
    rs = rows(ratios)
    table = markdown(rs, {"scenarios": scenarios, "repeats": repeats})
    if a.md:
        with open(a.md, "w") as f:
            f.write(table)
    else:
        sys.stdout.write(table)
    if a.svg:
        with open(a.svg, "w") as f:
            f.write(svg(rs, f"mailnook vs Postfix+Dovecot, same run ({repeats} repeats, "
                            f"medians of per-repeat ratios)"))
    missed = [r["label"] for r in rs if r["met"] is False]
    if missed:
        print("budgets missed: " + "; ".join(missed), file=sys.stderr)


if __name__ == "__main__":
    main()
