//! A small, deterministic YAML writer for JSON values, in the layout `kubectl` and Helm users are
//! used to (sorted keys, two-space indent, sequences flush under their key, literal blocks for
//! multi-line text). Strings are quoted whenever a YAML 1.1 or 1.2 reader could read them as
//! anything but the same string.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::resolve::plain_would_change;

/// One document, without a `---` header. A scalar or empty collection ends with a newline too.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(list) if !list.is_empty() => write_seq(&mut out, list, 0),
        other => {
            write_inline(&mut out, other, 0);
            out.push('\n');
        }
    }
    out
}

/// A stream: every document preceded by `---`.
pub fn to_stream(values: &[Value]) -> String {
    let mut out = String::new();
    for value in values {
        out.push_str("---\n");
        out.push_str(&to_string(value));
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, map: &Map<String, Value>, level: usize) {
    let mut first = true;
    for (key, value) in sorted(map) {
        if !first {
            indent(out, level);
        }
        first = false;
        write_key(out, key);
        out.push(':');
        write_value_after_key(out, value, level);
    }
}

/// serde_json maps are sorted unless a dependency turns on `preserve_order`; sort regardless so
/// the output never depends on feature unification.
fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn write_value_after_key(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            indent(out, level + 2);
            write_map(out, m, level + 2);
        }
        Value::Array(l) if !l.is_empty() => {
            out.push('\n');
            indent(out, level);
            write_seq(out, l, level);
        }
        Value::String(s) if is_block_candidate(s) => {
            out.push(' ');
            write_block(out, s, level + 2);
        }
        other => {
            out.push(' ');
            write_inline(out, other, level);
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, list: &[Value], level: usize) {
    let mut first = true;
    for item in list {
        if !first {
            indent(out, level);
        }
        first = false;
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => write_map(out, m, level + 2),
            Value::Array(l) if !l.is_empty() => write_seq(out, l, level + 2),
            Value::String(s) if is_block_candidate(s) => write_block(out, s, level + 2),
            other => {
                write_inline(out, other, level);
                out.push('\n');
            }
        }
    }
}

fn write_key(out: &mut String, key: &str) {
    if needs_quotes(key) {
        write_double_quoted(out, key)
    } else {
        out.push_str(key)
    }
}

fn write_inline(out: &mut String, value: &Value, _level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => {
            if needs_quotes(s) {
                write_double_quoted(out, s);
            } else {
                out.push_str(s);
            }
        }
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// Multi-line text that a literal block can carry unchanged.
fn is_block_candidate(s: &str) -> bool {
    s.contains('\n')
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && !s.contains('\u{feff}')
        && !s.lines().any(|l| l.ends_with(' ') || l.ends_with('\t'))
}

fn write_block(out: &mut String, s: &str, content_indent: usize) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    out.push('|');
    if s.starts_with(' ') || s.starts_with('\n') {
        let _ = write!(out, "{}", content_indent.clamp(1, 9));
    }
    out.push_str(chomp);
    out.push('\n');
    let body = if trailing == 0 { s } else { &s[..s.len() - 1] };
    for line in body.split('\n') {
        if !line.is_empty() {
            indent(out, content_indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || plain_would_change(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if matches!(
        first,
        '-' | '?'
            | ':'
            | ','
            | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
            | ' '
    ) {
        return true;
    }
    if s.ends_with(' ') || s.ends_with(':') {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.contains('\t') {
        return true;
    }
    s.chars().any(|c| {
        c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}'
    })
}

/// A YAML double-quoted scalar; JSON string escapes are all valid YAML escapes.
fn write_double_quoted(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::parse_one;

    #[test]
    fn layout_matches_kubectl_style() {
        let v = json!({
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}], "args": []}]}}}
        });
        let expected = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations: {}
  labels:
    app: web
  name: web
spec:
  template:
    spec:
      containers:
      - args: []
        name: c
        ports:
        - containerPort: 80
";
        assert_eq!(to_string(&v), expected);
    }

    #[test]
    fn ambiguous_strings_are_quoted_and_round_trip() {
        let v = json!({
            "a": "yes", "b": "0755", "c": "1.5", "d": "", "e": "null", "f": "a: b", "g": "- x",
            "h": "2024-01-01", "i": "#x", "j": "tab\there", "k": "ok", "l": 1.5, "m": 7, "n": true, "o": null,
            "p": "line1\nline2\n", "q": "no trailing\nnewline", "r": "  indented\nblock", "s": "many\n\n\n",
            "t": "ends with space \nx", "u": "v1.2.3", "w": "*alias", "x": ["on", "off"]
        });
        let text = to_string(&v);
        assert!(text.contains("a: \"yes\"\n"), "{text}");
        assert!(text.contains("k: ok\n"), "{text}");
        assert!(text.contains("p: |\n  line1\n  line2\n"), "{text}");
        assert!(text.contains("q: |-\n"), "{text}");
        assert_eq!(
            parse_one(&text).expect("re-parses"),
            v,
            "round trip failed for:\n{text}"
        );
    }

    #[test]
    fn stream_separates_documents() {
        let s = to_stream(&[json!({"a": 1}), json!({"b": [1, [2, 3]]})]);
        assert_eq!(s, "---\na: 1\n---\nb:\n- 1\n- - 2\n  - 3\n");
        assert_eq!(
            crate::parse_stream(&s).expect("parses"),
            vec![json!({"a": 1}), json!({"b": [1, [2, 3]]})]
        );
    }
}
