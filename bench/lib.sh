# Shell helpers of the operator benchmarks (operator_bench.sh, status_bench.sh). Source it after
# setting `work` (a private temporary folder), `timeout` (seconds, for every wait) and `namespaces`
# (an array); it only defines functions, and every wait in them is bounded.
#
#   bench_cluster                 a cluster: NINES_E2E_KUBECONFIG's, else the local control plane
#                                 (controlplane.sh up; the caller runs `down` at exit when
#                                 own_control_plane is true); sets KUBECTL, cp_pids (kube-apiserver
#                                 and etcd, local only) and server_version
#   bench_client CLIENT           curl (with the kubeconfig's certificate or token) or kubectl, as
#                                 asked and possible; sets client and server
#   write_objectives N DIR        bench/objectives.awk
#   index_objects DIR             "API-PATH FILE" for every one-object YAML file under DIR
#   apply_objects INDEX           server-side applies, 4 at a time; fails unless all are 2xx
#   table PATH [SELECTOR]         the cells of a server-side Table list, tab-separated, a row a line
#   count_rows PATH [SELECTOR], count_state STATE, count_ready
#   create_namespaces, delete_namespaces
#   cpu_ticks PID..., cpu_seconds TICKS, hwm_mib PID, rss_mib PID
#   apiserver_requests, apiserver_latency, latency_report BEFORE AFTER
#   operator_metric NAME [LABELS], operator_requests_by_kind  (from $metrics_url)
#   free_port, log, now, seconds_since START

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
slo_path=/apis/nines.dev/v1alpha1/servicelevelobjectives
rule_path=/apis/monitoring.coreos.com/v1/prometheusrules
configmap_path=/api/v1/configmaps
managed=app.kubernetes.io/managed-by=nines
ticks=$(getconf CLK_TCK)
own_control_plane=false
cp_pids=()
metrics_url=

log() { printf '[%5ds] %s\n' "$SECONDS" "$*" >&2; }
now() { date +%s%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }
k() { "$KUBECTL" "$@"; }

free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

bench_cluster() {
  if [ -n "${NINES_E2E_KUBECONFIG:-}" ]; then
    export KUBECONFIG=$NINES_E2E_KUBECONFIG
  else
    own_control_plane=true
    log "starting the local control plane"
    local environment
    environment=$("$bench_root/e2e/controlplane/controlplane.sh" up --crds "$bench_root/crds")
    eval "$environment"
  fi
  if [ -z "${KUBECTL:-}" ]; then
    if command -v kubectl >/dev/null; then
      KUBECTL=kubectl
    else
      "$bench_root/e2e/controlplane/build.sh" --with-kubectl >&2
      KUBECTL="$("$bench_root/e2e/controlplane/build.sh" --print-dir)/kubectl"
    fi
  fi
  $own_control_plane || k apply --server-side -f "$bench_root/crds/" >/dev/null
  server_version=$(k version -o json 2>/dev/null | jq -r '.serverVersion.gitVersion')
  if $own_control_plane; then
    local run_dir=${CONTROLPLANE_RUN_DIR:-${CONTROLPLANE_CACHE:-$bench_root/e2e/.cache}/run} component
    for component in kube-apiserver etcd; do cp_pids+=("$(cat "$run_dir/pids/$component.pid")"); done
  fi
}

