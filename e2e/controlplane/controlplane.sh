#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for the e2e tests: etcd,
# kube-apiserver and kube-controller-manager, built by build.sh. See README.md.
#
# Usage:
#   controlplane.sh up [--crds DIR]... [--no-third-party]
#       Start it (or find it running), install the CRDs, wait until they are
#       Established, and print `export KUBECONFIG=...` on stdout (progress goes
#       to stderr), so `eval "$(controlplane.sh up)"` works.
#       --crds DIR        also apply every *.yaml / *.yml / *.json in DIR
#       --no-third-party  skip the prometheus-operator and grafana-operator CRDs
#   controlplane.sh env      print `export KUBECONFIG=...` if it is running
#   controlplane.sh status   say what runs, exit 0 if it is ready
#   controlplane.sh down     stop it and remove its state (the run folder)
#   controlplane.sh restart-apiserver [--crash] [--compact]
#       Stop kube-apiserver and start it again on the same port and data: clients'
#       connections drop and their watches end, as in an upgrade. --crash kills it
#       at once instead (a graceful stop takes 15s or more, a crash a few seconds in
#       all, shorter than a leader's renew deadline). With --compact, etcd's history
#       is compacted meanwhile, so that a watch resumed from any earlier
#       resourceVersion gets 410 Gone and the client must list again.
#   controlplane.sh logs     print where the components' logs are
#   controlplane.sh crds [--crds DIR]... [--no-third-party]
#       Install the same CRDs into the cluster that $KUBECONFIG points at
#       (any cluster: kind, ...), and wait until they are Established.
# Environment:
#   CONTROLPLANE_CACHE        cache root (default: e2e/.cache beside this folder)
#   CONTROLPLANE_RUN_DIR      state folder (default: $CONTROLPLANE_CACHE/run)
#   CONTROLPLANE_THIRD_PARTY  third-party CRDs (default: third_party/ in the
#                             repository, a copy of the team's shared ones)
#   CONTROLPLANE_TIMEOUT      seconds to wait for each component (default 180)
#   CONTROLPLANE_CONTROLLERS  kube-controller-manager --controllers (default *)
#   CONTROLPLANE_AUDIT        1: kube-apiserver writes an audit log of every request, at the
#                             Metadata level (who, verb, resource, namespace, name, code), to
#                             $CONTROLPLANE_RUN_DIR/audit.log
#   CONTROLPLANE_APISERVER_ARGS  further kube-apiserver flags, separated by spaces, e.g.
#                             --enable-admission-plugins=OwnerReferencesPermissionEnforcement
#                             (these two are read when `up` starts it; a restart keeps them)
#   KUBECTL                   kubectl to use (default: /usr/bin/kubectl, else
#                             kubectl on PATH, else the one build.sh builds)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${CONTROLPLANE_CACHE:-$repo/e2e/.cache}"
run="${CONTROLPLANE_RUN_DIR:-$cache/run}"
third_party="${CONTROLPLANE_THIRD_PARTY:-$repo/third_party}"
timeout="${CONTROLPLANE_TIMEOUT:-180}"
export CONTROLPLANE_CACHE="$cache"

log() { echo "controlplane: $*" >&2; }
die() { echo "controlplane: error: $*" >&2; exit 1; }

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

for tool in openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is needed and not installed"
done

# ---------------------------------------------------------------- processes

pid_file() { echo "$run/pids/$1.pid"; }

# The pid in $1's pid file, if that process is still the binary we started.
live_pid() {
  local f pid exe
  f="$(pid_file "$1")"
  [[ -f $f ]] || return 1
  pid="$(cat "$f")"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  [[ ${exe% (deleted)} == */"$1" ]] || return 1
  echo "$pid"
}

# A zombie has no exe: it counts as gone.
alive() { readlink "/proc/$1/exe" >/dev/null 2>&1; }

start() { # name, args...
  local name="$1"; shift
  mkdir -p "$run/pids" "$run/logs"
  # nohup: immune to the terminal going away; </dev/null: never waits on input.
  # Not our process group's signals either, so ^C in the caller stops nothing.
  # 9>&-: the daemon must not hold the lock that this script holds.
  nohup "$bindir/$name" "$@" >"$run/logs/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$(pid_file "$name")"
}

stop() { # name [KILL]: TERM, then KILL after 15s; KILL at once as a crash would
  local name="$1" signal="${2:-TERM}" pid i
  pid="$(live_pid "$name")" || { rm -f "$(pid_file "$name")"; return 0; }
  kill "-$signal" "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$name (pid $pid) did not stop in 15s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  rm -f "$(pid_file "$name")"
  log "stopped $name (pid $pid)"
}

