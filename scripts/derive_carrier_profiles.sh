#!/usr/bin/env bash
# Re-derives the port allocators of profiles/{lebara,lycamobile,vodafone}-nl.json
# from the real carrier logs (issue 17): `natpunch analyze` over every run of
# each carrier, its allocator and provenance (runs, rows, fitted numbers)
# written into the profile; the thesis's Table II value is kept beside it
# (provenance.allocator.table_ii). Everything else in the profiles (Tables
# III-V) stays as it is.
#
#   bash scripts/derive_carrier_profiles.sh [DATA_DIR] [NATPUNCH]
#   (defaults: ../shared/data/carrier-logs, build/natpunch; run from the repository root)
set -euo pipefail
data=${1:-../shared/data/carrier-logs}
natpunch=${2:-build/natpunch}
command -v jq >/dev/null || { echo "error: needs jq (apt-get install jq)" >&2; exit 2; }
[[ -x $natpunch ]] || { echo "error: no natpunch binary at $natpunch (build it first)" >&2; exit 2; }
[[ -d $data ]] || { echo "error: no carrier logs at $data" >&2; exit 2; }

derive() {
  local carrier=$1 name=$2 table_ii=$3
  local profile=profiles/$carrier.json logs=() phone
  for phone in "$data/$carrier"/run*_phone.csv; do logs+=("$phone" "${phone%_phone.csv}_server.csv"); done
  local derived
  derived=$(mktemp)
  "$natpunch" analyze "${logs[@]}" --profile-out "$derived" --name "$name" --country NL >/dev/null
  jq --slurpfile d "$derived" --arg table_ii "$table_ii" '
      .allocator = $d[0].allocator
    | .source.allocator = ("derived from the real logs: " + $d[0].source.allocator
                           + " (the thesis: " + $table_ii + ")")
    | .provenance = {allocator: ($d[0].provenance.allocator + {table_ii: $table_ii})}
  ' "$profile" >"$profile.tmp"
  mv "$profile.tmp" "$profile"
  rm -f "$derived"
  echo "$profile: $(jq -c .allocator "$profile")"
}

derive lebara-nl Lebara "Table II and Section VI-A 1: blocks of 256 consecutive ports at multiples of 256, consumed in order, then a random block"
derive lycamobile-nl LycaMobile "Table II: uniform over [2048, 65535]"
derive vodafone-nl Vodafone "Table II and Section VI-A 4: Beta(alpha 2.242, beta 5.008, loc 4630, scale 13937) over more than 900,000 mappings"
