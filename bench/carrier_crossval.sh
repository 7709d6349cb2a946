#!/usr/bin/env bash
# Cross-validation by run on the real carrier logs (issue 17): for each
# carrier and each of its runs, a profile is derived (`natpunch analyze
# --profile-out`) from the carrier's *other* runs and `natpunch predict`
# replays the held-out run with it. Hits and predictions are summed over
# the held-out runs; the table gives the hit rate at N = 1, 8, 64, 256 for
# the profile's own chooser and the plain ones (uniform, beta-densest where
# the profile has a Beta law, block-starts), and what each derived profile
# was.
#
#   bash bench/carrier_crossval.sh [DATA_DIR] [NATPUNCH] [SEED] [CARRIER...]
#   (defaults: ../shared/data/carrier-logs, build/natpunch, 1, every carrier
#   directory; from the repository root)
set -euo pipefail
data=${1:-../shared/data/carrier-logs}
natpunch=${2:-build/natpunch}
seed=${3:-1}
only=("${@:4}")
command -v jq >/dev/null || { echo "error: needs jq" >&2; exit 2; }
[[ -x $natpunch ]] || { echo "error: no natpunch binary at $natpunch" >&2; exit 2; }
[[ -d $data ]] || { echo "error: no carrier logs at $data" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
budgets=(1 8 64 256)

echo "| carrier | held-out runs | mappings predicted | chooser | N = 1 | N = 8 | N = 64 | N = 256 |"
echo "|---|---|---|---|---|---|---|---|"
for carrier_dir in "$data"/*/; do
  carrier=$(basename "$carrier_dir")
  if ((${#only[@]})) && [[ " ${only[*]} " != *" $carrier "* ]]; then continue; fi
  runs=()
  for phone in "$carrier_dir"run*_phone.csv; do runs+=("$(basename "${phone%_phone.csv}")"); done
  ((${#runs[@]} >= 2)) || continue
  : >"$work/$carrier.results"
  for held in "${runs[@]}"; do
    training=()
    for run in "${runs[@]}"; do
      [[ $run == "$held" ]] && continue
      training+=("$carrier_dir${run}_phone.csv" "$carrier_dir${run}_server.csv")
    done
    "$natpunch" analyze "${training[@]}" --profile-out "$work/$carrier-$held.json" --name "$carrier" --country NL >/dev/null
    echo "$carrier without $held: $(jq -c .allocator "$work/$carrier-$held.json")" >&2
    "$natpunch" predict "$carrier_dir${held}_phone.csv" "$carrier_dir${held}_server.csv" \
      --profile "$work/$carrier-$held.json" --seed "$seed" --json 2>/dev/null >>"$work/$carrier.results"
  done
  # Hits = rate x rows per held-out run, summed per chooser over the runs
  # where it exists (beta-densest only where the profile has a Beta law).
  jq -rs --arg carrier "$carrier" '
      [.[] | .rows as $r | .choosers[] | {name, rows: $r, hits: [.curve[0, 7, 63, 255] | . * $r]}]
    | group_by(.name)
    | sort_by(if .[0].name == "profile" then 0 else 1 end)
    | .[]
    | (map(.rows) | add) as $rows
    | [.[0].name, $rows, length, ([.[].hits] | transpose | map(add / $rows * 100 | . * 100 | round / 100))]
    | "| \($carrier) | \(.[2]) | \(.[1]) | \(.[0]) | \(.[3] | map(tostring + " %") | join(" | ")) |"
  ' "$work/$carrier.results"
done
