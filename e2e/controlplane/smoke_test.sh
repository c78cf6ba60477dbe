#!/usr/bin/env bash
# Smoke test of the e2e control plane: brings it up, checks that the apiserver
# serves, that the controller manager's garbage collector works, that the
# third-party CRDs are usable, and brings it down. Ends with "N passed, N failed"
# and exits non-zero if anything failed. See README.md.
#
# Usage: smoke_test.sh    (takes the same environment as controlplane.sh)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cp="$here/controlplane.sh"
kubectl="${KUBECTL:-}"
if [[ -z $kubectl ]]; then
  if [[ -x /usr/bin/kubectl ]]; then kubectl=/usr/bin/kubectl
  elif command -v kubectl >/dev/null 2>&1; then kubectl="$(command -v kubectl)"
  else kubectl="$("$here/build.sh" --print-dir)/kubectl"
  fi
fi

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1${2:+: $2}"; }
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed == 0 ]]
  exit
}

is_up=0
# shellcheck disable=SC2317  # called by the trap
cleanup() { [[ $is_up == 0 ]] || "$cp" down >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Polls "$@" once a second for up to $1 seconds.
eventually() {
  local limit="$1" t0=$SECONDS; shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 < limit)) || return 1
    sleep 1
  done
}

k() { "$kubectl" "$@"; }

# ------------------------------------------------------------------ up
up_args=()
[[ -d $repo/crds ]] && up_args+=(--crds "$repo/crds")
t0=$SECONDS
if out="$("$cp" up "${up_args[@]}")" && [[ $out == "export KUBECONFIG="* ]]; then
  is_up=1
  eval "$out"
  pass "up ($((SECONDS - t0))s) printed: $out"
else
  is_up=1
  fail "up" "see the messages above"
  finish
fi

# A second `up` finds it running and prints the same thing.
t0=$SECONDS
if out2="$("$cp" up "${up_args[@]}" 2>/dev/null)" && [[ $out2 == "$out" ]]; then
  pass "second up reuses the running control plane ($((SECONDS - t0))s)"
else
  fail "second up" "printed '${out2:-}'"
fi

# ------------------------------------------------------------------ apiserver
readyz="$(k get --raw /readyz 2>&1)"
if [[ $readyz == ok ]]; then pass "kubectl get --raw /readyz: ok"; else fail "/readyz" "$readyz"; fi

version="$(k get --raw /version 2>&1 | tr -d ' \n')"
if [[ $version == *'"gitVersion":"v1.36.3"'* ]]; then
  pass "apiserver reports v1.36.3"
else
  fail "apiserver version" "$version"
fi

# The static token works as well as the client certificate.
who="$(k --context nines-e2e-token auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1)"
if [[ $who == nines-e2e-admin-token ]]; then pass "token context authenticates"; else fail "token context" "$who"; fi

ns="nines-smoke-$$"
if k create namespace "$ns" >/dev/null 2>&1; then pass "create namespace $ns"; else fail "create namespace $ns"; fi

# ------------------------------------------------------------------ garbage collection
if k -n "$ns" create configmap owner --from-literal=role=owner >/dev/null 2>&1; then
  owner_uid="$(k -n "$ns" get configmap owner -o jsonpath='{.metadata.uid}')"
  if k -n "$ns" apply -f - >/dev/null 2>&1 <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: dependent
  ownerReferences:
  - apiVersion: v1
    kind: ConfigMap
    name: owner
    uid: $owner_uid
    controller: true
    blockOwnerDeletion: true
data:
  role: dependent
EOF
  then
    pass "create ConfigMap dependent owned by owner (uid $owner_uid)"
    t0=$SECONDS
    k -n "$ns" delete configmap owner --wait=true >/dev/null 2>&1
    # shellcheck disable=SC2317  # called through eventually
    gone() { ! k -n "$ns" get configmap dependent >/dev/null 2>&1; }
    if eventually 60 gone; then
      pass "garbage collector deleted the dependent $((SECONDS - t0))s after its owner"
    else
      fail "garbage collection" "dependent still there 60s after the owner was deleted"
    fi
  else
    fail "create the dependent ConfigMap"
  fi
else
  fail "create the owner ConfigMap"
fi

# ------------------------------------------------------------------ third-party CRDs
for crd in prometheusrules.monitoring.coreos.com servicemonitors.monitoring.coreos.com \
  grafanadashboards.grafana.integreatly.org; do
  st="$(k get crd "$crd" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>&1)"
  if [[ $st == True ]]; then pass "CRD $crd Established"; else fail "CRD $crd" "$st"; fi
done

if k -n "$ns" apply --server-side -f - >/dev/null 2>&1 <<'EOF'
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: smoke
spec:
  groups:
  - name: smoke.rules
    rules:
    - record: job:up:sum
      expr: sum by (job) (up)
EOF
then
  got="$(k -n "$ns" get prometheusrule smoke -o jsonpath='{.spec.groups[0].rules[0].expr}' 2>&1)"
  if [[ $got == "sum by (job) (up)" ]]; then pass "PrometheusRule stored and read back"; else fail "PrometheusRule read back" "$got"; fi
else
  fail "apply a PrometheusRule"
fi

# ------------------------------------------------------------------ down
run_dir="$(dirname "${KUBECONFIG}")"
pids="$(cat "$run_dir"/pids/*.pid 2>/dev/null | xargs)"
if "$cp" down >/dev/null 2>&1; then
  is_up=0
  left=""
  for p in $pids; do readlink "/proc/$p/exe" >/dev/null 2>&1 && left+=" $p"; done
  if [[ -z $left && ! -e $run_dir ]]; then
    pass "down stopped pids $pids and removed $run_dir"
  else
    fail "down" "still running:${left:- none}; run folder $( [[ -e $run_dir ]] && echo kept || echo removed)"
  fi
else
  fail "down"
fi
if "$cp" down >/dev/null 2>&1; then pass "second down is a no-op"; else fail "second down"; fi

finish
