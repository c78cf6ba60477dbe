#!/usr/bin/env bash
# Builds helm from its Go module (helm.sh/helm/v3, the version pinned in go.mod beside this
# script, with its own release's dependencies: go.sum pins them), once, into
#   e2e/.cache/bin/helm-<version>/helm
# and prints that path on stdout. A second run finds it there and returns at once. The chart's
# tests (e2e/chart_test.sh) use it; so can you:  "$(e2e/helm/build.sh)" template charts/nines
#
# Usage: build.sh [--force] [-q]
#   --force  rebuild even if the binary is up to date
#   -q       say nothing on stderr unless something is built or goes wrong
# Environment:
#   HELM_BUILD_JOBS  packages built at once, go build -p (default 2)
# Needs only Go (>= 1.26, what helm v3.22 asks for) and the Go module proxy. The first build takes
# about 80 s on 2 cores (measured: 76 s, modules already downloaded); later ones, with Go's
# build cache warm, a few seconds.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
jobs="${HELM_BUILD_JOBS:-2}"
export GOWORK=off # its own module, whatever go.work is around

force=0 quiet=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -q | --quiet) quiet=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "helm/build.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done
say() { echo "helm/build.sh: $*" >&2; }
note() { [[ $quiet == 1 ]] || say "$@"; }
die() { echo "helm/build.sh: error: $*" >&2; exit 1; }

# The version comes from go.mod, the one place it is pinned.
version="$(awk '$1 == "helm.sh/helm/v3" && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
[[ -n $version ]] || die "cannot read helm.sh/helm/v3's version from $here/go.mod"
# Helm's Makefile stamps the version, and the Kubernetes version its client-go speaks (for
# .Capabilities.KubeVersion and `helm lint`'s deprecation checks); built without them, helm calls
# itself "v3.22" and Kubernetes v1.20.
client_go="$(awk '$1 == "k8s.io/client-go" && $2 ~ /^v0\./ { print $2; exit }' "$here/go.mod")"
[[ -n $client_go ]] || die "cannot read k8s.io/client-go's version from $here/go.mod"
k8s_minor="${client_go#v0.}"
k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
done

bindir="$repo/e2e/.cache/bin/helm-$version"
bin="$bindir/helm"
# What the binary depends on: if any of it changes, it is rebuilt.
stamp="$({ echo "CGO_ENABLED=0 -trimpath $ldflags"; cat "$here/go.mod" "$here/go.sum"; } | sha256sum | cut -d' ' -f1)"

if [[ $force == 0 && -x $bin && $(cat "$bindir/.stamp" 2>/dev/null) == "$stamp" ]]; then
  note "up to date: $bin"
  echo "$bin"
  exit 0
fi
command -v go >/dev/null 2>&1 ||
  die "Go is not installed (no 'go' on PATH): helm $version is built from its Go module with Go >= 1.26"

mkdir -p "$bindir"
exec 9>"$bindir/.lock"
if ! flock -n 9; then
  say "another build is running; waiting for it"
  flock 9
fi
if [[ $force == 0 && -x $bin && $(cat "$bindir/.stamp" 2>/dev/null) == "$stamp" ]]; then
  echo "$bin" # built meanwhile by the other run
  exit 0
fi

tmp="$(mktemp "$bindir/.helm.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
say "building helm $version ($(go env GOVERSION), go build -p $jobs, nice 19)"
start=$SECONDS
(cd "$here" && CGO_ENABLED=0 nice -n 19 go build -p "$jobs" -trimpath -buildvcs=false \
  -ldflags="$ldflags" -o "$tmp" helm.sh/helm/v3/cmd/helm) >&2
chmod 755 "$tmp"
mv -f "$tmp" "$bin"
echo "$stamp" >"$bindir/.stamp"
say "built $bin in $((SECONDS - start))s: $("$bin" version --short)"
echo "$bin"
