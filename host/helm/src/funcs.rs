//! Helm's template functions on top of Sprig: `include` (with Helm's recursion limit), `tpl`,
//! `required`, `fail`, the YAML/JSON/TOML converters and an offline `lookup`.

use std::collections::{BTreeMap, HashMap};

use capstan_gotmpl::{CallContext, FuncError, FuncMap, Signature, Ty, Value, go_quote};

use crate::yaml::{self, Node};

/// Helm's include recursion limit (`recursionMaxNums`).
const RECURSION_MAX: usize = 1000;

/// Wraps a message the way Helm marks `required`/`fail` errors, so the final error can be
/// reworded to `execution error at (file:line:col): msg`.
pub(crate) fn warn_wrap(msg: &str) -> String {
    format!("HELM[{msg}]HELM")
}

/// Converts a template value to the YAML node `json.Marshal` + go-yaml would see.
pub(crate) fn value_to_node(v: &Value) -> Option<Node> {
    Some(match v {
        Value::Nil => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Int(i) => Node::Int(*i),
        Value::Float(f) => {
            let text = capstan_strconv::format_json_float(*f)?;
            yaml::resolve_scalar(&text)
        }
        Value::String(s) => Node::Str(s.to_string()),
        Value::List(l) => Node::Seq(l.iter().map(value_to_node).collect::<Option<_>>()?),
        Value::Map(m) => {
            let mut entries: Vec<(String, Node)> = Vec::with_capacity(m.len());
            for (k, v) in m.entries() {
                let node = value_to_node(&v)?;
                entries.push((k, node));
            }
            yaml::sort_entries(&mut entries);
            Node::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (Node::Str(k), v))
                    .collect(),
            )
        }
        Value::Object(o) => match crate::objects::values_map(v) {
            Some(map) => value_to_node(&map)?,
            None => yaml::json_to_node(&o.to_json()),
        },
    })
}

/// Helm's `toYaml`: go-yaml text without the final newline; `""` when marshalling fails.
pub(crate) fn to_yaml_string(v: &Value) -> String {
    match value_to_node(v) {
        Some(n) => {
            let mut s = yaml::to_yaml_document(&n);
            if s.ends_with('\n') {
                s.pop();
            }
            s
        }
        None => String::new(),
    }
}

/// A values tree's data to a template value, with Helm's Go types: a JSON float is a Go
/// `float64` (what YAML files, `--set-json`, `fromYaml` and Flux's `spec.values` yield), a
/// JSON integer is a Go `int64` (what `--set` yields: strvals' `strconv.ParseInt`). See
/// [`crate::values`] for building values with the right types.
pub fn json_to_value(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            if n.is_f64() {
                Value::Float(n.as_f64().unwrap_or(0.0))
            } else if let Some(i) = n.as_i64() {
                Value::int64(i)
            } else {
                Value::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        J::String(s) => Value::from(s.as_str()),
        J::Array(a) => Value::list(a.iter().map(json_to_value).collect()),
        J::Object(o) => Value::map(
            o.iter()
                .map(|(k, v)| (k.clone(), json_to_value(v)))
                .collect(),
        ),
    }
}

fn json_text(v: &Value) -> Option<String> {
    if let Some(map) = crate::objects::values_map(v) {
        return json_text(&map);
    }
    if contains_non_finite(v) {
        return None;
    }
    let mut out = String::new();
    v.write_go_json(&mut out);
    Some(out)
}

fn contains_non_finite(v: &Value) -> bool {
    match v {
        Value::Float(f) => !f.is_finite(),
        Value::List(l) => l.iter().any(contains_non_finite),
        Value::Map(m) => m.entries().iter().any(|(_, v)| contains_non_finite(v)),
        _ => false,
    }
}

