#!/usr/bin/env bash
# Checks Grafana dashboards against Grafana's JSON Schemas and nines' sanity
# rules (see README.md beside this script). Builds the Go checker in
# schemacheck/ once into e2e/.cache/bin/schemacheck-<hash of its sources>,
# then runs it; a change to the sources makes a new build.
#
# Usage: schemacheck.sh FILE...     check dashboards (.json) and Kubernetes
#                                   YAML streams (.yaml/.yml) holding them
#        schemacheck.sh --self-test run the checker's own tests (go test)
#        schemacheck.sh --help
# Environment:
#   NINES_GRAFANA_SCHEMAS  folder of the schemas
#                          (default: third_party/grafana-schema, a copy of the shared ones)
# Needs only `go` on PATH and the Go module proxy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
mod="$here/schemacheck"
schemas="${NINES_GRAFANA_SCHEMAS:-$repo/third_party/grafana-schema}"
export GOWORK=off # the checker is its own module, whatever go.work is around

die() { echo "schemacheck.sh: $*" >&2; exit 2; }

case "${1:-}" in
  -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
  "") die "no files to check (usage: schemacheck.sh FILE... | --self-test)" ;;
esac
command -v go >/dev/null 2>&1 || die "Go is not installed (no 'go' on PATH); the checker is built from $mod"
[[ -f $schemas/dashboard.jsonschema.json ]] ||
  die "no Grafana schemas in $schemas (set NINES_GRAFANA_SCHEMAS)"
schemas="$(cd "$schemas" && pwd)"

if [[ $1 == --self-test ]]; then
  [[ $# == 1 ]] || die "--self-test takes no other arguments"
  cd "$mod"
  export NINES_GRAFANA_SCHEMAS="$schemas"
  exec go test -p 2 ./...
fi

# The binary's name carries a hash of everything it is built from.
hash="$(
  cd "$mod"
  for f in go.mod go.sum $(LC_ALL=C ls -- *.go); do
    printf '== %s\n' "$f"
    cat -- "$f"
  done | sha256sum | cut -c1-16
)"
bindir="$repo/e2e/.cache/bin"
bin="$bindir/schemacheck-$hash"
if [[ ! -x $bin ]]; then
  mkdir -p "$bindir"
  tmp="$bin.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  echo "schemacheck.sh: building $bin" >&2
  (cd "$mod" && go build -trimpath -buildvcs=false -p 2 -o "$tmp" .)
  mv -f "$tmp" "$bin"
  trap - EXIT
  # Older builds are of sources that no longer exist.
  find "$bindir" -maxdepth 1 -name 'schemacheck-*' ! -name "schemacheck-$hash" ! -name '*.tmp.*' -delete
fi
exec "$bin" --schemas "$schemas" "$@"