# curl needs the kubeconfig's certificate or token (no exec plugins); otherwise kubectl.
bench_client() {
  client=$1
  mkdir -m 700 "$work/cred"
  local kc=$work/cred/kubeconfig.json auth=() token code
  if k config view --raw --flatten --minify -o json >"$kc" 2>/dev/null; then
    server=$(jq -r '.clusters[0].cluster.server // ""' "$kc")
    jq -r '.clusters[0].cluster["certificate-authority-data"] // ""' "$kc" | base64 -d >"$work/cred/ca.pem"
    jq -r '.users[0].user["client-certificate-data"] // ""' "$kc" | base64 -d >"$work/cred/cert.pem"
    jq -r '.users[0].user["client-key-data"] // ""' "$kc" | base64 -d >"$work/cred/key.pem"
    token=$(jq -r '.users[0].user.token // ""' "$kc")
    if [ -s "$work/cred/ca.pem" ]; then
      auth+=("cacert = \"$work/cred/ca.pem\"")
    elif [ "$(jq -r '.clusters[0].cluster["insecure-skip-tls-verify"] // false' "$kc")" = true ]; then
      auth+=("insecure")
    fi
    if [ -s "$work/cred/cert.pem" ] && [ -s "$work/cred/key.pem" ]; then
      auth+=("cert = \"$work/cred/cert.pem\"" "key = \"$work/cred/key.pem\"")
    elif [ -n "$token" ]; then
      auth+=("header = \"Authorization: Bearer $token\"")
    else
      auth=()
    fi
  fi
  if ((${#auth[@]} == 0)); then
    [ "$client" = curl ] && log "the kubeconfig's credentials are neither a certificate nor a token: using kubectl"
    client=kubectl
  fi
  auth+=("http1.1" "silent")
  printf '%s\n' "${auth[@]}" >"$work/cred/auth.cfg"
  if [ "$client" = curl ]; then
    code=$(curl -K "$work/cred/auth.cfg" -o /dev/null -w '%{http_code}' "$server/version" || true)
    [ "$code" = 200 ] || { echo "bench: curl cannot reach $server with the kubeconfig's credentials (HTTP $code)" >&2; return 1; }
  fi
}

write_objectives() {  # write_objectives COUNT DIR
  mkdir -p "$2"
  awk -v n="$1" -v dir="$2" -v namespaces="${#namespaces[@]}" -f "$bench_root/bench/objectives.awk"
}

# index_objects DIR: for every one-object YAML file under DIR, "API-PATH FILE", the path where a
# server-side apply of it goes (the object's own apiVersion, kind, namespace and name).
index_objects() {
  find "$1" -type f -name '*.yaml' | sort | xargs awk '
    function flush() {
      if (file == "") return
      if (kind == "PrometheusRule") plural = "prometheusrules"
      else if (kind == "ConfigMap") plural = "configmaps"
      else if (kind == "ServiceLevelObjective") plural = "servicelevelobjectives"
      else if (kind == "GrafanaDashboard") plural = "grafanadashboards"
      else { print "bench: unknown kind " kind " in " file > "/dev/stderr"; exit 1 }
      prefix = index(api, "/") ? "/apis/" api : "/api/" api
      print prefix "/namespaces/" ns "/" plural "/" name, file
    }
    FNR == 1 { flush(); file = FILENAME; api = kind = ns = name = ""; meta = 0 }
    /^apiVersion: / { api = $2 }
    /^kind: / { kind = $2 }
    /^metadata:/ { meta = 1; next }
    /^[^ ]/ { meta = 0 }
    meta && /^  name: / { name = $2 }
    meta && /^  namespace: / { ns = $2 }
    END { flush() }'
}

# apply_objects INDEX: applies every object of INDEX server-side, 4 at a time; fails unless every
# answer is 2xx.
apply_objects() {
  local index=$1
  if [ "$client" = curl ]; then
    awk -v server="$server" -v auth="$work/cred/auth.cfg" '
      BEGIN { while ((getline line < auth) > 0) opts = opts line "\n" }
      { if (NR > 1) print "next"
        printf "url = \"%s%s?fieldManager=bench&force=true\"\nrequest = \"PATCH\"\n", server, $1
        printf "header = \"Content-Type: application/apply-patch+yaml\"\ndata-binary = \"@%s\"\n", $2
        printf "output = \"/dev/null\"\nwrite-out = \"%%{http_code} %%{url}\\n\"\n%s", opts }' "$index" >"$work/curl.cfg"
    curl --parallel --parallel-max 4 -K "$work/curl.cfg" >"$work/curl.out" 2>"$work/curl.err" || true
    local good
    good=$(awk '$1 ~ /^2/' "$work/curl.out" | wc -l)
    if [ "$good" -ne "$(wc -l <"$index")" ]; then
      echo "bench: $good of $(wc -l <"$index") applies succeeded:" >&2
      awk '$1 !~ /^2/' "$work/curl.out" | head -5 >&2
      head -5 "$work/curl.err" >&2
      return 1
    fi
  else
    local chunk pids=() failed=0 pid
    for chunk in 0 1 2 3; do
      awk -v c="$chunk" 'NR % 4 == c { print $2 }' "$index" | while read -r f; do echo '---'; cat "$f"; done >"$work/chunk-$chunk.yaml"
    done
    for chunk in 0 1 2 3; do
      k apply --server-side --force-conflicts --field-manager=bench -f "$work/chunk-$chunk.yaml" >/dev/null &
      pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    ((failed == 0)) || { echo "bench: kubectl apply failed" >&2; return 1; }
  fi
}

# table PATH [SELECTOR]: the rows of a server-side Table list of PATH (every namespace), one line
# each: the cells, tab-separated. Cheap: no objects, only the printer columns.
table() {
  local path=$1 selector=${2:-}
  if [ "$client" = curl ]; then
    curl -K "$work/cred/auth.cfg" -fS -G "$server$path" --data-urlencode "includeObject=None" \
      ${selector:+--data-urlencode "labelSelector=$selector"} \
      -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io' |
      jq -r '.rows[]?.cells | map(tostring) | join("\t")'
  else  # kubectl prints the same Table
    k get "$(basename "$path")" -A --no-headers ${selector:+-l "$selector"} |
      awk -v OFS='\t' '{ $1 = ""; sub(/^\t/, ""); print }'
  fi
}
count_rows() { table "$@" | wc -l; }
# State is the objectives' Table's 7th cell (Name, Service, Objective, Window, SLI, Budget, State,
# Age). Without a status loop the operator writes Pending in the same status update as Ready=True.
count_state() { table "$slo_path" | awk -F'\t' -v s="$1" '$7 == s' | wc -l; }
count_ready() {  # Ready=True, from the objects themselves (heavy at 10,000: once, at the end)
  k get slo -A -o json | jq '[.items[] | select(.status.conditions[]? | .type == "Ready" and .status == "True")] | length'
}

create_namespaces() {
  local ns
  for ns in "${namespaces[@]}"; do k create namespace "$ns" --dry-run=client -o yaml; echo '---'; done | k apply -f - >/dev/null
}
delete_namespaces() {
  local start left
  start=$(now)
  k delete namespace "${namespaces[@]}" --ignore-not-found --wait=false >/dev/null
  for _ in $(seq "$timeout"); do
    # Captured first: `| grep -q` would end kubectl with SIGPIPE, a failure under pipefail.
    if left=$(k get namespace "${namespaces[@]}" --ignore-not-found -o name) && [ -z "$left" ]; then
      log "namespaces deleted in $(seconds_since "$start")s"
      return 0
    fi
    sleep 1
  done
  echo "bench: the namespaces were not deleted within ${timeout}s" >&2
  return 1
}

cpu_ticks() {  # cpu_ticks PID...: utime + stime, summed
  local pid total=0 t
  for pid in "$@"; do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
cpu_seconds() { awk -v t="$1" -v hz="$ticks" 'BEGIN { printf "%.1f", t / hz }'; }
hwm_mib() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

apiserver_requests() {  # every request the API server counted, all clients
  k get --raw /metrics | awk '/^apiserver_request_total\{/ { s += $NF } END { printf "%d", s }'
}
# The API server's own request durations, "VERB resource[/sub] count seconds" (all clients), for
# the kinds of the benchmarks; latency_report BEFORE AFTER prints the mean of each in between.
apiserver_latency() {
  k get --raw /metrics | awk '/^apiserver_request_duration_seconds_(sum|count)\{/ &&
      /resource="(servicelevelobjectives|prometheusrules|configmaps|grafanadashboards|events)"/ {
    match($0, /resource="[^"]*"/); r = substr($0, RSTART + 10, RLENGTH - 11)
    match($0, /subresource="[^"]*"/); sub_ = substr($0, RSTART + 13, RLENGTH - 14)
    match($0, /verb="[^"]*"/); v = substr($0, RSTART + 6, RLENGTH - 7)
    key = v " " r (sub_ == "" ? "" : "/" sub_)
    if ($1 ~ /_sum\{/) s[key] += $NF; else c[key] += $NF }
    END { for (key in c) print key, c[key], s[key] }'
}
latency_report() {
  awk 'NR == FNR { n[$1 " " $2] = $3; t[$1 " " $2] = $4; next }
    $1 != "WATCH" { key = $1 " " $2; dn = $3 - n[key]; dt = $4 - t[key]
      if (dn > 0) printf "  %-6s %-30s %8d  %7.2f ms\n", $1, $2, dn, 1000 * dt / dn }' "$1" "$2" | sort -k3,3nr
}

operator_metric() {  # operator_metric NAME [LABELS]: the sum of its samples (whose labels contain LABELS)
  curl -fsS "$metrics_url" | awk -v m="$1" -v l="${2:-}" '
    ($1 == m || index($1, m "{") == 1) && index($1, l) { s += $NF } END { printf "%.10g", s }'
}
operator_requests_by_kind() {  # "VERB resource code count" of nines_api_requests_total, largest first
  curl -fsS "$metrics_url" | awk '/^nines_api_requests_total\{/ {
      match($0, /verb="[^"]*"/); v = substr($0, RSTART + 6, RLENGTH - 7)
      match($0, /resource="[^"]*"/); r = substr($0, RSTART + 10, RLENGTH - 11)
      match($0, /code="[^"]*"/); c = substr($0, RSTART + 6, RLENGTH - 7)
      s[v " " r " " c] += $NF }
    END { for (key in s) print key, s[key] }' | sort -k4,4nr
}

# start_operator LOG ARGS...: nines operator on a free metrics port, waited for until it has synced;
# sets operator_pid and metrics_url.
start_operator() {
  local log_file=$1 port
  shift
  port=$(free_port)
  metrics_url=http://127.0.0.1:$port/metrics
  "$nines" operator --leader-elect=false --log-format text --metrics-address "127.0.0.1:$port" "$@" \
    >"$log_file" 2>&1 &
  operator_pid=$!
  for _ in $(seq 600); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    kill -0 "$operator_pid" 2>/dev/null || { echo "bench: the operator exited:" >&2; tail -5 "$log_file" >&2; return 1; }
    sleep 0.1
  done
  echo "bench: the operator did not sync within 60s" >&2
  return 1
}
stop_operator() {
  [ -n "${operator_pid:-}" ] || return 0
  kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null || true
  operator_pid=
}
