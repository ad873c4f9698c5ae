//! Rough rendering benchmark: parses a chart-like template set once and renders it repeatedly.
//! Run with `cargo run --release -p capstan-gotmpl --example bench`.

use std::collections::BTreeMap;
use std::time::Instant;

use capstan_gotmpl::{CallContext, FuncError, Signature, TemplateSet, Ty, Value, sprig};

const HELPERS: &str = r#"
{{- define "app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- define "app.fullname" -}}
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
{{- define "app.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "app.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
{{- define "app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
"#;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "app.fullname" . }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "app.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      {{- with .Values.podAnnotations }}
      annotations:
        {{- range $k, $v := . }}
        {{ $k }}: {{ $v | quote }}
        {{- end }}
      {{- end }}
      labels:
        {{- include "app.selectorLabels" . | nindent 8 }}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            {{- range $i, $p := .Values.ports }}
            - name: {{ $p.name }}
              containerPort: {{ $p.port }}
              protocol: {{ $p.protocol | default "TCP" | upper }}
            {{- end }}
          env:
            {{- range $k, $v := .Values.env }}
            - name: {{ $k | upper | replace "-" "_" }}
              value: {{ $v | toString | quote }}
            {{- end }}
          {{- if semverCompare ">=1.19-0" .Capabilities.KubeVersion }}
          resources: {{ .Values.resources.limits.cpu }}/{{ .Values.resources.limits.memory }}
          {{- end }}
"#;

fn values() -> Value {
    let mut env = serde_json::Map::new();
    for i in 0..40 {
        env.insert(format!("var-{i}"), serde_json::json!(format!("value {i}")));
    }
    let ports: Vec<serde_json::Value> = (0..10)
        .map(|i| serde_json::json!({"name": format!("p{i}"), "port": 8000 + i, "protocol": "tcp"}))
        .collect();
    let j = serde_json::json!({
        "Values": {
            "replicaCount": 3,
            "autoscaling": {"enabled": false},
            "image": {"repository": "nginx", "pullPolicy": "IfNotPresent", "tag": ""},
            "podAnnotations": {"a": "1", "b": "two"},
            "ports": ports,
            "env": env,
            "resources": {"limits": {"cpu": "100m", "memory": "128Mi"}},
        },
        "Chart": {"Name": "app", "Version": "1.2.3+build", "AppVersion": "4.5.6"},
        "Release": {"Name": "rel", "Service": "Helm"},
        "Capabilities": {"KubeVersion": "v1.29.0"},
    });
    Value::from_json_go(&j)
}

fn main() {
    let mut funcs = sprig::sprig_funcs();
    funcs.register_with_context(
        "include",
        Signature::new(&[Ty::String, Ty::Any]),
        |cx: &mut CallContext<'_>, a: &[Value]| {
            let name = a[0].as_str().unwrap_or_default().to_owned();
            cx.execute_template(&name, &a[1])
                .map(Value::from)
                .map_err(|e| FuncError::wrap("", e))
        },
    );
    let t0 = Instant::now();
    let parse_iters = 2000;
    for _ in 0..parse_iters {
        let mut set = TemplateSet::new(funcs.clone());
        set.parse("_helpers.tpl", HELPERS).expect("helpers parse");
        set.parse("deployment.yaml", DEPLOYMENT)
            .expect("deployment parses");
    }
    let parse = t0.elapsed() / parse_iters;
    let mut set = TemplateSet::new(funcs);
    set.parse("_helpers.tpl", HELPERS).expect("helpers parse");
    set.parse("deployment.yaml", DEPLOYMENT)
        .expect("deployment parses");
    let data = values();
    let out = set.execute("deployment.yaml", &data).expect("renders");
    let iters = 20_000;
    let t0 = Instant::now();
    let mut bytes = 0;
    for _ in 0..iters {
        bytes += set
            .execute("deployment.yaml", &data)
            .expect("renders")
            .len();
    }
    let render = t0.elapsed() / iters;
    let _ = BTreeMap::<String, Value>::new();
    println!("{out}");
    println!(
        "parse (2 files): {parse:?}/iter; render: {render:?}/iter ({} bytes)",
        bytes / iters as usize
    );
}
