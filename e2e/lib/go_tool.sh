# Go test tools built once and cached: the binary's name carries a hash of every file it is built
# from, so a change to the sources builds it again and an unchanged tree costs nothing. Source it.
#
#   go_tool_binary NAME MODULE_DIR   prints the path of NAME built from MODULE_DIR (a Go module
#                                    of one package: go.mod, go.sum, *.go), building it if needed

go_tool_binary() {
  local name=$1 mod=$2 hash bindir bin tmp
  hash="$(
    cd "$mod" || exit 1
    for f in go.mod go.sum $(LC_ALL=C ls -- *.go); do
      printf '== %s\n' "$f"
      cat -- "$f"
    done | sha256sum | cut -c1-16
  )"
  bindir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/e2e/.cache/bin"
  bin="$bindir/$name-$hash"
  if [[ ! -x $bin ]]; then
    mkdir -p "$bindir"
    tmp="$bin.tmp.$$"
    echo "$name: building $bin" >&2
    if ! (cd "$mod" && go build -trimpath -buildvcs=false -p 2 -o "$tmp" .); then
      rm -f "$tmp"
      return 1
    fi
    mv -f "$tmp" "$bin"
    # Older builds are of sources that no longer exist.
    find "$bindir" -maxdepth 1 -name "$name-*" ! -name "$name-$hash" ! -name '*.tmp.*' -delete
  fi
  echo "$bin"
}
