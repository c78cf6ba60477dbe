{{/* The chart's name, and the release's full name (63 characters at most: a label value). */}}
{{- define "nines.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nines.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "nines.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "nines.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "nines.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nines.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "nines.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nines.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "nines.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "nines.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace }}
{{- end }}

{{/* Where the Prometheus credentials and CA are mounted, read-only. */}}
{{- define "nines.prometheusBearerTokenDir" -}}/etc/nines/prometheus/bearer-token{{- end }}
{{- define "nines.prometheusPasswordDir" -}}/etc/nines/prometheus/basic-auth{{- end }}
{{- define "nines.prometheusCaDir" -}}/etc/nines/prometheus/ca{{- end }}

{{/*
The operator's arguments, one "--flag=value" each, built from the values. The Prometheus flags
come only with a prometheus.url: an empty url renders none of them.
*/}}
{{- define "nines.args" -}}
- operator
- {{ printf "--metrics-address=:%v" (.Values.metrics.port) | quote }}
- {{ printf "--log-format=%v" (.Values.logFormat) | quote }}
- {{ printf "--workers=%v" (.Values.workers) | quote }}
- {{ printf "--requeue-period=%v" (.Values.requeuePeriod) | quote }}
- {{ printf "--min-rate-window=%v" (.Values.minRateWindow) | quote }}
{{- if .Values.namespaces }}
- {{ printf "--namespaces=%v" (join "," .Values.namespaces) | quote }}
{{- end }}
- {{ printf "--leader-elect=%v" (.Values.leaderElection.enabled) | quote }}
{{- if .Values.leaderElection.enabled }}
- {{ printf "--leader-election-namespace=%v" (include "nines.leaseNamespace" .) | quote }}
- {{ printf "--leader-election-id=%v" (.Values.leaderElection.id) | quote }}
{{- end }}
{{- range $key, $value := .Values.ruleLabels }}
- {{ printf "--rule-label=%v=%v" ($key) ($value) | quote }}
{{- end }}
- {{ printf "--dashboards=%v" (.Values.dashboards.mode) | quote }}
{{- if eq .Values.dashboards.mode "configmap" }}
- {{ printf "--dashboard-label=%v=%v" (.Values.dashboards.label.key) (.Values.dashboards.label.value) | quote }}
- {{ printf "--dashboard-folder-annotation=%v" (.Values.dashboards.folderAnnotation) | quote }}
{{- end }}
{{- if and (ne .Values.dashboards.mode "none") .Values.dashboards.folder }}
- {{ printf "--dashboard-folder=%v" (.Values.dashboards.folder) | quote }}
{{- end }}
{{- if eq .Values.dashboards.mode "grafana-operator" }}
{{- range $key, $value := .Values.dashboards.grafanaInstanceSelector }}
- {{ printf "--grafana-instance-selector=%v=%v" ($key) ($value) | quote }}
{{- end }}
{{- end }}
{{- if .Values.dashboards.releaseAnnotation }}
- {{ printf "--release-annotation=%v" (.Values.dashboards.releaseAnnotation) | quote }}
{{- end }}
{{- if .Values.grafana.url }}
- {{ printf "--grafana-url=%v" (.Values.grafana.url) | quote }}
{{- end }}
{{- with .Values.prometheus }}
{{- if .url }}
- {{ printf "--prometheus-url=%v" (.url) | quote }}
{{- if .timeout }}
- {{ printf "--prometheus-timeout=%v" (.timeout) | quote }}
{{- end }}
{{- if .statusInterval }}
- {{ printf "--status-interval=%v" (.statusInterval) | quote }}
{{- end }}
{{- range $name, $value := .headers }}
- {{ printf "--prometheus-header=%v=%v" ($name) ($value) | quote }}
{{- end }}
{{- if .auth.bearerToken.secretName }}
- {{ printf "--prometheus-bearer-token-file=%v/%v" (include "nines.prometheusBearerTokenDir" $) (.auth.bearerToken.key) | quote }}
{{- end }}
{{- if .auth.basicAuth.username }}
- {{ printf "--prometheus-basic-auth-username=%v" (.auth.basicAuth.username) | quote }}
- {{ printf "--prometheus-basic-auth-password-file=%v/%v" (include "nines.prometheusPasswordDir" $) (.auth.basicAuth.passwordKey) | quote }}
{{- end }}
{{- if or .tls.ca.configMapName .tls.ca.secretName }}
- {{ printf "--prometheus-ca-file=%v/%v" (include "nines.prometheusCaDir" $) (.tls.ca.key) | quote }}
{{- end }}
{{- if .tls.insecureSkipVerify }}
- --prometheus-insecure-skip-tls-verify
{{- end }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The rules the operator needs on the objects of the watched namespaces: exactly the verbs its code
uses (docs/install.md explains each). The dashboard kind of the configured mode is read, watched
and applied; the other kind is only read and deleted, because the reconciler removes a dashboard
of the kind no longer configured (a mode switch) when it is one of its own.
*/}}
{{- define "nines.namespacedRules" -}}
- apiGroups: [nines.dev]
  resources: [servicelevelobjectives]
  verbs: [get, list, watch]
- apiGroups: [nines.dev]
  resources: [servicelevelobjectives/status]
  verbs: [update]
# blockOwnerDeletion on the generated objects' ownerReference: clusters that enable the
# OwnerReferencesPermissionEnforcement admission plugin (OpenShift does) ask for this.
- apiGroups: [nines.dev]
  resources: [servicelevelobjectives/finalizers]
  verbs: [update]
# Server-side apply: patch, and create when the object does not exist yet.
- apiGroups: [monitoring.coreos.com]
  resources: [prometheusrules]
  verbs: [get, list, watch, create, patch]
{{- if eq .Values.dashboards.mode "configmap" }}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, patch]
{{- else }}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, delete]
{{- end }}
{{- if eq .Values.dashboards.mode "grafana-operator" }}
- apiGroups: [grafana.integreatly.org]
  resources: [grafanadashboards]
  verbs: [get, list, watch, create, patch]
{{- else }}
- apiGroups: [grafana.integreatly.org]
  resources: [grafanadashboards]
  verbs: [get, delete]
{{- end }}
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end }}

{{/* What values.schema.json cannot say well: the values that go together. */}}
{{- define "nines.validate" -}}
{{- $auth := .Values.prometheus.auth }}
{{- if and $auth.basicAuth.username (not $auth.basicAuth.passwordSecretName) }}
{{- fail "prometheus.auth.basicAuth.username needs prometheus.auth.basicAuth.passwordSecretName: the password comes from an existing Secret, never from the values" }}
{{- end }}
{{- if and $auth.basicAuth.passwordSecretName (not $auth.basicAuth.username) }}
{{- fail "prometheus.auth.basicAuth.passwordSecretName needs prometheus.auth.basicAuth.username" }}
{{- end }}
{{- if and $auth.bearerToken.secretName $auth.basicAuth.username }}
{{- fail "prometheus.auth: a bearer token or basic auth, not both" }}
{{- end }}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicaCount) 1) }}
{{- fail "leaderElection.enabled=false needs replicaCount 1 (or 0): without a Lease every replica would write" }}
{{- end }}
{{- if and .Values.prometheus.tls.ca.configMapName .Values.prometheus.tls.ca.secretName }}
{{- fail "prometheus.tls.ca: configMapName or secretName, not both" }}
{{- end }}
{{- end }}