# Fail with the end of a component's log if it has died.
check_alive() {
  live_pid "$1" >/dev/null && return 0
  # Just started: the forked shell may not have exec'd the binary yet (seen under load). A
  # process that is still there counts; one that exited has no exe (a zombie) or no pid.
  local pid
  pid="$(cat "$(pid_file "$1")" 2>/dev/null)" && [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && return 0
  if grep -q 'address already in use' "$run/logs/$1.log" 2>/dev/null; then
    # Another process took a port between pick_port and the bind: start_all tries new ones.
    log "$1 could not listen: $(grep -m 1 -o 'listen tcp [^ ]*: bind: address already in use' "$run/logs/$1.log" || true)"
    exit "$port_taken"
  fi
  echo "controlplane: error: $1 exited; the end of $run/logs/$1.log:" >&2
  grep -v 'FLAG: --' "$run/logs/$1.log" | tail -n 30 >&2 || true
  exit 1
}

# ---------------------------------------------------------------- ports

port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Htln "sport = :$1") ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

# pick_port FILE: writes a port that nothing listens on and that this script has not picked before
# into FILE. Not `$(free_port)`: the ports picked must be remembered in this shell, not in a
# command substitution's, or two components can get the same one (the ports are all picked
# before the first component binds, so port_in_use cannot see it).
declare -A taken=()
pick_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    [[ -z ${taken[$p]:-} ]] || continue
    port_in_use "$p" && continue
    taken[$p]=1
    echo "$p" >"$1"
    return 0
  done
  die "no free port found on 127.0.0.1"
}

# ---------------------------------------------------------------- certificates

gen_certs() {
  local d="$run/pki"
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    ca() { # name
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key" -out "$1.crt" -days 3650 -subj "/CN=nines-e2e-$1" 2>/dev/null
    }
    leaf() { # ca, name, subject, extensions
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$2.key" -out "$2.csr" -subj "$3" 2>/dev/null
      printf '%s\n' "$4" >"$2.ext"
      openssl x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" -CAcreateserial \
        -days 3650 -out "$2.crt" -extfile "$2.ext" 2>/dev/null
      rm -f "$2.csr" "$2.ext"
    }
    ca ca
    leaf ca apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    client_ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    leaf ca admin "/O=system:masters/CN=nines-e2e-admin" "$client_ext"
    leaf ca controller-manager "/CN=system:kube-controller-manager" "$client_ext"
    # The front proxy (request-header authentication), as kubeadm sets it up:
    # aggregated API servers and the controller manager look for it.
    ca front-proxy-ca
    leaf front-proxy-ca front-proxy-client "/CN=front-proxy-client" "$client_ext"
    # Service-account tokens: signed by the apiserver (TokenRequest) and by
    # the controller manager (legacy secrets), checked with the public key.
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
    # A static bearer token for clients that do not do client certificates.
    openssl rand -hex 24 >admin.token
    echo "$(cat admin.token),nines-e2e-admin-token,nines-e2e-admin-token,system:masters" >tokens.csv
  )
}

b64() { base64 -w0 <"$1"; }

write_kubeconfigs() { # apiserver port
  local server="https://127.0.0.1:$1" d="$run/pki"
  cat >"$run/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nines-e2e
  cluster:
    server: $server
    certificate-authority-data: $(b64 "$d/ca.crt")
users:
- name: nines-e2e-admin
  user:
    client-certificate-data: $(b64 "$d/admin.crt")
    client-key-data: $(b64 "$d/admin.key")
- name: nines-e2e-admin-token
  user:
    token: $(cat "$d/admin.token")
contexts:
- name: nines-e2e
  context: {cluster: nines-e2e, user: nines-e2e-admin}
- name: nines-e2e-token
  context: {cluster: nines-e2e, user: nines-e2e-admin-token}
current-context: nines-e2e
EOF
  cat >"$run/controller-manager.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: nines-e2e
  cluster:
    server: $server
    certificate-authority: $d/ca.crt
users:
- name: controller-manager
  user:
    client-certificate: $d/controller-manager.crt
    client-key: $d/controller-manager.key
contexts:
- name: default
  context: {cluster: nines-e2e, user: controller-manager}
current-context: default
EOF
  chmod 600 "$run/kubeconfig" "$run/controller-manager.kubeconfig"
}

# ---------------------------------------------------------------- waiting

