#!/usr/bin/env bash
# Table VI in the simulator (issue 5; on real port sequences, issue 17):
# `natpunch simulate matrix --strategy compare` three times on the same
# pairs and seeds, and one Markdown table of the probes each side needed for
# 99 % success (the worst of the runs at 20 runs; "> budget" when a run
# failed), naive against the improved attack
#   A: with prediction (the default),
#   B: without prediction: the carrier's port order and 256 sockets,
#   C: without prediction, one socket: the carrier's port order alone.
# Extra arguments go to every run, e.g. --carriers and --trace:
#
#   [RUNS=20] bash bench/table_vi.sh [NATPUNCH] [-- SIMULATE_ARGS...]
#   bash bench/table_vi.sh build/natpunch -- --carriers lebara,vodafone --trace vodafone=voda.trace
set -euo pipefail
natpunch=${1:-build/natpunch}
shift || true
[[ ${1:-} == -- ]] && shift
extra=("$@")
command -v jq >/dev/null || { echo "error: needs jq" >&2; exit 2; }
[[ -x $natpunch ]] || { echo "error: no natpunch binary at $natpunch" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(simulate matrix --strategy compare --runs "${RUNS:-20}" --seed 1 --quiet --json)
"$natpunch" "${common[@]}" "${extra[@]}" >"$work/a.json"
"$natpunch" "${common[@]}" --no-prediction "${extra[@]}" >"$work/b.json"
"$natpunch" "${common[@]}" --no-prediction --sockets 1 "${extra[@]}" >"$work/c.json"

jq -rn --slurpfile a "$work/a.json" --slurpfile b "$work/b.json" --slurpfile c "$work/c.json" '
  def display: {odido: "Odido", lebara: "Lebara", lycamobile: "LycaMobile", vodafone: "VodaFone", kpn: "KPN"}[.] // .;
  def grouped: tostring | if length > 3 then (.[:-3] | grouped) + "," + .[-3:] else . end;
  def probes($budget): if .successes == .runs then (.probes_for_99_percent | grouped) else "> \($budget | grouped)" end;
  def ratio: .ratio_99_is_lower_bound as $lower
             | if .ratio_99 == null then "-"
               else (if .ratio_99 >= 100 then (.ratio_99 | round | grouped) else (.ratio_99 * 10 | round / 10 | tostring) end)
                    + "x" | if $lower then ">= " + . else . end end;
  $a[0].probes_per_side as $budget
  | "| pair | naive 99 % | A: improved (prediction) | ratio A | B: order + sockets | ratio B | C: order only | ratio C |",
    "|---|---|---|---|---|---|---|---|",
    ( range($a[0].pairs | length) as $i
      | $a[0].pairs[$i] as $pa | $b[0].pairs[$i] as $pb | $c[0].pairs[$i] as $pc
      | "| \($pa.a | display) x \($pa.b | display) | \($pa.naive | probes($budget)) | "
        + "\($pa.improved | probes($budget)) | \($pa | ratio) | "
        + "\($pb.improved | probes($budget)) | \($pb | ratio) | "
        + "\($pc.improved | probes($budget)) | \($pc | ratio) |" )'
