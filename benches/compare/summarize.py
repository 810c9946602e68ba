#!/usr/bin/env python3
"""Prints compare.sh's figures side by side: one row per measurement, one column per broker (the mean
over rounds, with the spread when there were several), then Odradek's figure divided by each other
broker's. A ratio above 1 means Odradek is faster for throughput (msg/s, MB/s) and slower or bigger
for the rest (ms, MB); the last column says which way is better. Ratios under 0.1 print as 1/N.

usage: summarize.py figures.csv [--markdown]
"""
import csv
import sys
from collections import defaultdict

LABELS = [
    ("startup_ms", "startup, exec to first Metadata answer (ms)"),
    ("idle_rss_mb", "RSS idle after start (MB)"),
    ("peak_rss_mb", "RSS peak over the run, VmHWM (MB)"),
    ("loaded_rss_mb", "RSS after the load (MB)"),
    ("cpu_matrix_s", "broker CPU time over the librdkafka matrix, user + system (s)"),
]


def describe(metric):
    for key, text in LABELS:
        if metric == key:
            return text
    parts = metric.split("_")
    tool = {"rdk": "librdkafka", "java": "Kafka perf-test"}[parts[0]]
    if "latency" in metric:
        # rdk_produce_ack_latency_a1_p99_ms, rdk_end_to_end_latency_aall_p50_ms, java_ack_latency_aall_p50_ms
        acks = next(p for p in parts if p.startswith("a") and p[1:] in ("1", "all"))[1:]
        stat = parts[-2]
        kind = "end-to-end" if "end" in parts else "ack"
        return f"{tool} {kind} latency {stat}, 100 B, acks={acks} (ms)"
    kind, size, parts_, rest = parts[1], parts[2][1:], parts[3][1:], parts[4:]
    unit = "MB/s" if rest[-1] == "mbs" else "msg/s"
    acks = ""
    if rest[0].startswith("a"):
        acks = f", acks={rest[0][1:]}" if kind == "produce" else f" (written acks={rest[0][1:]})"
    return f"{tool} {kind} {size} B, {parts_} part{'s' if parts_ != '1' else ''}{acks} ({unit})"


def higher_is_better(metric):
    return metric.endswith("_msgs") or metric.endswith("_mbs")


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    markdown = "--markdown" in sys.argv
    values = defaultdict(list)
    brokers, metrics = [], []
    for r in rows:
        try:
            v = float(r["value"])
        except ValueError:
            continue
        values[(r["broker"], r["metric"])].append(v)
        if r["broker"] not in brokers:
            brokers.append(r["broker"])
        if r["metric"] not in metrics:
            metrics.append(r["metric"])
    order = [k for k, _ in LABELS]
    stats = {"avg": 0, "p50": 1, "p99": 2, "p999": 3}

    def key(m):
        stat = next((stats[p] for p in m.split("_") if p in stats), -1)
        return (order.index(m) if m in order else len(order), not m.startswith("rdk"), "latency" in m,
                m.replace("_" + next((p for p in m.split("_") if p in stats), ""), ""), stat)
    metrics.sort(key=key)
    others = [b for b in brokers if b != "odradek"]

    def cell(b, m):
        vs = values.get((b, m))
        if not vs:
            return "-"
        mean = sum(vs) / len(vs)
        fmt = (lambda x: f"{x:,.0f}") if mean >= 100 else (lambda x: f"{x:.2f}")
        if len(vs) > 1 and min(vs) != max(vs):
            return f"{fmt(mean)} [{fmt(min(vs))}-{fmt(max(vs))}]"
        return fmt(mean)

    def ratio(m, b):
        a, o = values.get(("odradek", m)), values.get((b, m))
        if not a or not o or sum(o) == 0:
            return "-"
        r = (sum(a) / len(a)) / (sum(o) / len(o))
        return f"{r:.2f}x" if r >= 0.1 else f"1/{1 / r:,.0f}"

    head = ["measurement"] + brokers + [f"odradek/{b}" for b in others if "odradek" in brokers] + ["better"]
    table = []
    for m in metrics:
        table.append([describe(m)] + [cell(b, m) for b in brokers]
                     + [ratio(m, b) for b in others if "odradek" in brokers]
                     + ["higher" if higher_is_better(m) else "lower"])
    rounds = sorted({r["round"] for r in rows})
    print(f"mean over {len(rounds)} round(s) [min-max]; kafka = Apache Kafka defaults (no fsync before an acks=all answer), "
          "kafka-flush1 = log.flush.interval.messages=1 (fsync every append); Odradek fsyncs before every acks=all answer")
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for t in table:
            print("| " + " | ".join(t) + " |")
        return
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    for t in [head] + table:
        print("  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w) for i, (x, w) in enumerate(zip(t, widths))))


if __name__ == "__main__":
    main()
