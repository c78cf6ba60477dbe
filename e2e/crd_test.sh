#!/usr/bin/env bash
# The ServiceLevelObjective CRD against a real kube-apiserver: the local control plane of
# e2e/controlplane/ (built once, cached), or the cluster that NINES_E2E_KUBECONFIG names.
#
#   e2e/crd_test.sh              uses build/nines (NINES_BUILD overrides) for `nines validate`
#
# What it shows:
# - every bad manifest in e2e/crd/ is rejected by `kubectl apply --server-side` (field validation
#   Strict) with the message its `# crd:` lines name, and `nines validate` rejects it too with the
#   message its `# validate:` line names, so that the CRD and the operator's parser agree;
# - every manifest in e2e/crd/valid/ (the limits themselves, every duration unit, every selector
#   form) is accepted by both;
# - every manifest in e2e/crd/operator-only/ is accepted by the CRD and rejected by `nines
#   validate` (`# validate:` line): what a schema and CEL cannot judge, which the operator reports
#   as Ready=False. When the CRD learns to reject one, move it to e2e/crd/ with a `# crd:` line;
# - every example is accepted (`--dry-run=server`), gets the schema's defaults, and renders the
#   same rules from the defaulted object as from the file (the defaults are the parser's);
# - every field of the schema has a description, and `kubectl explain` teaches them; every string,
#   list and map has a maximum;
# - the status subresource and its schema, and the printer columns of `kubectl get` and
#   `kubectl get -o wide`.
#
# A case file in e2e/crd/ is one manifest (no namespace: the test applies it in a namespace of its
# own) with, in its first lines:
#   # crd: TEXT        the API server's answer must contain TEXT (one line each, all must match)
#   # validate: TEXT   `nines validate -f` must exit 1 and print TEXT; `-` if it cannot judge it
# `{{repeat S N}}` in it stands for S written N times (for sizes no one wants to read).
# Every wait is a bounded poll; nothing is timed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${NINES_BUILD:-$root/build}
work=$(mktemp -d "${TMPDIR:-/tmp}/nines-crd-e2e.XXXXXX")
own_control_plane=false
ns=

# shellcheck source=e2e/lib/checks.sh
source e2e/lib/checks.sh

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$ns" ] && ! $own_control_plane; then
    k delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
  fi
  if $own_control_plane; then e2e/controlplane/controlplane.sh down >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ -x "$build/nines" ] || { echo "crd_test: $build/nines is missing: build first" >&2; exit 1; }

# ---- A cluster ---------------------------------------------------------------------------------
# The machine's kubectl, or the one built from the same Kubernetes release.
find_kubectl
crd=servicelevelobjectives.nines.dev
if [ -n "${NINES_E2E_KUBECONFIG:-}" ]; then
  export KUBECONFIG=$NINES_E2E_KUBECONFIG
  k apply --server-side -f crds/ >/dev/null
  k wait --for condition=established --timeout=60s "crd/$crd" >/dev/null
else
  own_control_plane=true
  environment=$(e2e/controlplane/controlplane.sh up --crds crds --no-third-party)
  eval "$environment"
fi
echo "crd_test: $(k version -o json | jq -r '"kubectl \(.clientVersion.gitVersion), server \(.serverVersion.gitVersion)"')"

ns=nines-crd-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
k create namespace "$ns" >/dev/null

# "{{repeat S N}}" -> S N times.
render() { perl -pe 's/\{\{repeat (\S+) (\d+)\}\}/$1 x $2/ge' "$1"; }
# Applies a manifest (file or -) in the test namespace as a user would, strictly.
apply() { k apply --server-side --validate=strict --field-manager=crd-test -n "$ns" "$@"; }
squeeze() { tr -s ' \t\n' ' '; }

# A CRD that was already installed (a shared cluster, or a control plane left running) serves the
# new schema a moment after the update: wait until a case that only the new one rejects is.
first_case=e2e/crd/objective-100.yaml
served() { ! render "$first_case" | apply --dry-run=server -f - >/dev/null 2>&1; }
for _ in $(seq 60); do served && break; sleep 0.5; done

