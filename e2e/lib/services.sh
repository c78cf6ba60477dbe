# Shell helpers for the tests and the demo that run local processes on loopback: free ports,
# nines-workload, a real Prometheus and its rules. Source it: it only defines functions, and every
# wait in them is a bounded poll.
#
#   free_port                         a port nothing answers on
#   start_workload BIN LOG ARGS...    starts nines-workload on a free port: workload_pid, workload_url
#   start_prometheus DIR [PORT [ARGS]] starts Prometheus on DIR/prometheus.yml, data in DIR/data,
#                                     reload enabled: prometheus_pid, prometheus_url
#   sync_rules KUBECTL FILE URL       forever: writes every PrometheusRule that nines manages into
#                                     FILE as one rule file and reloads Prometheus when it changed

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

start_workload() {  # start_workload BINARY LOG ARGS...: sets workload_pid and workload_url
  local binary=$1 log=$2 url=
  shift 2
  "$binary" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  workload_pid=$!
  for _ in $(seq 100); do
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -n 1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || return 1
  workload_url=$url
}

# start_prometheus DIR [PORT [ARGS...]]: sets prometheus_pid and prometheus_url. A given PORT is
# used as is (a restart on the same address); without one a free port is picked, and tried again
# if another process took it first.
start_prometheus() {
  local dir=$1 fixed_port=${2:-} port
  shift 2 2>/dev/null || shift $#
  prometheus_url=
  for _ in 1 2 3; do
    port=${fixed_port:-$(free_port)} || return 1
    prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
      --web.listen-address="127.0.0.1:$port" --web.enable-lifecycle "$@" \
      >>"$dir/prometheus.log" 2>&1 &
    prometheus_pid=$!
    for _ in $(seq 300); do
      if curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
        prometheus_url=http://127.0.0.1:$port
        return 0
      fi
      kill -0 "$prometheus_pid" 2>/dev/null || break
      sleep 0.2
    done
    kill "$prometheus_pid" 2>/dev/null || true
    wait "$prometheus_pid" 2>/dev/null || true
  done
  return 1
}

# What prometheus-operator does for a Prometheus that selects nines's rules, without a kubelet:
# the rule groups of every PrometheusRule labelled app.kubernetes.io/managed-by=nines, in one file,
# and a reload when it changed. Runs until killed.
sync_rules() {
  local kubectl=$1 file=$2 url=$3
  while true; do
    if "$kubectl" get prometheusrules -A -l app.kubernetes.io/managed-by=nines -o json 2>/dev/null |
      jq '{groups: [.items[] | .spec.groups[]]}' >"$file.next" 2>/dev/null; then
      cmp -s "$file.next" "$file" || mv "$file.next" "$file"
    fi
    # Reloaded until Prometheus took it: it may be down for a while.
    if ! cmp -s "$file" "$file.loaded" && curl -fsS -X POST "$url/-/reload" >/dev/null 2>&1; then
      cp "$file" "$file.loaded"
    fi
    sleep 2
  done
}
