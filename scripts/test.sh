#!/usr/bin/env bash
# Sets up and runs every test of nines: unit and golden tests (plain and under ASan + UBSan),
# `promtool check rules` on every generated output, the `promtool test rules` suites that prove the
# rules' behaviour over time, every dashboard against Grafana's schemas and every dashboard query
# against a real Prometheus, the Argo CD health check on Argo CD's Lua VM, the operator, its
# error-budget status and the CRD end to end against a real kube-apiserver and Prometheus, the Helm
# chart (rendered, installed, and its RBAC proven against the API server's audit log), the demo,
# and a short fuzzing run. Ends with one "N passed, N failed" line.
#
#   scripts/test.sh            everything
#   FUZZ_SECONDS=5 scripts/test.sh    a shorter fuzzing run
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
jobs=${JOBS:-2}
fuzz_seconds=${FUZZ_SECONDS:-30}

passed=0
failed=0
failures=()
step() {  # step NAME COMMAND...: runs one step, counts it
  local name=$1
  shift
  echo
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: ok ($((SECONDS - start))s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "=== $name: FAILED ($((SECONDS - start))s)"
  fi
}

scripts/setup.sh || { echo "setup failed"; exit 1; }

build() {  # build DIR [CMAKE ARGS...]
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null &&
    cmake --build "$dir" -j "$jobs"
}
unit_tests() { ctest --test-dir "$1" --output-on-failure -j "$jobs" -LE promtool; }

formatted() { git ls-files -z '*.h' '*.cc' | xargs -0 clang-format --dry-run -Werror; }
step "clang-format" formatted
# The Release build in build/: the very script the Dockerfile's build stage runs.
step "build" env JOBS="$jobs" scripts/build-release.sh
# -Wno-unknown-warning-option: the compile commands are GCC's, and clang lacks some of its flags.
tidy() {
  git ls-files -z 'operator/*.cc' | xargs -0 -P "$jobs" -n 1 clang-tidy -p build --quiet \
    --extra-arg=-Wno-unknown-warning-option 2>/dev/null
}
step "clang-tidy" tidy
step "unit tests" unit_tests build
step "build (asan+ubsan)" build build-asan -DNINES_SANITIZE=ON
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
step "unit tests (asan+ubsan)" unit_tests build-asan
step "promtool check rules" tests/promtool/check_rules.sh build/nines
step "promtool test rules" ctest --test-dir build --output-on-failure -j "$jobs" -L promtool
# Every dashboard against Grafana's JSON Schemas, as files and inside the objects that carry them.
dashboard_schemas() {
  local out
  out=$(mktemp -d)
  build/nines generate -f examples >"$out/configmaps.yaml" &&
    build/nines generate -f examples --dashboards grafana-operator --dashboard-folder SLOs \
      >"$out/grafana-operator.yaml" &&
    tests/dashboards/schemacheck.sh --self-test >/dev/null &&
    tests/dashboards/schemacheck.sh tests/golden/dashboards/*.json charts/nines/dashboards/*.json \
      "$out/configmaps.yaml" "$out/grafana-operator.yaml"
  local rc=$?
  rm -rf "$out"
  return "$rc"
}
step "dashboard schemas" dashboard_schemas
# The Argo CD health check's test table on gopher-lua (Argo CD's Lua VM), and argocd-cm.yaml = health.lua.
argocd_health() { argocd/healthtest.sh --self-test >/dev/null && argocd/healthtest.sh; }
step "Argo CD health check (gopher-lua)" argocd_health
step "workload on Prometheus (text and protobuf)" e2e/workload/prometheus_check.sh build/nines-workload
step "dashboard queries on Prometheus" tests/dashboards/query_test.sh
# The operator against a real kube-apiserver (built once from the Kubernetes modules, cached in
# e2e/.cache/; the first build takes about 11 minutes), or the cluster NINES_E2E_KUBECONFIG names.
step "operator end to end (kube-apiserver)" e2e/operator_test.sh
# The CRD's schema and CEL rules against the same kube-apiserver, case by case beside `nines validate`.
step "CRD end to end (kube-apiserver)" e2e/crd_test.sh
# The error-budget status: a real Prometheus scraping two synthetic services whose errors and
# latency the test sets, the operator writing budgets, burn conditions and Events (about 12 min).
step "error-budget status end to end (kube-apiserver, Prometheus)" e2e/status_test.sh
# The Helm chart: lint, template and schema, the image's build steps and libraries, Pod Security,
# and RBAC: the operator as the chart's ServiceAccount, checked against the audit log. Builds helm
# from its Go module once (e2e/helm/build.sh, cached in e2e/.cache/bin/).
step "Helm chart end to end (kube-apiserver)" e2e/chart_test.sh
# The README's first command, as a newcomer runs it, its output checked (about 5 min).
step "demo (scripts/demo.sh)" e2e/demo_test.sh
step "build (fuzz)" build build-fuzz -DNINES_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++
fuzz() {
  local target=$1 corpus=$2
  local work
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  (cd "$work" && "$root/build-fuzz/$target" -max_total_time="$fuzz_seconds" -max_len=4096 \
    -print_final_stats=0 "$work" 2>&1 | tail -n 3)
  local rc=${PIPESTATUS[0]}
  rm -rf "$work"
  return "$rc"
}
step "fuzz resource parser (${fuzz_seconds}s)" fuzz resource_fuzz fuzz/corpus/resource
step "fuzz selector parser (${fuzz_seconds}s)" fuzz selector_fuzz fuzz/corpus/selector

echo
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