# Polls `cmd...` every half second until it succeeds; checks that the named
# components are still alive meanwhile.
wait_for() { # what, "components", cmd...
  local what="$1" comps="$2" t0=$SECONDS c; shift 2
  until "$@" >/dev/null 2>&1; do
    for c in $comps; do check_alive "$c"; done
    if ((SECONDS - t0 > timeout)); then
      die "$what not ready after ${timeout}s (logs in $run/logs/)"
    fi
    sleep 0.5
  done
  log "$what ready ($((SECONDS - t0))s)"
}

api_get() { # path: admin GET against the apiserver, body on stdout
  curl -fsS --max-time 5 --cacert "$run/pki/ca.crt" --cert "$run/pki/admin.crt" \
    --key "$run/pki/admin.key" "https://127.0.0.1:$(cat "$run/apiserver.port")$1"
}
readyz() { [[ $(api_get /readyz) == ok ]]; }
etcd_health() { curl -fsS --max-time 2 "http://127.0.0.1:$(cat "$run/etcd.port")/health" | grep -q '"health":"true"'; }
kcm_healthz() { [[ $(curl -ksS --max-time 2 "https://127.0.0.1:$(cat "$run/controller-manager.port")/healthz") == ok ]]; }
default_sa() { api_get /api/v1/namespaces/default/serviceaccounts/default; }

running() {
  [[ -f $run/kubeconfig ]] && live_pid etcd >/dev/null && live_pid kube-apiserver >/dev/null &&
    live_pid kube-controller-manager >/dev/null && readyz
}

# ---------------------------------------------------------------- kubectl

find_kubectl() {
  if [[ -n ${KUBECTL:-} ]]; then
    kubectl_bin="$KUBECTL"
  elif [[ -x /usr/bin/kubectl ]]; then
    kubectl_bin=/usr/bin/kubectl
  elif command -v kubectl >/dev/null 2>&1; then
    kubectl_bin="$(command -v kubectl)"
  else
    kubectl_bin="$bindir/kubectl"
  fi
}

kc() { "$kubectl_bin" --kubeconfig "$kc_config" "$@"; }