fn from_yaml(s: &str) -> Value {
    let mut m = BTreeMap::new();
    match yaml::parse_json_like(s) {
        Ok(serde_json::Value::Object(o)) => {
            return json_to_value(&serde_json::Value::Object(o));
        }
        Ok(serde_json::Value::Null) => {}
        Ok(other) => {
            m.insert(
                "Error".to_owned(),
                Value::from(format!(
                    "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                )),
            );
        }
        Err(e) => {
            m.insert(
                "Error".to_owned(),
                Value::from(format!("error converting YAML to JSON: {e}")),
            );
        }
    }
    Value::map(m)
}

fn from_yaml_array(s: &str) -> Value {
    match yaml::parse_json_like(s) {
        Ok(serde_json::Value::Array(a)) => json_to_value(&serde_json::Value::Array(a)),
        Ok(serde_json::Value::Null) => Value::list(Vec::new()),
        Ok(other) => Value::list(vec![Value::from(format!(
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type []interface {{}}",
            json_kind(&other)
        ))]),
        Err(e) => Value::list(vec![Value::from(format!(
            "error converting YAML to JSON: {e}"
        ))]),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Array(_) => "array",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Object(_) => "object",
        serde_json::Value::Null => "null",
    }
}

fn from_json(s: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Object(o)) => Value::from_json_go(&serde_json::Value::Object(o)),
        Ok(serde_json::Value::Null) => Value::empty_map(),
        Ok(other) => {
            let mut m = BTreeMap::new();
            m.insert(
                "Error".to_owned(),
                Value::from(format!(
                    "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    json_kind(&other)
                )),
            );
            Value::map(m)
        }
        Err(e) => {
            let mut m = BTreeMap::new();
            m.insert("Error".to_owned(), Value::from(go_json_error(s, &e)));
            Value::map(m)
        }
    }
}

fn from_json_array(s: &str) -> Value {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Array(a)) => Value::from_json_go(&serde_json::Value::Array(a)),
        Ok(serde_json::Value::Null) => Value::list(Vec::new()),
        Ok(other) => Value::list(vec![Value::from(format!(
            "json: cannot unmarshal {} into Go value of type []interface {{}}",
            json_kind(&other)
        ))]),
        Err(e) => Value::list(vec![Value::from(go_json_error(s, &e))]),
    }
}

fn go_json_error(s: &str, e: &serde_json::Error) -> String {
    if s.trim().is_empty() || e.is_eof() {
        "unexpected end of JSON input".to_owned()
    } else {
        format!("invalid character in JSON input: {e}")
    }
}

type IncludeCounts = HashMap<String, usize>;

fn include(cx: &mut CallContext<'_>, args: &[Value]) -> Result<Value, FuncError> {
    let name = args
        .first()
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let data = args.get(1).cloned().unwrap_or(Value::Nil);
    {
        let counts = cx.state::<IncludeCounts>();
        let n = counts.entry(name.clone()).or_insert(0);
        if *n > RECURSION_MAX {
            return Err(FuncError::new(format!(
                "rendering template has a nested reference name: {name}: unable to execute template"
            )));
        }
        *n += 1;
    }
    let res = cx.execute_template(&name, &data);
    if let Some(n) = cx.state::<IncludeCounts>().get_mut(&name) {
        *n = n.saturating_sub(1);
    }
    match res {
        Ok(s) => Ok(Value::from(s)),
        Err(e) => Err(FuncError::wrap("", e)),
    }
}

fn tpl(cx: &mut CallContext<'_>, args: &[Value]) -> Result<Value, FuncError> {
    let src = args
        .first()
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let data = args.get(1).cloned().unwrap_or(Value::Nil);
    match cx.render_string("gotpl", &src, &data) {
        Ok(s) => Ok(Value::from(s.replace("<no value>", ""))),
        Err(e @ capstan_gotmpl::Error::ParseTemplate { .. }) => Err(FuncError::wrap(
            &format!("cannot parse template {}", go_quote(&src)),
            e,
        )),
        Err(e) => Err(FuncError::wrap(
            &format!("error during tpl function execution for {}", go_quote(&src)),
            e,
        )),
    }
}

