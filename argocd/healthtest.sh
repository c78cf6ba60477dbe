#!/usr/bin/env bash
# Runs the Argo CD health checks in argocd/resource_customizations/ against their test tables on
# gopher-lua, the Lua 5.1 VM that Argo CD embeds, loaded as Argo CD loads a check, and checks that
# argocd/argocd-cm.yaml carries each health.lua byte for byte (see healthtest/main.go). Builds the
# Go runner in healthtest/ once into e2e/.cache/bin/healthtest-<hash of its sources>, then runs
# it; a change to the sources makes a new build.
#
# Usage: healthtest.sh              run every check's test table, and compare argocd-cm.yaml
#        healthtest.sh --self-test  run the runner's own tests (go test)
#        healthtest.sh --help
# Needs only `go` on PATH and the Go module proxy.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
mod="$here/healthtest"
export GOWORK=off # the runner is its own module, whatever go.work is around

die() { echo "healthtest.sh: $*" >&2; exit 2; }

case "${1:-}" in
  -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
  ""|--self-test) ;;
  *) die "unknown argument $1 (usage: healthtest.sh [--self-test])" ;;
esac
command -v go >/dev/null 2>&1 || die "Go is not installed (no 'go' on PATH); the runner is built from $mod"

if [[ ${1:-} == --self-test ]]; then
  cd "$mod"
  exec go test -count=1 -p 2 ./...
fi

# shellcheck source=e2e/lib/go_tool.sh
source "$repo/e2e/lib/go_tool.sh"
bin="$(go_tool_binary healthtest "$mod")" || die "cannot build the healthtest runner from $mod"
exec "$bin" --customizations "$here/resource_customizations" --argocd-cm "$here/argocd-cm.yaml"
