{{- define "gotemplate.block" -}}default block{{- end -}}
{{- define "gotemplate.override" -}}first{{- end -}}