# ---- Bad manifests: the CRD and `nines validate` both reject them --------------------------------
cases=0
for file in e2e/crd/*.yaml; do
  cases=$((cases + 1))
  name=$(basename "$file" .yaml)
  render "$file" >"$work/$name.yaml"
  mapfile -t want_crd < <(sed -n 's/^# crd: //p' "$file")
  want_validate=$(sed -n 's/^# validate: //p' "$file")
  if [ "${#want_crd[@]}" -eq 0 ] || [ -z "$want_validate" ]; then
    not_ok "$name: needs a '# crd:' and a '# validate:' line"
    continue
  fi
  if out=$(apply -f "$work/$name.yaml" 2>&1); then
    not_ok "$name: accepted by the API server"
    k delete -n "$ns" -f "$work/$name.yaml" --ignore-not-found >/dev/null 2>&1 || true
  else
    missing=
    for want in "${want_crd[@]}"; do grep -qF -- "$want" <<<"$out" || missing=$want; done
    if [ -z "$missing" ]; then
      ok "$name: kubectl apply rejects it: ${want_crd[-1]}"
    else
      not_ok "$name: the API server's answer lacks \"$missing\": $(head -c 600 <<<"$out")"
    fi
  fi
  [ "$want_validate" = - ] && continue
  rc=0
  out=$("$build/nines" validate -f "$work/$name.yaml" 2>&1) || rc=$?
  if [ "$rc" -eq 1 ] && grep -qF -- "$want_validate" <<<"$out"; then
    ok "$name: nines validate rejects it too: $want_validate"
  else
    not_ok "$name: nines validate (exit $rc) did not say \"$want_validate\": $(head -c 600 <<<"$out")"
  fi
done
[ "$cases" -ge 30 ] && ok "$cases bad manifests in e2e/crd/" || not_ok "only $cases cases in e2e/crd/"

# ---- At the limits: accepted by both -----------------------------------------------------------
for file in e2e/crd/valid/*; do
  render "$file" >"$work/valid"
  if ! served=$(apply --dry-run=server -f "$work/valid" 2>&1); then
    not_ok "$file: rejected by the API server: $(head -c 600 <<<"$served")"
  elif ! out=$("$build/nines" validate -f "$work/valid" 2>&1); then
    not_ok "$file: rejected by nines validate: $(head -c 600 <<<"$out")"
  else
    ok "$file: accepted by both ($(grep -c serverside-applied <<<"$served") objectives)"
  fi
done

# ---- Only the operator can judge these: the CRD accepts them, nines validate does not ---------------
for file in e2e/crd/operator-only/*.yaml; do
  name=operator-only/$(basename "$file" .yaml)
  render "$file" >"$work/case.yaml"
  want_validate=$(sed -n 's/^# validate: //p' "$file")
  rc=0
  out=$("$build/nines" validate -f "$work/case.yaml" 2>&1) || rc=$?
  if ! accepted=$(apply --dry-run=server -f "$work/case.yaml" 2>&1); then
    not_ok "$name: now rejected by the API server (move it to e2e/crd/ with a '# crd:' line): $(head -c 600 <<<"$accepted")"
  elif [ "$rc" -eq 1 ] && [ -n "$want_validate" ] && grep -qF -- "$want_validate" <<<"$out"; then
    ok "$name: the CRD lets it through, the operator's parser says: $want_validate"
  else
    not_ok "$name: nines validate (exit $rc) did not say \"$want_validate\": $(head -c 600 <<<"$out")"
  fi
done

# ---- Every example is accepted, defaulted as the parser defaults ---------------------------------
objects=0
for file in examples/*.yaml; do
  k create --dry-run=client -o json -f "$file" |
    jq -c --arg ns "$ns" 'if .kind == "List" then .items[] else . end
      | select(.kind == "ServiceLevelObjective") | .metadata.namespace = $ns' >"$work/objects.jsonl"
  while IFS= read -r object; do
    objects=$((objects + 1))
    name=$(jq -r .metadata.name <<<"$object")
    printf '%s\n' "$object" >"$work/sent.json"
    if ! apply --dry-run=server -o json -f "$work/sent.json" >"$work/served.json" 2>"$work/err"; then
      not_ok "$file: $name rejected: $(head -c 600 "$work/err")"
      continue
    fi
    sent=$("$build/nines" generate --dashboards none -f "$work/sent.json")
    defaulted=$("$build/nines" generate --dashboards none -f "$work/served.json")
    if [ "$(jq -r .spec.window "$work/served.json")" = null ]; then
      not_ok "$file: $name: no default window"
    elif [ "$sent" = "$defaulted" ]; then
      ok "$file: $name accepted; the defaulted object renders the same rules"
    else
      not_ok "$file: $name: the defaulted object renders other rules than the file"
      diff <(echo "$sent") <(echo "$defaulted") | sed -n 1,20p >&2 || true
    fi
  done <"$work/objects.jsonl"
done
[ "$objects" -ge 9 ] && ok "$objects example objectives" || not_ok "only $objects example objectives"

# ---- Descriptions ----------------------------------------------------------------------------
undescribed=$(k get crd "$crd" -o json | jq -r '.spec.versions[0].schema.openAPIV3Schema
  | [paths(type == "object" and has("type") and (has("description") | not))
     | select(length >= 2 and .[-2] == "properties" and . != ["properties", "metadata"]) | map(tostring) | join(".")] | .[]')
if [ -z "$undescribed" ]; then
  ok "every field of the schema has a description"
else
  not_ok "fields without a description: $(echo $undescribed)"
fi
unbounded=$(k get crd "$crd" -o json | jq -r '.spec.versions[0].schema.openAPIV3Schema.properties
  | [paths(type == "object" and ((.type == "string" and (has("maxLength") | not))
      or (.type == "array" and (has("maxItems") | not))
      or (.type == "object" and has("additionalProperties") and (has("maxProperties") | not))))
     | select(.[0] == "spec" or .[0] == "status") | map(tostring) | join(".")] | .[]')
if [ -z "$unbounded" ]; then
  ok "every string, list and map of spec and status has a maximum"
else
  not_ok "without a maximum: $(echo $unbounded)"
fi
explains() {  # explains FIELD TEXT...: `kubectl explain FIELD` says every TEXT
  local field=$1 out
  shift
  out=$(k explain "$field" | squeeze)
  for text in "$@"; do
    grep -qF -- "$text" <<<"$out" || { not_ok "kubectl explain $field does not say \"$text\""; return; }
  done
  ok "kubectl explain $field teaches it"
}
explains slo.spec "The objective. Required: service, objective and indicator" \
  "objective <string> -required-" "from 1d to 90d" "exactly one of ratio (good or bad events among all"
explains slo.spec.indicator.ratio.bad "The selector of the bad events" "Exactly one of bad and good"
explains slo.spec.alerting.fastBurn.thresholds.burnRate "How many times faster than sustainable"
explains slo.status.errorBudget.remaining "negative when overspent"

# ---- Status and printer columns ------------------------------------------------------------
sed '/^  namespace:/d' examples/availability.yaml | apply -f - >/dev/null
slo=checkout-availability
status='{"status":{"observedGeneration":1,"state":"Exhausted","sli":99.871,
  "errorBudget":{"remaining":-12.5,"exhaustsAt":"2026-12-01T10:00:00Z"},
  "burnRates":{"5m":14.9,"1h":15.2,"6h":7.1,"1d":2.4,"3d":1.3},"fastBurnRate":15.2,"slowBurnRate":2.4,
  "lastEvaluated":"2026-11-23T19:00:00Z",
  "conditions":[{"type":"Ready","status":"True","reason":"Reconciled","message":"PrometheusRule applied",
    "lastTransitionTime":"2026-11-23T18:00:00Z","observedGeneration":1},
   {"type":"BudgetExhausted","status":"True","reason":"BudgetSpent","message":"-12.5% left",
    "lastTransitionTime":"2026-11-23T18:30:00Z","observedGeneration":1}]}}'
if k patch slo -n "$ns" "$slo" --subresource=status --type=merge -p "$status" >/dev/null 2>"$work/err"; then
  ok "a full status is accepted on the status subresource"
else
  not_ok "the status was rejected: $(cat "$work/err")"
fi
got=$(k get slo -n "$ns" "$slo" -o json | jq -c '[.status.state, .status.errorBudget.remaining, .status.burnRates["3d"], (.status.conditions | length)]')
[ "$got" = '["Exhausted",-12.5,1.3,2]' ] && ok "... and stored as written" || not_ok "stored status: $got"
k patch slo -n "$ns" "$slo" --type=merge -p '{"status":{"state":"Healthy"}}' >/dev/null 2>&1 || true
state=$(k get slo -n "$ns" "$slo" -o jsonpath='{.status.state}')
[ "$state" = Exhausted ] && ok "the main resource does not write the status" || not_ok "state became $state"

rejects_status() {  # rejects_status DESCRIPTION PATCH EXPECTED
  local out
  if out=$(k patch slo -n "$ns" "$slo" --subresource=status --type=merge -p "$2" 2>&1); then
    not_ok "status with $1 accepted"
  elif grep -qF -- "$3" <<<"$out"; then
    ok "status with $1 rejected: $3"
  else
    not_ok "status with $1: $out"
  fi
}
rejects_status "an unknown state" '{"status":{"state":"Fine"}}' 'Unsupported value: "Fine"'
rejects_status "a date that is not one" '{"status":{"lastEvaluated":"yesterday"}}' 'status.lastEvaluated'
rejects_status "a condition without reason" \
  '{"status":{"conditions":[{"type":"Ready","status":"True","message":"","lastTransitionTime":"2026-11-23T18:00:00Z"}]}}' \
  'status.conditions[0].reason: Required value'
rejects_status "a condition status Maybe" \
  '{"status":{"conditions":[{"type":"Ready","status":"Maybe","reason":"X","message":"","lastTransitionTime":"2026-11-23T18:00:00Z"}]}}' \
  'Unsupported value: "Maybe"'

header=$(k get slo -n "$ns" | sed -n 1p | squeeze)
row=$(k get slo -n "$ns" --no-headers | squeeze)
if [ "$header" = "NAME SERVICE OBJECTIVE WINDOW SLI BUDGET STATE AGE " ] &&
  [[ $row == "$slo checkout 99.9 30d 99.871 -12.5 Exhausted "* ]]; then
  ok "kubectl get slo: $header/ $row"
else
  not_ok "kubectl get slo: \"$header\" / \"$row\""
fi
header=$(k get slo -n "$ns" -o wide | sed -n 1p | squeeze)
row=$(k get slo -n "$ns" -o wide --no-headers | squeeze)
if [ "$header" = "NAME SERVICE OBJECTIVE WINDOW SLI BUDGET STATE AGE FAST BURN SLOW BURN " ] &&
  [[ $row == *" 15.2 2.4 " ]]; then
  ok "kubectl get slo -o wide adds the burn rates: $row"
else
  not_ok "kubectl get slo -o wide: \"$header\" / \"$row\""
fi
in_nines=$(k get nines -n "$ns" -o name)
in_all=$(k get all -n "$ns" -o name 2>/dev/null)
if [ "$in_nines" = "servicelevelobjective.nines.dev/$slo" ] && ! grep -q servicelevelobjective <<<"$in_all"; then
  ok "in the category nines, not in all"
else
  not_ok "categories"
fi

echo "crd_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
