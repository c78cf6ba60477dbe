#!/usr/bin/env bash
# `promtool check rules` on everything nines generates: each example on its own, and all of them in
# one rule file (group names must not collide).
set -euo pipefail
nines=${1:?usage: check_rules.sh path/to/nines}
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for example in examples/*.yaml; do
  name=$(basename "$example" .yaml)
  "$nines" generate --format rulefile -f "$example" >"$out/$name.rules.yaml"
done
"$nines" generate --format rulefile -f examples >"$out/all.rules.yaml"
promtool check rules --lint=all --lint-fatal "$out"/*.rules.yaml
