{{ define "x" }}{{ index .Values.list 5 }}{{ end }}
