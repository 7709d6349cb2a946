#!/usr/bin/python3
"""Plot `natpunch learn --csv FILE`: test accuracy of every peer over the
rounds against the same model trained centrally on all the data.

Usage: /usr/bin/python3 scripts/plot_learning.py run.csv [more.csv ...] [out.png]
A simulated run writes one CSV with every peer; in a real run
(`natpunch learn --rendezvous ...`) each peer writes its own: give them
all and their peers are drawn together (the central rows, computed by
every peer from the same seed, must agree).
Writes out.png (default: the first CSV's name with .png): one line per
peer, the central model dashed, and the band within 2 percentage points
of it.
Needs matplotlib (Debian: python3-matplotlib; the PATH python3 may not have
it). Exit codes: 0 figure written, 2 bad arguments or unreadable data,
3 matplotlib is not installed.
"""
import csv
import sys


def main(argv):
    args = argv[1:]
    if not args or any(a in ("-h", "--help") for a in args):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    target = args.pop() if len(args) > 1 and args[-1].lower().endswith(".png") else None
    sources = args
    if not sources or any(s.lower().endswith(".png") for s in sources):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    target = target or sources[0].rsplit(".", 1)[0] + ".png"
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("error: matplotlib missing: apt-get install python3-matplotlib, run with /usr/bin/python3", file=sys.stderr)
        return 3
    series = {}
    for source in sources:
        own = {}
        try:
            with open(source, newline="") as f:
                rows = csv.DictReader(f)
                for row in rows:
                    own.setdefault(row["who"], []).append((int(row["round"]), 100.0 * float(row["accuracy"])))
        except (OSError, KeyError, ValueError) as e:
            print(f"error: {source}: not a `natpunch learn --csv` file ({e})", file=sys.stderr)
            return 2
        if "central" not in own:
            print(f"error: {source}: no central baseline rows", file=sys.stderr)
            return 2
        for who, points in own.items():
            if who not in series:
                series[who] = points
            elif who == "central":
                if [round(y, 6) for _, y in points] != [round(y, 6) for _, y in series[who]]:
                    print(f"error: {source}: its central model differs from the other files' (not the same run or seed?)",
                          file=sys.stderr)
                    return 2
            else:
                print(f"error: {source}: {who} appears in two files", file=sys.stderr)
                return 2

    fig, ax = plt.subplots(figsize=(7, 4.2))
    # Peers whose every model arrived every round hold the same averaged
    # model: one line for them, named after all of them, not lines hidden
    # under each other.
    groups = {}
    for who, points in sorted(series.items(), key=lambda item: (len(item[0]), item[0])):
        if who != "central":
            groups.setdefault(tuple((x, round(y, 6)) for x, y in points), []).append(who)
    for points, names in groups.items():
        xs, ys = zip(*points)
        label = names[0] if len(names) == 1 else ", ".join(names) + " (same model)"
        ax.plot(xs, ys, linewidth=1.2, alpha=0.85, marker="o", markersize=2.5, label=label)
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
