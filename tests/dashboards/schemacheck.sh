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

# shellcheck source=e2e/lib/go_tool.sh
source "$repo/e2e/lib/go_tool.sh"
bin="$(go_tool_binary schemacheck "$mod")" || die "cannot build the schemacheck runner from $mod"
exec "$bin" --schemas "$schemas" "$@"
