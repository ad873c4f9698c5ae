{{- define "common.name" -}}
{{ .Release.Name }}-{{ .Chart.Name }}
{{- end -}}
{{- define "common.labels" -}}
app: {{ include "common.name" . }}
{{- range $k, $v := .Values.labels }}
{{ $k }}: {{ $v }}
{{- end }}
{{- end -}}
{{- define "common.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.name" . }}
  labels:
{{ include "common.labels" . | indent 4 }}
data:
{{- range $i, $p := .Values.ports }}
  port{{ $i }}: {{ $p | quote }}
{{- end }}
{{- end -}}
