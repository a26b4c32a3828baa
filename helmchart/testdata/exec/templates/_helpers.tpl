{{- define "exec.deep" -}}
{{ .Values.a.b.c }}
{{- end }}
