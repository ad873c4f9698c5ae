{{- define "platform.fullname" -}}
{{ include "common.names.fullname" . }}
{{- end -}}
