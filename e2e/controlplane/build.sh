#!/usr/bin/env bash
# Builds the e2e control plane's binaries (etcd, kube-apiserver,
# kube-controller-manager; kubectl when asked or when none is installed) from
# the versions pinned in go.mod and etcd/go.mod, once, into
#   e2e/.cache/bin/k8s-<version>_etcd-<version>/
# A second run finds them there and does nothing. See README.md.
#
# Usage: build.sh [--with-kubectl] [--force] [--print-dir] [-q]
#   --with-kubectl  also build kubectl (done anyway when no kubectl is on PATH
#                   and $KUBECTL is unset)
#   --force         rebuild even if the binaries are up to date
#   --print-dir     print the binaries' folder and exit (builds nothing)
#   -q              say nothing unless something is built or goes wrong
# Environment:
#   CONTROLPLANE_CACHE       cache root (default: e2e/.cache beside this folder)
#   CONTROLPLANE_BUILD_JOBS  packages built at once, go build -p (default 1)
#   GOMAXPROCS               passed through; 1 makes each compile single-threaded
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${CONTROLPLANE_CACHE:-$(cd "$here/.." && pwd)/.cache}"
jobs="${CONTROLPLANE_BUILD_JOBS:-1}"

with_kubectl=0 force=0 print_dir=0 quiet=0
for arg in "$@"; do
  case "$arg" in
    --with-kubectl) with_kubectl=1 ;;
    --force) force=1 ;;
    --print-dir) print_dir=1 ;;
    -q|--quiet) quiet=1 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { echo "build.sh: $*"; }                    # always
note() { [[ $quiet == 1 ]] || echo "build.sh: $*"; } # not with -q
die() { echo "build.sh: error: $*" >&2; exit 1; }

# Versions come from the go.mod files, the one place they are pinned.
mod_version() { awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$1"; }
k8s_version="$(mod_version "$here/go.mod" k8s.io/kubernetes)"
etcd_version="$(mod_version "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)"
[[ -n $k8s_version && -n $etcd_version ]] || die "cannot read the pinned versions from $here/go.mod and $here/etcd/go.mod"
bindir="$cache/bin/k8s-${k8s_version}_etcd-${etcd_version}"

if [[ $print_dir == 1 ]]; then echo "$bindir"; exit 0; fi

have_go=1
command -v go >/dev/null 2>&1 || have_go=0
if [[ $have_go == 0 && $force == 0 && -x $bindir/etcd && -x $bindir/kube-apiserver && -x $bindir/kube-controller-manager ]]; then
  note "Go is not installed, but the binaries are already built: using $bindir"
  exit 0
fi
if [[ $have_go == 0 ]]; then
  die "Go is not installed (no 'go' on PATH). The control plane is built from source with Go >= 1.26
  (the version k8s.io/kubernetes $k8s_version asks for); install Go, or point KUBECONFIG at an
  existing cluster instead (see $here/README.md)."
fi
go_version="$(go env GOVERSION)"

if [[ $with_kubectl == 0 && -z ${KUBECTL:-} ]] && ! command -v kubectl >/dev/null 2>&1; then
  say "no kubectl on PATH: building one too"
  with_kubectl=1
fi

# What the binaries depend on: if any of it changes, they are rebuilt. Not
# the Go version: a newer Go alone does not change what they do.
ldflags_common="-s -w"
stamp_of() {
  {
    echo "CGO_ENABLED=0 -trimpath $ldflags_common"
    cat "$here/go.mod" "$here/go.sum" "$here/etcd/go.mod" "$here/etcd/go.sum"
  } | sha256sum | cut -d' ' -f1
}
stamp="$(stamp_of)"

wanted=(etcd kube-apiserver kube-controller-manager)
[[ $with_kubectl == 1 ]] && wanted+=(kubectl)

mkdir -p "$cache/bin"
exec 9>"$cache/bin/.lock"
if ! flock -n 9; then
  say "another build is running; waiting for it"
  flock 9
fi

old_stamp="$(cat "$bindir/.stamp" 2>/dev/null || true)"
todo=()
if [[ $force == 1 || $old_stamp != "$stamp" ]]; then
  [[ -n $old_stamp && $old_stamp != "$stamp" ]] && say "the pinned modules or build flags changed: rebuilding"
  rm -rf "$bindir"
  todo=("${wanted[@]}")
else
  for b in "${wanted[@]}"; do [[ -x $bindir/$b ]] || todo+=("$b"); done
fi

if [[ ${#todo[@]} == 0 ]]; then
  note "up to date: ${wanted[*]} in $bindir"
  exit 0
fi

mkdir -p "$bindir"
tmp="$(mktemp -d "$cache/bin/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# Kubernetes's own build stamps its version into these variables
# (hack/lib/version.sh); without them the binaries call themselves v0.0.0.
k8s_minor="${k8s_version#v1.}"; k8s_minor="${k8s_minor%%.*}"
k8s_date="$(cd "$here"; go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null)" || k8s_date=""
k8s_ldflags="$ldflags_common"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=${k8s_date:-1970-01-01T00:00:00Z}"
done

run_go_build() { # dir, ldflags, output, package...
  local dir="$1" flags="$2" out="$3"; shift 3
  (cd "$dir" && CGO_ENABLED=0 nice -n 19 go build -p "$jobs" -trimpath -buildvcs=false \
     -ldflags="$flags" -o "$out" "$@")
}

say "building ${todo[*]} (Kubernetes $k8s_version, etcd $etcd_version, $go_version, go build -p $jobs${GOMAXPROCS:+, GOMAXPROCS=$GOMAXPROCS}, nice 19)"
say "the first build compiles Kubernetes from source: see README.md for how long it takes"
start=$SECONDS
for b in "${todo[@]}"; do
  t0=$SECONDS
  case "$b" in
    etcd) run_go_build "$here/etcd" "$ldflags_common -X go.etcd.io/etcd/api/v3/version.GitSHA=$etcd_version" \
            "$tmp/etcd" go.etcd.io/etcd/server/v3 ;;
    *)    run_go_build "$here" "$k8s_ldflags" "$tmp/$b" "k8s.io/kubernetes/cmd/$b" ;;
  esac
  mv -f "$tmp/$b" "$bindir/$b"
  say "built $b in $((SECONDS - t0))s: $(du -h "$bindir/$b" | cut -f1)"
done
echo "$stamp" >"$bindir/.stamp"
say "done in $((SECONDS - start))s: $bindir"
