#!/usr/bin/env bash
# ctest FIXTURES_CLEANUP for the lab tests: removes any lab a crashed test
# left behind. Test labs all have ids starting with "t".
lab="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/lab/lab.sh"
[[ $EUID -eq 0 ]] || exit 0
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^np-t[a-z0-9]*-' || true); do
  id="${ns#np-}"; id="${id%%-*}"
  "$lab" down --id "$id" >/dev/null 2>&1 || true
done
leftover=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^np-t[a-z0-9]*-' || true)
if [[ -n "$leftover" ]]; then echo "lab namespaces left behind: $leftover" >&2; exit 1; fi
echo "no lab namespaces left"
