{{- define "tpl-include.data" -}}
key: {{ .Values.name }}
{{- end -}}
{{- define "tpl-include.list" -}}
{{- range . }}
- {{ . }}
{{- end }}
{{- end -}}
{{- define "tpl-include.dict" -}}
{{ .a }}/{{ .b }}/{{ .root.Values.name }}
{{- end -}}
{{- define "tpl-include.recurse" -}}
{{- if gt (int .n) 0 -}}
{{ .n }},{{ include "tpl-include.recurse" (dict "n" (sub (int .n) 1)) }}
{{- end -}}
{{- end -}}
