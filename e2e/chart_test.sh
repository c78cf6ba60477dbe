#!/usr/bin/env bash
# The Helm chart (charts/nines) end to end: helm built from its Go module (e2e/helm/build.sh),
# the real kube-apiserver of e2e/controlplane/ (or the cluster NINES_E2E_KUBECONFIG names), and the
# real operator binary running as the chart's ServiceAccount.
#
#   e2e/chart_test.sh               uses build/nines (NINES_BUILD overrides)
#
# What it shows:
# - render: `helm lint --strict` and `helm template` with the default values and with
#   e2e/chart/full-values.yaml; a wrong value fails through values.schema.json with a message; the
#   chart's appVersion is the project's version; the CRD in the chart is crds/'s, byte for byte,
#   also in the packaged chart; the Deployment is restricted, probes /healthz and /readyz, takes
#   POD_NAME and POD_NAMESPACE from the downward API, and its arguments are the values'; the
#   alerts on the operator pass `promtool check rules` and `promtool test rules`;
# - the image: the Dockerfile's build stage runs exactly scripts/setup.sh and
#   scripts/build-release.sh, and the binary runs (as uid 65532, in a chroot) on the runtime base's
#   libraries plus those build-release.sh bundles;
# - the API server takes every rendered object (server-side apply, dry run), and a namespace that
#   enforces the restricted Pod Security Standard admits the installed chart's pods while it
#   rejects a pod that breaks the standard;
# - RBAC: the operator, run out of cluster with nothing but the chart's ServiceAccount token and
#   the arguments of the installed Deployment, does everything (examples Ready, an invalid
#   objective's Event, an edit, a deleted rule restored, an OwnershipConflict, garbage collection,
#   the Lease), with no 403; the API server's audit log shows that every (verb, resource) it used is
#   granted and that every granted one was used, but for the justified ones; the same with
#   `namespaces` set (a Role per namespace) in the grafana-operator mode, and back again (a mode
#   switch removes the other kind's dashboards); and the two permissions that only admission
#   checks (create through server-side apply, finalizers for blockOwnerDeletion) are shown to be
#   needed by taking them away.
# The installed release keeps the chart's default prometheus.url, which does not resolve here: the
# status loop runs and marks the objectives NoData, so its writes are part of what RBAC must allow.
# Every wait is a bounded poll; nothing is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${NINES_BUILD:-$root/build}
work=$(mktemp -d "${TMPDIR:-/tmp}/nines-chart-e2e.XXXXXX")
chart=charts/nines
release=nines
operator_pid=
own_control_plane=false
created_namespaces=()

