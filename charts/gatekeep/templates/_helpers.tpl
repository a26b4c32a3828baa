{{/* Names and labels. */}}
{{- define "gatekeep.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gatekeep.fullname" -}}
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

{{- define "gatekeep.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatekeep.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "gatekeep.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "gatekeep.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: admission-webhook
app.kubernetes.io/part-of: gatekeep
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gatekeep.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when gatekeep makes its own certificates (neither cert-manager
nor a Secret of yours), else empty. */}}
{{- define "gatekeep.builtinCerts" -}}
{{- if not (or .Values.certManager.enabled .Values.certs.existingSecret) }}true{{ end }}
{{- end }}

{{/* The Secret gatekeep keeps its own CA and serving certificate in, in
built-in mode (gatekeep serve --cert-secret). gatekeep creates it; the chart
does not render it. Not RELEASE-gatekeep-tls, the Secret earlier versions of
the chart rendered, so that Helm and Argo CD deleting that one on upgrade
never take gatekeep's with it. */}}
{{- define "gatekeep.certSecret" -}}
{{- printf "%s-certs" (include "gatekeep.fullname" .) }}
{{- end }}

{{/* The Secret holding the serving certificate the pods mount (cert-manager
or yours). */}}
{{- define "gatekeep.tlsSecret" -}}
{{- if and .Values.certs.existingSecret (not .Values.certManager.enabled) }}
{{- .Values.certs.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "gatekeep.fullname" .) }}
{{- end }}
{{- end }}

{{/* The names the serving certificate is valid for (the API server calls
SERVICE.NAMESPACE.svc), as a JSON list. */}}
{{- define "gatekeep.dnsNames" -}}
{{- $svc := include "gatekeep.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- list (printf "%s.%s.svc" $svc $ns) $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson }}
{{- end }}

{{/* Namespaces the webhooks never see. */}}
{{- define "gatekeep.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- range concat (list "kube-system" "kube-node-lease" .Release.Namespace) .Values.webhooks.exemptNamespaces | uniq }}
      - {{ . | quote }}
      {{- end }}
  - key: gatekeep.dev/ignore
    operator: DoesNotExist
{{- end }}

{{/* Every kind, created or updated, namespaced or not. */}}
{{- define "gatekeep.webhookRules" -}}
- operations: ["CREATE", "UPDATE"]
  apiGroups: ["*"]
  apiVersions: ["*"]
  resources: ["*"]
  scope: "*"
{{- end }}
