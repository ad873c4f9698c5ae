{{- define "kube-prometheus-stack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 50 | trimSuffix "-" -}}
{{- end }}
{{- define "kube-prometheus-stack.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- printf "%s-%s" .Release.Name $name | trunc 26 | trimSuffix "-" -}}
{{- end -}}
{{- define "kube-prometheus-stack.namespace" -}}
  {{- if .Values.namespaceOverride -}}
    {{- .Values.namespaceOverride -}}
  {{- else -}}
    {{- .Release.Namespace -}}
  {{- end -}}
{{- end -}}
{{- define "kube-prometheus-stack.labels" }}
release: {{ $.Release.Name | quote }}
heritage: {{ $.Release.Service | quote }}
chart: {{ template "kube-prometheus-stack.chartref" . }}
{{- if .Values.commonLabels}}
{{ toYaml .Values.commonLabels }}
{{- end }}
{{- end }}
{{- define "kube-prometheus-stack.chartref" -}}
{{- replace "+" "_" .Chart.Version | printf "%s-%s" .Chart.Name -}}
{{- end }}
{{- define "kube-prometheus-stack.rules.names" }}
{{- $ruleNames := list "alertmanager.rules" "etcd" "general.rules" -}}
{{- $ruleNames | toJson }}
{{- end }}