# shellcheck source=e2e/lib/checks.sh
source e2e/lib/checks.sh
skipped=0
skip() {
  skipped=$((skipped + 1))
  echo "skipped: $*"
}
check() {  # check DESCRIPTION COMMAND...: ok if the command succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

stop_operator() {
  [ -n "$operator_pid" ] || return 0
  kill -TERM "$operator_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$operator_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$operator_pid" 2>/dev/null || true
  wait "$operator_pid" 2>/dev/null || true
  operator_pid=
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_operator
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "operator log tail:" >&2
    tail -n 20 "$work"/operator-*.log >&2 2>/dev/null || true
  fi
  if $own_control_plane; then
    e2e/controlplane/controlplane.sh down >/dev/null 2>&1 || true
  elif [ -n "${KUBECONFIG:-}" ] && [ -n "${helm:-}" ]; then
    "$helm" uninstall "$release" -n "${release_ns:-none}" >/dev/null 2>&1 || true
    k delete clusterrole,clusterrolebinding -l nines.dev/chart-test=probe --ignore-not-found >/dev/null 2>&1 || true
    for ns in ${created_namespaces[@]+"${created_namespaces[@]}"}; do
      k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$build/nines" ] || { echo "chart_test: $build/nines is missing: build first" >&2; exit 1; }
helm=$(e2e/helm/build.sh -q)
# The machine's kubectl, or the one built from the control plane's Kubernetes release.
find_kubectl
# helm, without the note it prints for the CRD symlink (charts/nines/crds/ -> crds/).
hm() {
  local rc=0
  "$helm" "$@" 2>"$work/helm.err" || rc=$?
  grep -v 'found symbolic link in path' "$work/helm.err" >&2 || true
  return "$rc"
}
# A YAML stream to JSON objects, offline (kubectl's own parser; it changes nothing).
to_json() { "$KUBECTL" label --local -f - nines-chart-test- -o json; }

# =================================================================================================
# Render: lint, template, schema, CRD, arguments
# =================================================================================================
echo "chart_test: $("$helm" version --short), $("$build/nines" version)"
project_version=$(sed -n 's/^project(nines VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
app_version=$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' "$chart/Chart.yaml")
check "the chart's appVersion ($app_version) is the project's version ($project_version)" \
  test -n "$project_version" -a "$app_version" = "$project_version"

check "helm lint --strict (default values)" hm lint --strict "$chart"
check "helm lint --strict (e2e/chart/full-values.yaml)" hm lint --strict "$chart" -f e2e/chart/full-values.yaml
hm template "$release" "$chart" -n nines-system >"$work/default.yaml"
hm template "$release" "$chart" -n nines-system -f e2e/chart/full-values.yaml >"$work/full.yaml"
to_json <"$work/default.yaml" | jq -s . >"$work/default.json"
to_json <"$work/full.yaml" | jq -s . >"$work/full.json"
kinds() { jq -r '[.[] | .kind + (if .metadata.namespace then "@" + .metadata.namespace else "" end)] | sort | join(" ")' "$1"; }
echo "default values render: $(kinds "$work/default.json")"
echo "full values render:    $(kinds "$work/full.json")"

# A wrong value fails, and says which.
schema_rejects() {  # schema_rejects EXPECTED-IN-MESSAGE HELM-ARGS...
  local expect=$1
  shift
  if "$helm" template "$release" "$chart" "$@" >/dev/null 2>"$work/schema.err"; then
    not_ok "helm template $* was accepted"
    return
  fi
  if grep -q -- "$expect" "$work/schema.err"; then
    ok "helm template $* fails: $(grep -v 'symbolic link' "$work/schema.err" | tr '\n' ' ' | cut -c1-160)"
  else
    not_ok "helm template $* failed without naming $expect: $(cat "$work/schema.err")"
  fi
}
schema_rejects replicaCount --set replicaCount=two
schema_rejects logFormat --set logFormat=xml
schema_rejects colour --set colour=blue
schema_rejects dashboards --set dashboards.mode=sidecar
schema_rejects requeuePeriod --set requeuePeriod=soon
schema_rejects workers --set workers=100
schema_rejects namespaces --set 'namespaces={Shop}'
schema_rejects passwordSecretName --set prometheus.auth.basicAuth.username=nines
schema_rejects 'not both' --set prometheus.tls.ca.secretName=a --set prometheus.tls.ca.configMapName=b
schema_rejects 'every replica would write' --set leaderElection.enabled=false

# The CRD: the chart's is crds/'s (a symlink), in templates and in the packaged chart alike.
crd=crds/nines.dev_servicelevelobjectives.yaml
# (helm ends each document with an empty line: not the file's.)
printf '%s\n' "$(hm template "$release" "$chart" --include-crds |
  awk '/^# Source: nines\/crds\// { on = 1; next } /^---$/ { on = 0 } on')" >"$work/crd-rendered.yaml"
check "helm template --include-crds carries $crd byte for byte" cmp -s "$work/crd-rendered.yaml" "$crd"
hm package "$chart" -d "$work/package" >/dev/null
mkdir -p "$work/unpacked"
tar -m -xzf "$work"/package/nines-*.tgz -C "$work/unpacked"
packaged=$work/unpacked/nines/crds/nines.dev_servicelevelobjectives.yaml
check "helm package carries $crd as a file, byte for byte" \
  test -f "$packaged" -a ! -L "$packaged" -a "$(cmp -s "$packaged" "$crd" && echo same)" = same
check "helm package carries both shared dashboards" \
  cmp -s "$work/unpacked/nines/dashboards/nines-overview.json" "$chart/dashboards/nines-overview.json"

deployment() { jq '.[] | select(.kind == "Deployment")' "$1"; }
container() { deployment "$1" | jq '.spec.template.spec.containers[0]'; }
restricted() {
  local pod c
  pod=$(deployment "$1" | jq .spec.template.spec)
  c=$(container "$1")
  jq -e '.securityContext | .runAsNonRoot == true and .runAsUser == 65532 and .seccompProfile.type == "RuntimeDefault"' <<<"$pod" >/dev/null &&
    jq -e '.automountServiceAccountToken == true' <<<"$pod" >/dev/null &&
    jq -e '.securityContext | .readOnlyRootFilesystem == true and .allowPrivilegeEscalation == false and .capabilities.drop == ["ALL"] and .runAsNonRoot == true and .runAsUser == 65532' <<<"$c" >/dev/null
}
check "default: the Deployment is restricted (non-root 65532, read-only root, RuntimeDefault, drops ALL, no escalation) and mounts its token" restricted "$work/default.json"
probes() {
  container "$1" | jq -e '.ports == [{"name": "metrics", "containerPort": 8080, "protocol": "TCP"}] and
    .livenessProbe.httpGet == {"path": "/healthz", "port": "metrics"} and
    .readinessProbe.httpGet == {"path": "/readyz", "port": "metrics"} and
    (.resources.requests | .cpu and .memory) and (.resources.limits | .cpu and .memory)' >/dev/null
}
check "default: liveness /healthz and readiness /readyz on the metrics port 8080; requests and limits" probes "$work/default.json"
downward() {
  container "$1" | jq -e '[.env[] | select(.name == "POD_NAME" or .name == "POD_NAMESPACE") | .valueFrom.fieldRef.fieldPath] == ["metadata.name", "metadata.namespace"]' >/dev/null
}
check "default: POD_NAME and POD_NAMESPACE from the downward API" downward "$work/default.json"
two_spread() {
  jq -e '.[] | select(.kind == "Deployment") | .spec.replicas == 2 and .spec.template.spec.topologySpreadConstraints[0].topologyKey == "kubernetes.io/hostname"' "$work/default.json" >/dev/null
}
check "default: 2 replicas, spread across nodes" two_spread

args_of() { container "$1" | jq -r '.args[]'; }
cat >"$work/default.args" <<'EOF'
operator
--metrics-address=:8080
--log-format=json
--workers=4
--requeue-period=10m
--min-rate-window=2m
--leader-elect=true
--leader-election-namespace=nines-system
--leader-election-id=nines-operator
--dashboards=configmap
--dashboard-label=grafana_dashboard=1
--dashboard-folder-annotation=grafana_folder
--prometheus-url=http://prometheus-operated.monitoring.svc:9090
EOF
cat >"$work/full.args" <<'EOF'
operator
--metrics-address=:8080
--log-format=text
--workers=8
--requeue-period=5m
--min-rate-window=1m
--namespaces=shop,edge
--leader-elect=true
--leader-election-namespace=nines-system
--leader-election-id=nines-test-lease
--rule-label=release=kube-prometheus-stack
--rule-label=team=sre
--dashboards=grafana-operator
--dashboard-folder=SLOs: production
--grafana-instance-selector=dashboards=grafana
--grafana-instance-selector=env=prod
--release-annotation=changes(kube_deployment_status_observed_generation{namespace="$namespace"}[5m]) > 0
--grafana-url=https://grafana.example/
--prometheus-url=https://prometheus.example:9090
--prometheus-timeout=15s
--status-interval=2m
--prometheus-header=X-Scope-OrgID=tenant-a
--prometheus-basic-auth-username=nines
--prometheus-basic-auth-password-file=/etc/nines/prometheus/basic-auth/password
--prometheus-ca-file=/etc/nines/prometheus/ca/ca.crt
EOF
for values in default full; do
  if diff <(args_of "$work/$values.json") "$work/$values.args" >"$work/args.diff"; then
    ok "$values values: the operator's arguments are the values' ($(wc -l <"$work/$values.args") arguments)"
  else
    not_ok "$values values: arguments differ from the expected: $(cat "$work/args.diff")"
  fi
done
no_prometheus_flags() {
  hm template "$release" "$chart" --set prometheus.url= --show-only templates/deployment.yaml | to_json |
    jq -e '[.spec.template.spec.containers[0].args[] | select(startswith("--prometheus") or startswith("--status-interval"))] == []' >/dev/null
}
check "prometheus.url empty renders no Prometheus flag" no_prometheus_flags
secrets_mounted() {
  deployment "$work/full.json" | jq -e '
    (.spec.template.spec.volumes | map({(.name): (.secret.secretName // .configMap.name)}) | add) ==
      {"prometheus-basic-auth": "prometheus-basic-auth", "prometheus-ca": "prometheus-ca"} and
    (.spec.template.spec.containers[0].volumeMounts | all(.readOnly == true)) and
    (.spec.template.spec.containers[0].env | all(.valueFrom.secretKeyRef == null))' >/dev/null
}
check "full values: the Prometheus password Secret and CA ConfigMap are mounted read-only; no secret in args or env" secrets_mounted

rbac_rules() {  # rbac_rules FILE: "Kind@namespace group/resource verbs" per rule
  jq -r '.[] | select(.kind == "Role" or .kind == "ClusterRole") | .kind as $k | (.metadata.namespace // "") as $ns |
    .rules[] | "\($k)@\($ns) \(.apiGroups[0] | if . == "" then "core" else . end)/\(.resources[0])\(if .resourceNames then "[" + (.resourceNames | join(",")) + "]" else "" end) \(.verbs | join(","))"' "$1"
}
least_privilege() {
  jq -e '[.[] | select(.kind == "Role" or .kind == "ClusterRole") | .rules[] |
    select((.verbs + .resources + .apiGroups | any(. == "*")) or (.resources | any(. == "secrets")))] == []' "$1" >/dev/null
}
check "default and full: no wildcard and nothing on Secrets in any rule" \
  eval 'least_privilege "$work/default.json" && least_privilege "$work/full.json"'
echo "default values: the rules"
rbac_rules "$work/default.json" | sed 's/^/  /'
echo "full values (namespaces: shop, edge; grafana-operator): the rules"
rbac_rules "$work/full.json" | sed 's/^/  /'
scoping() {
  [ "$(jq '[.[] | select(.kind == "ClusterRole")] | length' "$work/default.json")" = 1 ] &&
    [ "$(jq '[.[] | select(.kind == "Role")] | map(.metadata.namespace)' -c "$work/default.json")" = '["nines-system"]' ] &&
    [ "$(jq '[.[] | select(.kind == "ClusterRole" or .kind == "ClusterRoleBinding")] | length' "$work/full.json")" = 0 ] &&
    [ "$(jq -c '[.[] | select(.kind == "Role")] | map(.metadata.namespace) | sort' "$work/full.json")" = '["edge","nines-system","shop"]' ]
}
check "every namespace: a ClusterRole; namespaces set: a Role in each, none cluster-wide; the Lease's Role in the release namespace" scoping
dashboards_shipped() {
  local name
  for name in overview review; do
    jq -r --arg n "nines-$name-dashboard" '.[] | select(.kind == "ConfigMap" and .metadata.name == $n) |
      select(.metadata.labels.grafana_dashboard == "1") | .data["nines-\($n | ltrimstr("nines-") | rtrimstr("-dashboard")).json"]' \
      "$work/default.json" >"$work/$name.json"
    cmp -s <(jq -S . "$work/$name.json") <(jq -S . "$chart/dashboards/nines-$name.json") || return 1
  done
  [ "$(jq '[.[] | select(.kind == "GrafanaDashboard") | select(.spec.folder == "SLO reviews" and .spec.instanceSelector.matchLabels.env == "prod")] | length' "$work/full.json")" = 2 ]
}
check "the shared dashboards: ConfigMaps labelled grafana_dashboard=1 holding the files; GrafanaDashboards in the grafana-operator mode" dashboards_shipped
optional_off() {
  jq -e '[.[] | select(.kind == "ServiceMonitor" or .kind == "PrometheusRule")] == []' "$work/default.json" >/dev/null &&
    jq -e '[.[] | select(.kind == "ServiceMonitor" or .kind == "PrometheusRule")] | length == 2' "$work/full.json" >/dev/null
}
check "ServiceMonitor and PrometheusRule: off by default, on when asked" optional_off

# The alerts on the operator: valid rules, and they fire when they should.
mkdir -p "$work/alerts"
hm template "$release" "$chart" -n nines-system --set prometheusRule.enabled=true \
  --show-only templates/prometheusrule.yaml | to_json | jq .spec >"$work/alerts/rules.json"
jq '.[] | select(.kind == "PrometheusRule") | .spec' "$work/full.json" >"$work/alerts/full-rules.json"
check "promtool check rules: the operator's alerts (default and full values)" \
  promtool check rules "$work/alerts/rules.json" "$work/alerts/full-rules.json"
cp e2e/chart/operator_alerts_test.yaml "$work/alerts/"
check "promtool test rules: down, reconcile errors, a growing queue, Prometheus unreachable and no leader fire, and only then" \
  promtool test rules "$work/alerts/operator_alerts_test.yaml"

# =================================================================================================
# The image: the Dockerfile runs the test command's scripts; the binary runs on the image's libs
# =================================================================================================
dockerfile_runs() {
  [ "$(grep -E '^RUN ' Dockerfile)" = "$(printf 'RUN scripts/setup.sh\nRUN scripts/build-release.sh /out')" ] &&
    grep -q 'scripts/build-release.sh' scripts/test.sh &&
    grep -qx 'ENTRYPOINT \["/nines"\]' Dockerfile && grep -qx 'CMD \["operator"\]' Dockerfile &&
    grep -qx 'USER 65532:65532' Dockerfile
}
check "Dockerfile: RUN scripts/setup.sh and scripts/build-release.sh only (scripts/test.sh builds with the same), /nines operator as 65532" dockerfile_runs
image_libraries() {
  local image=$work/image multiarch lib path
  BUILD_DIR=$build scripts/build-release.sh "$work/out" >"$work/build-release.log" 2>&1 || return 1
  cp -a "$work/out/rootfs" "$image"
  multiarch=$(gcc -print-multiarch)
  # The runtime base's libraries (distroless cc-debian12: Debian 12's glibc, libssl3, libgcc-s1,
  # libstdc++6), taken from this Debian 12 machine; everything else must come from the bundle.
  for lib in $(scripts/build-release.sh --print-base-libs); do
    path=$(ldd "$build/nines" | awk -v l="$lib" '$1 == l && $2 == "=>" { print $3 }')
    [ -z "$path" ] || cp -L "$path" "$image/usr/lib/$multiarch/"
  done
  mkdir -p "$image/lib64"
  cp -L /lib64/ld-linux-x86-64.so.2 "$image/lib64/"
  echo "  ldd build/nines: $(ldd "$build/nines" | awk '$2 == "=>" { print $1 }' | tr '\n' ' ')"
  echo "  from the base:   $(scripts/build-release.sh --print-base-libs | tr '\n' ' ')"
  echo "  bundled:         $(sed -n 's/^build-release.sh: bundled //p' "$work/build-release.log" | tr '\n' ' ')"
  chroot --userspec=65532:65532 "$image" /nines version
}
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null && [ -e /lib64/ld-linux-x86-64.so.2 ]; then
  check "the binary runs as uid 65532 on the image's libraries only (base + bundled, in a chroot)" image_libraries
else
  skip "the image's libraries (needs root for chroot, on x86-64)"
fi

# =================================================================================================
# A cluster
# =================================================================================================
if [ -n "${NINES_E2E_KUBECONFIG:-}" ]; then
  export KUBECONFIG=$NINES_E2E_KUBECONFIG
  e2e/controlplane/controlplane.sh crds --crds crds
  run_dir=
else
  e2e/controlplane/controlplane.sh status >/dev/null 2>&1 || own_control_plane=true
  # An audit log, to see which verbs the operator uses; and the admission plugin that checks
  # blockOwnerDeletion against the owner's finalizers (OpenShift enables it).
  environment=$(CONTROLPLANE_AUDIT=1 \
    CONTROLPLANE_APISERVER_ARGS="${CONTROLPLANE_APISERVER_ARGS:-} --enable-admission-plugins=OwnerReferencesPermissionEnforcement" \
    e2e/controlplane/controlplane.sh up --crds crds)
  eval "$environment"
  run_dir=$(dirname "$KUBECONFIG")
fi
audit_log=
if [ -n "$run_dir" ] && grep -q -- '^--audit-log-path=' "$run_dir/apiserver.args" 2>/dev/null; then
  audit_log=$run_dir/audit.log
fi
owner_refs_enforced=false
if [ -n "$run_dir" ] && grep -q 'OwnerReferencesPermissionEnforcement' "$run_dir/apiserver.args" 2>/dev/null; then
  owner_refs_enforced=true
fi
echo "chart_test: $(k version -o json | jq -r '"kubectl \(.clientVersion.gitVersion), server \(.serverVersion.gitVersion)"'); audit log: ${audit_log:-none}"

release_ns=nines-chart-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
k create namespace "$release_ns" >/dev/null
created_namespaces+=("$release_ns")
k label namespace "$release_ns" pod-security.kubernetes.io/enforce=restricted \
  pod-security.kubernetes.io/warn=restricted >/dev/null
example_namespaces=$(grep -h '^  namespace:' examples/*.yaml | awk '{print $2}' | sort -u)
for ns in $example_namespaces; do
  if ! k get namespace "$ns" >/dev/null 2>&1; then
    k create namespace "$ns" >/dev/null
    created_namespaces+=("$ns")
  fi
done

# ---- Every rendered object, as the API server takes it (server-side apply, dry run) ----------
server_dry_run() {  # server_dry_run NAME HELM-ARGS...
  local name=$1
  shift
  hm template "$release" "$chart" -n "$release_ns" --include-crds "$@" >"$work/$name-ns.yaml"
  if k apply --server-side --dry-run=server --field-manager=nines-chart-test -f "$work/$name-ns.yaml" \
    >"$work/$name-dry-run.out" 2>"$work/$name-dry-run.err"; then
    if grep -qi 'violate PodSecurity' "$work/$name-dry-run.err"; then
      not_ok "$name values: the API server warns: $(cat "$work/$name-dry-run.err")"
    else
      ok "$name values: kubectl apply --server-side --dry-run=server takes all $(wc -l <"$work/$name-dry-run.out") objects, no Pod Security warning"
    fi
  else
    not_ok "$name values: the API server refuses: $(cat "$work/$name-dry-run.err")"
  fi
}
server_dry_run default
server_dry_run full -f e2e/chart/full-values.yaml

# ---- Installed in a restricted namespace: the pods are admitted --------------------------------
hm install "$release" "$chart" -n "$release_ns" >"$work/install.out"
ok "helm install in $release_ns (pod-security.kubernetes.io/enforce=restricted)"
pods_created() { [ "$(k get pods -n "$release_ns" -l app.kubernetes.io/instance=$release -o name | wc -l)" -eq 2 ]; }
wait_for "the ReplicaSet's 2 pods are admitted by Pod Security (restricted) and exist (Pending: no scheduler here)" pods_created
failed_create=$(k get events -n "$release_ns" -o json | jq '[.items[] | select(.reason == "FailedCreate")] | length')
check "no FailedCreate event" test "$failed_create" = 0
cat >"$work/violator.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: violator, namespace: $release_ns}
spec:
  containers: [{name: c, image: nines:test}]  # runs as root, may escalate, keeps its capabilities
EOF
if k create -f "$work/violator.yaml" >/dev/null 2>"$work/violator.err"; then
  not_ok "a pod without a securityContext was admitted in $release_ns: the Pod Security check proves nothing"
elif grep -q 'violates PodSecurity "restricted' "$work/violator.err"; then
  ok "... while a pod that breaks restricted is rejected there: $(grep -o 'violates PodSecurity.*' "$work/violator.err" | cut -c1-150)"
else
  not_ok "the privileged pod failed for another reason: $(cat "$work/violator.err")"
fi

# =================================================================================================
# RBAC: the operator as the chart's ServiceAccount
# =================================================================================================
sa=$(k get serviceaccount -n "$release_ns" -l app.kubernetes.io/instance=$release -o jsonpath='{.items[0].metadata.name}')
sa_user=system:serviceaccount:$release_ns:$sa
# Only the server, its CA and the token: a client certificate beside it would win.
k config view --raw --minify -o json >"$work/admin-kubeconfig.json"
cat >"$work/sa.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cluster
  cluster:
    server: $(jq -r '.clusters[0].cluster.server' "$work/admin-kubeconfig.json")
    certificate-authority-data: $(jq -r '.clusters[0].cluster["certificate-authority-data"]' "$work/admin-kubeconfig.json")
users:
- name: $sa
  user:
    token: $(k create token "$sa" -n "$release_ns" --duration=1h)
contexts:
- name: $sa
  context: {cluster: cluster, user: $sa, namespace: $release_ns}
current-context: $sa
EOF
rm -f "$work/admin-kubeconfig.json"
check "the kubeconfig authenticates as $sa_user" \
  eval '[ "$(k --kubeconfig "$work/sa.kubeconfig" auth whoami -o jsonpath="{.status.userInfo.username}")" = "$sa_user" ]'

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  return 1
}
installed() { "$helm" get manifest "$release" -n "$release_ns" | to_json | jq -s .; }
phase=
start_operator() {  # start_operator PHASE: the installed Deployment's args, as its ServiceAccount
  phase=$1
  installed >"$work/installed-$phase.json"
  container "$work/installed-$phase.json" | jq -r '.args[]' >"$work/args-$phase"
  local drop='^--metrics-address='
  mapfile -t args < <(grep -vE "$drop" "$work/args-$phase")
  metrics_port=$(free_port)
  echo "chart_test: phase $phase: nines ${args[*]} --kubeconfig sa.kubeconfig --metrics-address 127.0.0.1:$metrics_port"
  POD_NAME=$release-$phase-0 POD_NAMESPACE=$release_ns \
    "$build/nines" "${args[@]}" --kubeconfig "$work/sa.kubeconfig" \
    --metrics-address "127.0.0.1:$metrics_port" >"$work/operator-$phase.log" 2>&1 &
  operator_pid=$!
}
metrics() { curl -fsS --max-time 2 "http://127.0.0.1:$metrics_port$1"; }
holder() { k get lease -n "$release_ns" nines-operator -o jsonpath='{.spec.holderIdentity}'; }
leading() { [ "$(holder)" = "$release-$phase-0" ] && metrics /metrics | grep -qx 'nines_leader 1'; }
probes_answer() { [ "$(metrics /healthz)" = ok ] && [ "$(metrics /readyz)" = ok ]; }
no_forbidden() {
  if grep -Eiq 'HTTP 403|forbidden' "$work/operator-$phase.log"; then
    not_ok "phase $phase: the operator log has a 403: $(grep -Ei 'HTTP 403|forbidden' "$work/operator-$phase.log" | head -3)"
  else
    ok "phase $phase: no 403 or Forbidden in the operator log ($(wc -l <"$work/operator-$phase.log") lines)"
  fi
}
stop_phase() {
  stop_operator
  released() { [ -z "$(holder)" ]; }
  wait_for "phase $phase: SIGTERM stops the operator and it releases the Lease" released
  no_forbidden
}
audit_mark() { if [ -n "$audit_log" ]; then wc -l <"$audit_log"; else echo 0; fi; }

ready_count() {  # ready_count [NAMESPACE...]
  local nss=${*:-}
  k get slo -A -o json | jq --arg nss "$nss" '[.items[] | select($nss == "" or (.metadata.namespace as $n | $nss | split(" ") | index($n))) |
    select(.status.conditions[]? | .type == "Ready" and .status == "True")] | length'
}
condition() { k get slo -n "$1" "$2" -o json | jq -r '.status.conditions[]? | select(.type == "Ready") | "\(.status) \(.reason) \(.message)"'; }
rule_spec() { k get prometheusrule -n "$1" "$2" -o json | jq -S .spec; }
event_for() {  # event_for NS NAME REASON: an events.k8s.io Event by the operator
  k get events.events.k8s.io -n "$1" -o json |
    jq -e --arg n "$2" --arg r "$3" '[.items[] | select(.reason == $r and .regarding.name == $n and .reportingController == "nines.dev/operator")] | length > 0'
}

# ---- Phase A: the default values (every namespace, ConfigMap dashboards) -----------------------
mark_a=$(audit_mark)
k delete lease -n "$release_ns" nines-operator --ignore-not-found >/dev/null
start_operator A
wait_for "phase A: the operator leads on the Lease $release_ns/nines-operator (created) and says so in nines_leader" leading
wait_for "phase A: /healthz and /readyz answer ok (the chart's probes; ready once the caches have synced)" probes_answer
k apply -f examples/ >/dev/null
objectives=$(k get slo -A -o name | wc -l)
all_ready() { [ "$(ready_count)" -eq "$objectives" ]; }
wait_for "phase A: all $objectives example objectives Ready" all_ready
no_data() { k get slo -A -o json | jq -e --argjson n "$objectives" '[.items[] | select(.status.state == "NoData" and (.status.conditions[]? | .type == "FastBurn" and .reason == "PrometheusUnavailable"))] | length == $n' >/dev/null; }
wait_for "phase A: the status loop writes every objective NoData (the default Prometheus does not resolve here)" no_data
dashboards_of() { k get configmap -A -l app.kubernetes.io/managed-by=nines -o name | wc -l; }
check "phase A: a dashboard ConfigMap for each" test "$(dashboards_of)" -eq "$objectives"

k apply -f - >/dev/null <<'EOF'
apiVersion: nines.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: broken, namespace: shop}
spec:
  service: broken
  objective: "99.9"
  indicator: {ratio: {total: a_total, bad: 'b_total{code=~"5(.."}'}}
EOF
# A regular expression only the operator's parser judges: the CRD admits it.
invalid() { condition shop broken | grep -q '^False InvalidSpec spec.indicator.ratio.bad'; }
wait_for "phase A: an invalid objective is Ready=False InvalidSpec" invalid
wait_for "phase A: ... and an Event says why (events.k8s.io, created)" event_for shop broken InvalidSpec

k patch slo -n shop checkout-availability --type merge -p '{"spec":{"objective":"99.5"}}' >/dev/null
edited() { rule_spec shop checkout-availability | grep -q 'vector(0.995)'; }
wait_for "phase A: editing an objective updates its rules" edited
before=$(rule_spec shop checkout-latency)
k delete prometheusrule -n shop checkout-latency >/dev/null
restored() { [ "$(rule_spec shop checkout-latency)" = "$before" ]; }
wait_for "phase A: a generated rule deleted by hand is restored" restored

k apply -f - >/dev/null <<'EOF'
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: theirs, namespace: shop, labels: {team: other}}
spec: {groups: [{name: theirs, rules: [{record: "x:y:z", expr: "vector(1)"}]}]}
EOF
sed 's/name: checkout-availability/name: theirs/' examples/availability.yaml | k apply -f - >/dev/null
conflict() { condition shop theirs | grep -q '^False OwnershipConflict PrometheusRule shop/theirs'; }
wait_for "phase A: a same-named rule it does not own: OwnershipConflict" conflict
k delete slo -n shop theirs >/dev/null

k delete slo -n shop catalog-availability >/dev/null
collected() { ! k get prometheusrule -n shop catalog-availability && ! k get configmap -n shop catalog-availability-slo-dashboard; }
wait_for "phase A: deleting an objective removes its rules and dashboard (garbage collection)" collected
objectives=$((objectives - 1))
stop_phase
end_a=$(audit_mark)

# ---- Phase B: namespaces shop and edge (a Role in each), GrafanaDashboards ---------------------
hm upgrade "$release" "$chart" -n "$release_ns" \
  --set 'namespaces={shop,edge}' --set dashboards.mode=grafana-operator >/dev/null
ok "phase B: helm upgrade to namespaces={shop,edge}, dashboards.mode=grafana-operator"
cluster_grants() { k get clusterrole,clusterrolebinding -l app.kubernetes.io/instance=$release -o name | wc -l; }
check "phase B: no ClusterRole or ClusterRoleBinding is left" test "$(cluster_grants)" = 0
mark_b=$(audit_mark)
k delete lease -n "$release_ns" nines-operator --ignore-not-found >/dev/null
start_operator B
wait_for "phase B: the operator leads" leading
# New objectives in both watched namespaces: rules are created there too.
for ns in shop edge; do
  sed -e "s/name: checkout-availability/name: new-in-$ns/" -e "s/namespace: shop/namespace: $ns/" \
    examples/availability.yaml | k apply -f - >/dev/null
done
watched=$(($(k get slo -n shop -o name | wc -l) - 1 + $(k get slo -n edge -o name | wc -l)))
ready_b() {
  [ "$(k get grafanadashboards -n shop -l app.kubernetes.io/managed-by=nines -o name | wc -l)" -eq $(($(k get slo -n shop -o name | wc -l) - 1)) ] &&
    [ "$(k get grafanadashboards -n edge -l app.kubernetes.io/managed-by=nines -o name | wc -l)" -eq "$(k get slo -n edge -o name | wc -l)" ] &&
    condition shop checkout-availability | grep -q 'True Reconciled PrometheusRule and dashboard GrafanaDashboard applied'
}
wait_for "phase B: the $watched valid objectives in shop and edge get GrafanaDashboards" ready_b
stale_gone() { [ "$(k get configmap -n shop -l app.kubernetes.io/managed-by=nines -o name | wc -l)" -eq 0 ] && [ "$(k get configmap -n edge -l app.kubernetes.io/managed-by=nines -o name | wc -l)" -eq 0 ]; }
wait_for "phase B: their ConfigMap dashboards, of the mode no longer configured, are removed" stale_gone
k apply -f - >/dev/null <<'EOF'
apiVersion: nines.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: broken-too, namespace: edge}
spec:
  service: broken
  objective: "99.9"
  indicator: {ratio: {total: a_total, bad: 'b_total{code=~"5(.."}'}}
EOF
wait_for "phase B: an invalid objective in edge gets its Event" event_for edge broken-too InvalidSpec
sed -e 's/name: checkout-availability/name: login-unwatched/' -e 's/namespace: shop/namespace: identity/' \
  examples/availability.yaml | k apply -f - >/dev/null
unwatched_untouched() {
  ! k get prometheusrule -n identity login-unwatched >/dev/null 2>&1 &&
    [ -z "$(k get slo -n identity login-unwatched -o jsonpath='{.status}')" ]
}
# The watched namespaces answer first; identity is not watched, so nothing answers there.
k patch slo -n edge gateway-availability --type merge -p '{"spec":{"objective":"99.9"}}' >/dev/null
edited_b() { rule_spec edge gateway-availability | grep -q 'vector(0.999)'; }
wait_for "phase B: an edit in a watched namespace reaches its rules" edited_b
check "phase B: an objective in identity, not watched, is left alone (no rule, no status)" unwatched_untouched
stop_phase
end_b=$(audit_mark)

# ---- Phase C: back to the defaults; the GrafanaDashboards of the old mode are removed -----------
# --reset-values: without values on the command line helm would reuse phase B's.
hm upgrade "$release" "$chart" -n "$release_ns" --reset-values >/dev/null
ok "phase C: helm upgrade back to the default values"
mark_c=$(audit_mark)
k delete lease -n "$release_ns" nines-operator --ignore-not-found >/dev/null
start_operator C
wait_for "phase C: the operator leads" leading
all_valid=$(($(k get slo -A -o name | wc -l) - 2))
all_ready_c() { [ "$(ready_count)" -eq "$all_valid" ]; }
wait_for "phase C: all $all_valid valid objectives Ready, identity's too" all_ready_c
grafana_gone() { [ "$(k get grafanadashboards -A -l app.kubernetes.io/managed-by=nines -o name | wc -l)" -eq 0 ]; }
wait_for "phase C: the GrafanaDashboards of the mode no longer configured are removed" grafana_gone
stop_phase
end_c=$(audit_mark)

# =================================================================================================
# The audit log: what the ServiceAccount used against what the chart grants
# =================================================================================================
# granted: "NAMESPACE VERB GROUP/RESOURCE" per (Cluster)Role rule of the installed release, "*" for
# a ClusterRole; used: the same from the audit log's entries of the ServiceAccount. A server-side
# apply that created its object (201) was also authorized as create.
granted() {
  jq -r '.[] | select(.kind == "Role" or .kind == "ClusterRole") | (.metadata.namespace // "*") as $ns |
    .rules[] | .verbs[] as $v | .apiGroups[] as $g | .resources[] as $r |
    "\($ns) \($v) \(if $g == "" then "core" else $g end)/\($r)"' "$1" | sort -u
}
audit_entries() {  # audit_entries FROM TO: the ServiceAccount's resource requests, as JSON lines
  sed -n "$(($1 + 1)),$2p" "$audit_log" |
    jq -c --arg u "$sa_user" 'select(.user.username == $u and .objectRef != null and .objectRef.resource != null)'
}
used() {
  jq -r '"\(.objectRef.namespace // "-") \(.verb) \(.objectRef.apiGroup // "core" | if . == "" then "core" else . end)/\(.objectRef.resource)\(if .objectRef.subresource then "/" + .objectRef.subresource else "" end)",
    (select(.verb == "patch" and .responseStatus.code == 201) | "\(.objectRef.namespace // "-") create \(.objectRef.apiGroup // "core" | if . == "" then "core" else . end)/\(.objectRef.resource)")' |
    sort | uniq -c | awk '{ print $2, $3, $4, $1 }'
}
# compare PHASE FROM TO INSTALLED-JSON EXPECTED-UNUSED...: no 403; every used (verb, resource) is
# granted; the granted ones never used are exactly the expected (justified in docs/install.md).
compare() {
  local p=$1 from=$2 to=$3 installed_json=$4
  shift 4
  audit_entries "$from" "$to" >"$work/audit-$p.jsonl"
  granted "$installed_json" >"$work/granted-$p"
  used <"$work/audit-$p.jsonl" >"$work/used-$p"
  local forbidden missing unused expected
  forbidden=$(jq -r 'select(.responseStatus.code == 403 or .annotations["authorization.k8s.io/decision"] == "forbid") | "\(.verb) \(.requestURI)"' "$work/audit-$p.jsonl" | sort -u)
  # used, not granted (in its namespace, or by a ClusterRole)
  missing=$(awk 'NR == FNR { g[$1 " " $2 " " $3] = 1; next }
    !(($1 " " $2 " " $3) in g) && !(("* " $2 " " $3) in g) { print $2, $3, "in", ($1 == "-" ? "all namespaces" : $1) }' \
    "$work/granted-$p" "$work/used-$p")
  # granted, never used in any namespace (the Roles of the watched namespaces are one role, copied)
  unused=$(awk 'NR == FNR { u[$2 " " $3] = 1; next } !(($2 " " $3) in u) { print $2, $3 }' \
    "$work/used-$p" "$work/granted-$p" | sort -u)
  expected=$(printf '%s\n' "$@" | sed '/^$/d' | sort -u)
  echo "phase $p: the ServiceAccount's requests in the audit log ($(wc -l <"$work/audit-$p.jsonl") entries), per namespace, verb and resource:"
  sed 's/^-/(all namespaces)/; s/^/  /' "$work/used-$p"
  if [ -n "$forbidden" ]; then not_ok "phase $p: the audit log has 403s: $forbidden"; else ok "phase $p: no request of $sa_user was forbidden (audit log)"; fi
  if [ -n "$missing" ]; then not_ok "phase $p: used but not granted: $missing"; else ok "phase $p: every (verb, resource) used is granted"; fi
  if [ "$unused" = "$expected" ]; then
    ok "phase $p: every granted verb was used, but the justified: $(echo "$unused" | paste -sd, | sed 's/,/, /g')"
  else
    not_ok "phase $p: granted but unused: [$(echo "$unused" | paste -sd,)]; expected [$(echo "$expected" | paste -sd,)]"
  fi
}
if [ -n "$audit_log" ]; then
  # finalizers update: an admission check when an object is created with blockOwnerDeletion, no
  # request of its own (proven below). grafanadashboards delete: only when a GrafanaDashboard of the
  # old mode is left (phase C does that). Phase B's Roles: the Lease was created, all else used.
  compare A "$mark_a" "$end_a" "$work/installed-A.json" \
    "update nines.dev/servicelevelobjectives/finalizers" "delete grafana.integreatly.org/grafanadashboards"
  compare B "$mark_b" "$end_b" "$work/installed-B.json" "update nines.dev/servicelevelobjectives/finalizers"
  # Phase C restores dashboards and reconciles identity's objective, nothing more: no invalid
  # objective is new, so no Event.
  compare C "$mark_c" "$end_c" "$work/installed-C.json" \
    "update nines.dev/servicelevelobjectives/finalizers" "create events.k8s.io/events"
  # Phases A and C run the same ClusterRole: together they use all of it but the finalizers.
  cat "$work/used-A" "$work/used-C" >"$work/used-AC"
  unused_ac=$(awk 'NR == FNR { u[$2 " " $3] = 1; next } !(($2 " " $3) in u) { print $2, $3 }' \
    "$work/used-AC" "$work/granted-A" | sort -u)
  check "phases A and C together: of the ClusterRole and the Lease's Role, all is used but the finalizers (an admission check)" \
    test "$unused_ac" = "update nines.dev/servicelevelobjectives/finalizers"
  namespaces_b=$(jq -r '.objectRef.namespace // "(all namespaces)"' "$work/audit-B.jsonl" | sort -u | paste -sd' ')
  check "phase B: the ServiceAccount asked for nothing outside shop, edge and $release_ns ($namespaces_b)" \
    test "$namespaces_b" = "$(printf '%s\n' edge "$release_ns" shop | sort | paste -sd' ')"
else
  skip "the audit comparison (no audit log: a cluster this test did not start, or one started without CONTROLPLANE_AUDIT=1)"
fi

# ---- What admission checks without a request of its own: taken away, it fails ----------------
# A ClusterRole like the chart's, less one permission, bound to a ServiceAccount name that the admin
# impersonates; the chart's own ServiceAccount, impersonated the same way, succeeds.
uid=$(k get slo -n shop checkout-availability -o jsonpath='{.metadata.uid}')
cat >"$work/owned-rule.yaml" <<EOF
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: nines-chart-probe
  namespace: shop
  ownerReferences:
  - {apiVersion: nines.dev/v1alpha1, kind: ServiceLevelObjective, name: checkout-availability, uid: "$uid", controller: true, blockOwnerDeletion: true}
spec: {groups: []}
EOF
probe_role() {  # probe_role NAME JQ-FILTER-ON-RULES
  jq --arg n "nines-chart-probe-$1" --arg ns "$release_ns" --argjson rules "$(jq ".[] | select(.kind == \"ClusterRole\") | .rules | $2" "$work/installed-C.json")" -n '
    {apiVersion: "v1", kind: "List", items: [
      {apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: {name: $n, labels: {"nines.dev/chart-test": "probe"}}, rules: $rules},
      {apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: {name: $n, labels: {"nines.dev/chart-test": "probe"}},
       roleRef: {apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: $n},
       subjects: [{kind: "ServiceAccount", name: $n, namespace: $ns}]}]}' | k apply -f - >/dev/null
}
as_apply() {  # as_apply SERVICEACCOUNT FILE: server-side apply, dry run, as that ServiceAccount
  k apply --server-side --dry-run=server --field-manager=nines -f "$2" --as "system:serviceaccount:$release_ns:$1" 2>&1
}
probe_role no-finalizers 'map(select(.resources != ["servicelevelobjectives/finalizers"]))'
probe_role no-create 'map(if .resources == ["prometheusrules"] then .verbs -= ["create"] else . end)'
if out=$(as_apply "$sa" "$work/owned-rule.yaml"); then
  ok "the chart's ServiceAccount may create a PrometheusRule owned by an objective (blockOwnerDeletion) through apply"
else
  not_ok "the chart's ServiceAccount cannot create an owned PrometheusRule: $out"
fi
if out=$(as_apply nines-chart-probe-no-finalizers "$work/owned-rule.yaml"); then
  if $owner_refs_enforced; then
    not_ok "without update on servicelevelobjectives/finalizers it still could: the grant would be unneeded"
  else
    skip "finalizers: this cluster does not enforce OwnerReferencesPermissionEnforcement"
  fi
elif grep -q 'cannot set blockOwnerDeletion' <<<"$out"; then
  ok "... without update on servicelevelobjectives/finalizers it cannot: $(grep -o 'cannot set blockOwnerDeletion[^:]*' <<<"$out" | head -1)"
else
  not_ok "without finalizers it failed for another reason: $out"
fi
sed -e '/ownerReferences:/,/blockOwnerDeletion/d' -e 's/nines-chart-probe/nines-chart-probe-new/' "$work/owned-rule.yaml" >"$work/new-rule.yaml"
if out=$(as_apply nines-chart-probe-no-create "$work/new-rule.yaml"); then
  not_ok "without create on prometheusrules a server-side apply still created one: the grant would be unneeded"
elif grep -q 'cannot create resource "prometheusrules"' <<<"$out"; then
  ok "... and without create on prometheusrules, a server-side apply of a new one is forbidden (patch alone updates only)"
else
  not_ok "without create it failed for another reason: $out"
fi
k delete clusterrole,clusterrolebinding -l nines.dev/chart-test=probe >/dev/null

echo "chart_test: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
