#!/usr/bin/python3
"""Plot `natpunch learn --csv FILE`: test accuracy of every peer over the
rounds against the same model trained centrally on all the data.

Usage: /usr/bin/python3 scripts/plot_learning.py run.csv [out.png]
Writes out.png (default: run.png next to run.csv): one line per peer, the
central model dashed, and the band within 2 percentage points of it.
Needs matplotlib (Debian: python3-matplotlib; the PATH python3 may not have
it). Exit codes: 0 figure written, 2 bad arguments or unreadable data,
3 matplotlib is not installed.
"""
import csv
import sys


def main(argv):
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source = argv[1]
    target = argv[2] if len(argv) == 3 else source.rsplit(".", 1)[0] + ".png"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("error: matplotlib missing: apt-get install python3-matplotlib, run with /usr/bin/python3", file=sys.stderr)
        return 3
    series = {}
    try:
        with open(source, newline="") as f:
            rows = csv.DictReader(f)
            for row in rows:
                series.setdefault(row["who"], []).append((int(row["round"]), 100.0 * float(row["accuracy"])))
    except (OSError, KeyError, ValueError) as e:
        print(f"error: {source}: not a `natpunch learn --csv` file ({e})", file=sys.stderr)
        return 2
    if "central" not in series:
        print(f"error: {source}: no central baseline rows", file=sys.stderr)
        return 2

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for who, points in sorted(series.items()):
        if who == "central":
            continue
        xs, ys = zip(*points)
        ax.plot(xs, ys, linewidth=1, alpha=0.8, label=who)
    xs, ys = zip(*series["central"])
    ax.plot(xs, ys, color="black", linewidth=2.2, linestyle="--", label="central (all data)")
    final = ys[-1]
    ax.axhspan(final - 2, final, color="grey", alpha=0.15, label="within 2 pp of central")
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy (%)")
    low = min(min(y for _, y in pts) for pts in series.values())
    ax.set_ylim(max(0, min(low, final - 10)), 100)
    ax.set_title("Decentralised averaging vs central training (digits)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=120)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
