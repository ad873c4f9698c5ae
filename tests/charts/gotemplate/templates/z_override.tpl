{{- define "gotemplate.override" -}}second{{- end -}}