/// Go's `json.Indent(dst, compact, "", "  ")` over compact JSON text.
fn indent_json(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let chars: Vec<char> = compact.chars().collect();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                if chars.get(i + 1) == Some(&close) {
                    out.push(c);
                    out.push(close);
                    i += 2;
                    continue;
                }
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// `encoding/json` without HTML escaping (Sprig's `toRawJson`).
fn raw_json_text(v: &Value) -> Option<String> {
    json_text(v).map(|s| {
        s.replace("\\u003c", "<")
            .replace("\\u003e", ">")
            .replace("\\u0026", "&")
    })
}

/// The function map `helm` gives templates: Sprig (with its Masterminds/semver release) without
/// `env`/`expandenv`, plus Helm's own.
pub(crate) fn helm_funcs(helm: crate::HelmVersion) -> FuncMap {
    let sprig = capstan_gotmpl::sprig::sprig_funcs_with(helm.semver());
    let mut m = FuncMap::new();
    for name in sprig.names() {
        if name == "env" || name == "expandenv" {
            continue;
        }
        if let Some(f) = sprig.get(name) {
            m.insert(name, f.clone());
        }
    }
    let any1 = Signature::new(&[Ty::Any]);
    let str1 = Signature::new(&[Ty::String]);
    m.register("toYaml", any1.clone(), |a| {
        Ok(Value::from(to_yaml_string(&a[0])))
    });
    m.register("mustToYaml", any1.clone(), |a| match value_to_node(&a[0]) {
        Some(n) => {
            let mut s = yaml::to_yaml_document(&n);
            if s.ends_with('\n') {
                s.pop();
            }
            Ok(Value::from(s))
        }
        None => Err(FuncError::new("json: unsupported value")),
    });
    m.register("toYamlPretty", any1.clone(), |a| {
        Ok(Value::from(to_yaml_string(&a[0])))
    });
    m.register("fromYaml", str1.clone(), |a| {
        Ok(from_yaml(a[0].as_str().unwrap_or("")))
    });
    m.register("fromYamlArray", str1.clone(), |a| {
        Ok(from_yaml_array(a[0].as_str().unwrap_or("")))
    });
    m.register("toJson", any1.clone(), |a| {
        Ok(Value::from(json_text(&a[0]).unwrap_or_default()))
    });
    m.register("mustToJson", any1.clone(), |a| {
        json_text(&a[0])
            .map(Value::from)
            .ok_or_else(|| FuncError::new("json: unsupported value: NaN"))
    });
    // Sprig JSON helpers, registered only if the Sprig library does not provide them.
    if !m.contains("toPrettyJson") {
        m.register("toPrettyJson", any1.clone(), |a| {
            Ok(Value::from(
                json_text(&a[0])
                    .map(|s| indent_json(&s))
                    .unwrap_or_default(),
            ))
        });
    }
    if !m.contains("mustToPrettyJson") {
        m.register("mustToPrettyJson", any1.clone(), |a| {
            json_text(&a[0])
                .map(|s| Value::from(indent_json(&s)))
                .ok_or_else(|| FuncError::new("json: unsupported value: NaN"))
        });
    }
    if !m.contains("toRawJson") {
        m.register("toRawJson", any1.clone(), |a| {
            Ok(Value::from(raw_json_text(&a[0]).unwrap_or_default()))
        });
    }
    if !m.contains("mustToRawJson") {
        m.register("mustToRawJson", any1.clone(), |a| {
            raw_json_text(&a[0])
                .map(Value::from)
                .ok_or_else(|| FuncError::new("json: unsupported value: NaN"))
        });
    }
    m.register("fromJson", str1.clone(), |a| {
        Ok(from_json(a[0].as_str().unwrap_or("")))
    });
    m.register("fromJsonArray", str1.clone(), |a| {
        Ok(from_json_array(a[0].as_str().unwrap_or("")))
    });
    m.register("toToml", any1, |a| {
        Ok(Value::from(crate::toml::to_toml(&a[0])))
    });
    m.register_with_context("include", Signature::new(&[Ty::String, Ty::Any]), include);
    m.register_with_context("tpl", Signature::new(&[Ty::String, Ty::Any]), tpl);
    m.register("required", Signature::new(&[Ty::String, Ty::Any]), |a| {
        let warn = a[0].as_str().unwrap_or("");
        match &a[1] {
            Value::Nil => Err(FuncError::new(warn_wrap(warn))),
            Value::String(s) if s.is_empty() => Err(FuncError::new(warn_wrap(warn))),
            v => Ok(v.clone()),
        }
    });
    m.register("fail", str1, |a| {
        Err(FuncError::new(warn_wrap(a[0].as_str().unwrap_or(""))))
    });
    m.register(
        "lookup",
        Signature::new(&[Ty::String, Ty::String, Ty::String, Ty::String]),
        |_| Ok(Value::empty_map()),
    );
    m
}
