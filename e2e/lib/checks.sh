# What every end-to-end script here shares: counting checks, finding kubectl, and bounded waits.
# Source it; it only defines variables and functions.
#
#   ok TEXT / not_ok TEXT               count a check that passed or failed ($passed, $failed)
#   find_kubectl                        sets KUBECTL: $KUBECTL, the machine's kubectl, or the one
#                                       built from the control plane's Kubernetes release
#   k ARGS...                           "$KUBECTL" ARGS...
#   wait_for TEXT COMMAND...            polls COMMAND every 0.5s for up to 90s, then ok or not_ok
#   wait_within SECONDS TEXT COMMAND... the same every 2s for up to SECONDS

passed=0
failed=0
ok() {
  passed=$((passed + 1))
  echo "ok: $*"
}
not_ok() {
  failed=$((failed + 1))
  echo "FAIL: $*" >&2
}

find_kubectl() {
  [ -n "${KUBECTL:-}" ] && return 0
  if command -v kubectl >/dev/null; then
    KUBECTL=kubectl
  else
    e2e/controlplane/build.sh --with-kubectl >&2
    KUBECTL="$(e2e/controlplane/build.sh --print-dir)/kubectl"
  fi
}
k() { "$KUBECTL" "$@"; }

wait_for() {
  local what=$1
  shift
  for _ in $(seq 180); do
    if "$@" >/dev/null 2>&1; then
      ok "$what"
      return 0
    fi
    sleep 0.5
  done
  not_ok "$what (waited 90s)"
  return 1
}

wait_within() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq $((seconds / 2))); do
    if "$@" >/dev/null 2>&1; then
      ok "$what"
      return 0
    fi
    sleep 2
  done
  not_ok "$what (waited ${seconds}s)"
  return 1
}