apply_crds() { # files...
  local f names=() out
  for f in "$@"; do
    out="$(kc apply --server-side --force-conflicts --field-manager=nines-e2e -o name -f "$f" 2>&1)" ||
      die "kubectl apply -f $f failed: $out"
    mapfile -t -O "${#names[@]}" names < <(grep '^customresourcedefinition' <<<"$out" || true)
    log "applied $f"
  done
  ((${#names[@]})) || return 0
  kc wait --for=condition=Established --timeout="${timeout}s" "${names[@]}" >/dev/null ||
    die "CRDs not Established: ${names[*]}"
  log "${#names[@]} CRDs Established"
}

crd_files() { # dir: its manifests, sorted
  find "$1" -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) | LC_ALL=C sort
}

# ---------------------------------------------------------------- commands

# Sets files=() to the CRD manifests that the arguments ask for.
crd_args() {
  local crd_dirs=() with_third_party=1 dir
  while (($#)); do
    case "$1" in
      --crds) [[ $# -ge 2 ]] || die "--crds needs a folder"; crd_dirs+=("$2"); shift 2 ;;
      --crds=*) crd_dirs+=("${1#--crds=}"); shift ;;
      --no-third-party) with_third_party=0; shift ;;
      *) die "unknown argument: $1" ;;
    esac
  done
  files=()
  for dir in ${crd_dirs[@]+"${crd_dirs[@]}"}; do
    [[ -d $dir ]] || die "--crds $dir: no such folder"
    mapfile -t -O "${#files[@]}" files < <(crd_files "$dir")
  done
  if [[ $with_third_party == 1 ]]; then
    for dir in "$third_party/prometheus-operator" "$third_party/grafana-operator"; do
      if [[ -d $dir ]]; then
        mapfile -t -O "${#files[@]}" files < <(crd_files "$dir")
      else
        log "warning: $dir not found: its CRDs are not installed (set CONTROLPLANE_THIRD_PARTY)"
      fi
    done
  fi
}

cmd_up() {
  local files
  crd_args "$@"
  "$here/build.sh" -q >&2
  bindir="$("$here/build.sh" --print-dir)"
  find_kubectl
  [[ -x $kubectl_bin ]] || die "kubectl $kubectl_bin is not an executable"

  if running; then
    log "already running (apiserver https://127.0.0.1:$(cat "$run/apiserver.port"))"
    if [[ ${CONTROLPLANE_AUDIT:-0} == 1 ]] && ! grep -q '^--audit-log-path=' "$run/apiserver.args" 2>/dev/null; then
      log "warning: CONTROLPLANE_AUDIT=1, but it was started without an audit log (down, then up)"
    fi
  else
    if [[ -d $run ]]; then
      log "found stale state in $run: cleaning it up"
      cmd_down 2>/dev/null
    fi
    start_all
  fi

  kc_config="$run/kubeconfig"
  ((${#files[@]} == 0)) || apply_crds "${files[@]}"
  echo "export KUBECONFIG=$kc_config"
}

# Installs the same CRDs into the cluster $KUBECONFIG points at (kind, ...).
cmd_crds() {
  local files
  crd_args "$@"
  [[ -n ${KUBECONFIG:-} ]] || die "crds: set KUBECONFIG to the cluster to install them in"
  kc_config="$KUBECONFIG"
  bindir="$("$here/build.sh" --print-dir)"
  find_kubectl
  [[ -x $kubectl_bin ]] || die "kubectl $kubectl_bin is not an executable"
  ((${#files[@]} == 0)) || apply_crds "${files[@]}"
}

# The optional flags (CONTROLPLANE_AUDIT, CONTROLPLANE_APISERVER_ARGS), one a line in
# run/apiserver.args, so that a restart keeps them.
write_apiserver_args() {
  local args=()
  if [[ ${CONTROLPLANE_AUDIT:-0} == 1 ]]; then
    cat >"$run/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
EOF
    args+=(--audit-policy-file="$run/audit-policy.yaml" --audit-log-path="$run/audit.log"
      --audit-log-format=json --audit-log-mode=blocking)
  fi
  # shellcheck disable=SC2206 # split on spaces, as documented
  args+=(${CONTROLPLANE_APISERVER_ARGS:-})
  : >"$run/apiserver.args"
  ((${#args[@]} == 0)) || printf '%s\n' "${args[@]}" >"$run/apiserver.args"
}

# kube-apiserver on the ports that start_all chose (run/*.port), so that a restart keeps them.
start_apiserver() {
  local etcd_port api_port d="$run/pki" extra=()
  etcd_port="$(cat "$run/etcd.port")" api_port="$(cat "$run/apiserver.port")"
  [[ ! -s $run/apiserver.args ]] || mapfile -t extra <"$run/apiserver.args"
  start kube-apiserver \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="$api_port" \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$d/apiserver.crt" \
    --tls-private-key-file="$d/apiserver.key" \
    --client-ca-file="$d/ca.crt" \
    --token-auth-file="$d/tokens.csv" \
    --requestheader-client-ca-file="$d/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$d/front-proxy-client.crt" \
    --proxy-client-key-file="$d/front-proxy-client.key" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$d/sa.pub" \
    --service-account-signing-key-file="$d/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --profiling=false \
    --v=1 \
    ${extra[@]+"${extra[@]}"}
}

# Stops kube-apiserver and starts it again on the same port and data, as an upgrade or a crash
# would: clients see their connections drop and their watches end.
cmd_restart_apiserver() {
  [[ -f $run/apiserver.port ]] && live_pid etcd >/dev/null || die "not running (start it with: $0 up)"
  local signal=TERM compact=false arg
  for arg in "$@"; do
    case $arg in
      --crash) signal=KILL ;;
      --compact) compact=true ;;
      *) die "restart-apiserver: unknown option $arg" ;;
    esac
  done
  bindir="$("$here/build.sh" --print-dir)"
  stop kube-apiserver "$signal"
  if $compact; then
    # etcd's JSON gateway: the current revision from any range request, then a compaction to it.
    local etcd revision
    etcd="http://127.0.0.1:$(cat "$run/etcd.port")"
    revision="$(curl -fsS --max-time 10 -X POST "$etcd/v3/kv/range" -d '{"key":"AA=="}' |
      grep -o '"revision":"[0-9]*"' | head -n 1 | tr -dc '0-9')"
    [[ $revision =~ ^[0-9]+$ ]] || die "could not read etcd's revision"
    curl -fsS --max-time 30 -X POST "$etcd/v3/kv/compaction" \
      -d "{\"revision\":\"$revision\",\"physical\":true}" >/dev/null || die "etcd compaction failed"
    log "etcd compacted at revision $revision"
  fi
  start_apiserver
  wait_for "kube-apiserver on https://127.0.0.1:$(cat "$run/apiserver.port")" "etcd kube-apiserver" readyz
}

# The exit status of an attempt that lost a port to another process (EX_TEMPFAIL).
port_taken=75

# Free ports are chosen before the components bind them; on a shared machine another process can
# take one meanwhile. Then the attempt's components are stopped and it starts again on new ports,
# up to three times.
start_all() {
  local t0=$SECONDS attempt rc
  mkdir -p "$run"
  gen_certs
  write_apiserver_args
  for attempt in 1 2 3; do
    pick_port "$run/etcd.port"
    pick_port "$run/etcd-peer.port"
    pick_port "$run/apiserver.port"
    pick_port "$run/controller-manager.port"
    write_kubeconfigs "$(cat "$run/apiserver.port")"
    # A subshell, so that a lost port ends the attempt and not the script; errexit is set again
    # inside because a subshell in a condition would run without it.
    set +e
    (
      set -e
      start_components
    )
    rc=$?
    set -e
    ((rc == 0)) && break
    ((rc == port_taken && attempt < 3)) || exit "$rc"
    log "attempt $attempt lost a port to another process: stopping it, new ports"
    local c
    for c in kube-controller-manager kube-apiserver etcd; do stop "$c"; done
    rm -rf "$run/etcd"
  done
  log "up in $((SECONDS - t0))s; logs in $run/logs/"
}

start_components() {
  local etcd_port peer_port api_port kcm_port d="$run/pki"
  etcd_port="$(cat "$run/etcd.port")" peer_port="$(cat "$run/etcd-peer.port")"
  api_port="$(cat "$run/apiserver.port")" kcm_port="$(cat "$run/controller-manager.port")"

  # etcd over plain HTTP on loopback: only the apiserver talks to it. No fsync:
  # the data is thrown away with the run folder, and tests go much faster.
  start etcd \
    --name=nines-e2e \
    --data-dir="$run/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="nines-e2e=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync=true \
    --log-level=warn
  wait_for "etcd on 127.0.0.1:$etcd_port" etcd etcd_health

  start_apiserver
  wait_for "kube-apiserver on https://127.0.0.1:$api_port" "etcd kube-apiserver" readyz

  start kube-controller-manager \
    --kubeconfig="$run/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$run/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$run/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$kcm_port" \
    --cert-dir="$run/controller-manager-certs" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$d/sa.key" \
    --root-ca-file="$d/ca.crt" \
    --cluster-signing-cert-file="$d/ca.crt" \
    --cluster-signing-key-file="$d/ca.key" \
    --controllers="${CONTROLPLANE_CONTROLLERS:-*}" \
    --profiling=false \
    --v=1
  wait_for "kube-controller-manager on https://127.0.0.1:$kcm_port" "etcd kube-apiserver kube-controller-manager" kcm_healthz
  # The controllers are working once the service-account controller has made
  # the default namespace's service account.
  wait_for "controllers (serviceaccount default/default)" "etcd kube-apiserver kube-controller-manager" default_sa
}

cmd_env() {
  running || die "not running (start it with: $0 up)"
  echo "export KUBECONFIG=$run/kubeconfig"
}

cmd_status() {
  local c pid rc=0
  for c in etcd kube-apiserver kube-controller-manager; do
    if pid="$(live_pid "$c")"; then echo "$c: running (pid $pid)"; else echo "$c: not running"; rc=1; fi
  done
  if [[ $rc == 0 ]] && readyz; then
    echo "apiserver: ready at https://127.0.0.1:$(cat "$run/apiserver.port")"
    echo "export KUBECONFIG=$run/kubeconfig"
  else
    rc=1
  fi
  return $rc
}

cmd_down() {
  if [[ ! -d $run ]]; then
    log "not running (no $run)"
    return 0
  fi
  local c
  for c in kube-controller-manager kube-apiserver etcd; do stop "$c"; done
  rm -rf "$run"
  log "removed $run"
}

cmd_logs() { ls -1 "$run"/logs/*.log 2>/dev/null || die "no logs: not running"; }

# One command at a time per run folder (two `up`s at once would race).
lock() {
  mkdir -p "$(dirname "$run")"
  exec 9>"$run.lock"
  flock -w 600 9 || die "another controlplane.sh holds $run.lock"
}

case "${1:-}" in
  up|down|restart-apiserver) lock ;;
esac
case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down ;;
  restart-apiserver) shift; cmd_restart_apiserver "$@" ;;
  env) cmd_env ;;
  status) cmd_status ;;
  logs) cmd_logs ;;
  crds) shift; cmd_crds "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
