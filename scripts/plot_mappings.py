#!/usr/bin/python3
"""Draw the figures of a mapping analysis, like the thesis's Figures 1-4.

`natpunch analyze CLIENT SERVER --plots DIR` writes the data into DIR and
runs this script on it; it can also be run by hand on such a directory:

    /usr/bin/python3 scripts/plot_mappings.py DIR [--format png|svg]

Reads DIR/mappings.csv, DIR/run_lengths.csv, DIR/histogram.csv and
DIR/analysis.json; writes DIR/ports_over_time.FMT (Fig. 1),
DIR/run_lengths.FMT (Figs. 2-3) and DIR/port_histogram.FMT (Fig. 4, with
the fitted density when the allocator is uniform or Beta).

Needs matplotlib (Debian: python3-matplotlib). Exit codes: 0 figures
written, 2 bad arguments or unreadable data, 3 matplotlib is not installed.
"""
import argparse
import csv
import json
import os
import sys

# More points than this make a scatter plot slow and no more readable:
# larger collections are thinned evenly (every k-th row).
MAX_POINTS = 200_000


def fail(message, code):
    print(f"plot_mappings.py: {message}", file=sys.stderr)
    sys.exit(code)


def read_csv(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}", 2)


def describe(allocator):
    kind = allocator.get("kind", "unknown")
    if kind == "block":
        order = "random order" if allocator.get("order") == "random" else "in order"
        return f"block allocator, {allocator.get('block_size')} ports per block, taken {order}"
    if kind == "beta":
        return "Beta allocator, B({:.3f}, {:.3f}, {:.0f}, {:.0f})".format(
            allocator["alpha"], allocator["beta"], allocator["loc"], allocator["scale"])
    if kind == "uniform":
        return f"uniform allocator, [{allocator.get('min')}, {allocator.get('max')}]"
    return f"{kind} allocator"


def ports_over_time(plt, rows, title, path):
    stride = max(1, len(rows) // MAX_POINTS)
    shown = rows[::stride]
    t = [float(r["time_s"]) / 60.0 for r in shown]
    ports = [int(r["mapped_port"]) for r in shown]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.scatter(t, ports, s=1.5, linewidths=0, rasterized=True)
    ax.set_xlabel("time since the first packet (minutes, phone's clock)")
    ax.set_ylabel("mapped (public) port")
    note = f" (every {stride}th of {len(rows):,} rows)" if stride > 1 else f" ({len(rows):,} rows)"
    ax.set_title("Port mapping through time" + note + "\n" + title, fontsize=10)
    ax.set_ylim(0, 65535)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_lengths(plt, rows, title, path):
    lengths = [int(r["length"]) for r in rows]
    runs = [int(r["runs"]) for r in rows]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(lengths, runs, width=1.0 if len(lengths) < 300 else 2.0)
    ax.set_xlabel("number of consecutive port numbers used (run length)")
    ax.set_ylabel("runs")
    if runs and max(runs) > 50 * max(1, min(runs)):
        ax.set_yscale("log")
    ax.set_title("Frequency of consecutive port numbers\n" + title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def port_histogram(plt, rows, title, path):
    lo = [int(r["bin_lo"]) for r in rows]
    hi = [int(r["bin_hi"]) for r in rows]
    counts = [int(r["count"]) for r in rows]
    widths = [h - l + 1 for l, h in zip(lo, hi)]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(lo, counts, width=widths, align="edge", label="mapped ports")
    if rows and rows[0]["expected"] != "":
        expected = [float(r["expected"]) for r in rows]
        centres = [l + w / 2 for l, w in zip(lo, widths)]
        ax.plot(centres, expected, color="tab:orange", linewidth=2, label="fitted law (expected count per bin)")
        ax.legend()
    ax.set_xlabel("mapped (public) port")
    ax.set_ylabel("mappings per bin")
    ax.set_title("Frequency of mapped ports\n" + title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", help="directory written by natpunch analyze --plots")
    parser.add_argument("--format", choices=["png", "svg"], default="png")
    args = parser.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        fail("matplotlib is not installed for " + sys.executable +
             " (Debian/Ubuntu: apt-get install python3-matplotlib)", 3)

    try:
        with open(os.path.join(args.dir, "analysis.json")) as f:
            analysis = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read {os.path.join(args.dir, 'analysis.json')}: {e}", 2)
    title = describe(analysis.get("allocator", {}))

    outputs = [
        (ports_over_time, "mappings.csv", "ports_over_time"),
        (run_lengths, "run_lengths.csv", "run_lengths"),
        (port_histogram, "histogram.csv", "port_histogram"),
    ]
    for draw, data, name in outputs:
        rows = read_csv(os.path.join(args.dir, data))
        out = os.path.join(args.dir, f"{name}.{args.format}")
        draw(plt, rows, title, out)
        print(out)


if __name__ == "__main__":
    main()
