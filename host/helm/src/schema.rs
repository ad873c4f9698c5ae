//! `values.schema.json` validation (JSON Schema draft 7 core keywords) with gojsonschema's
//! error wording, which is what Helm 3 prints (`- replicas: Invalid type. Expected: integer,
//! given: string`). Implemented here because the common keywords are small and the wording
//! must match.
//!
//! A `$ref` that leads back to itself without the value moving on (`{"$ref": "#"}`, two
//! definitions pointing at each other, a `$ref` to an enclosing `allOf`) makes Helm overflow its
//! stack and die; here it is a validation error naming the chain.

use serde_json::Value;

use crate::chart::Chart;
use crate::values::Values;
use crate::version::HelmVersion;

mod v4;

struct Ctx<'a> {
    root: &'a Value,
    errors: Vec<String>,
    /// The `$ref`s being followed: the reference, and the addresses of its target schema and of
    /// the value it is applied to. Seeing the same pair again is a cycle.
    refs: Vec<(String, usize, usize)>,
}

/// A value's address, to recognise the same schema applied to the same value.
fn addr(v: &Value) -> usize {
    std::ptr::from_ref(v) as usize
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            if n.is_i64() || n.is_u64() || (f.fract() == 0.0 && f.is_finite()) {
                "integer"
            } else {
                "number"
            }
        }
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &Value) -> bool {
    let got = type_name(v);
    want == got || (want == "number" && got == "integer")
}

fn field(path: &str) -> String {
    if path.is_empty() {
        "(root)".to_owned()
    } else {
        path.to_owned()
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn num_text(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => capstan_strconv::format_float(f, 'g', -1),
        None => v.to_string(),
    }
}

fn json_text(v: &Value) -> String {
    match v {
        Value::Number(_) => num_text(v),
        other => other.to_string(),
    }
}

fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let ptr = r.strip_prefix('#')?;
    if ptr.is_empty() {
        return Some(root);
    }
    root.pointer(ptr)
}

impl Ctx<'_> {
    fn err(&mut self, path: &str, msg: String) {
        self.errors.push(format!("- {}: {msg}", field(path)));
    }

    /// Errors of validating `v` against `schema` at `path`, without recording them.
    fn sub_errors(&self, schema: &Value, v: &Value, path: &str) -> Vec<String> {
        let mut sub = Ctx {
            root: self.root,
            errors: Vec::new(),
            refs: self.refs.clone(),
        };
        sub.validate(schema, v, path);
        sub.errors
    }

    /// gojsonschema merges the errors of the "best" failing alternative: here the first whose
    /// `type` accepts the value (else the first).
    fn merge_best(&mut self, alternatives: &[Value], v: &Value, path: &str) {
        let type_ok = |sub: &Value| match sub.get("type") {
            Some(Value::String(t)) => type_matches(t, v),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .any(|t| type_matches(t, v)),
            _ => true,
        };
        if let Some(best) = alternatives
            .iter()
            .find(|sub| type_ok(sub))
            .or(alternatives.first())
        {
            let errs = self.sub_errors(best, v, path);
            self.errors.extend(errs);
        }
    }

    fn is_valid(&self, schema: &Value, v: &Value) -> bool {
        let mut sub = Ctx {
            root: self.root,
            errors: Vec::new(),
            refs: self.refs.clone(),
        };
        sub.validate(schema, v, "");
        sub.errors.is_empty()
    }

    fn validate(&mut self, schema: &Value, v: &Value, path: &str) {
        let Value::Object(s) = schema else {
            if schema == &Value::Bool(false) {
                self.err(path, "False always fails validation".to_owned());
            }
            return;
        };
        if let Some(Value::String(r)) = s.get("$ref") {
            let root = self.root;
            if let Some(target) = resolve(root, r) {
                let key = (addr(target), addr(v));
                if let Some(start) = self.refs.iter().position(|(_, t, w)| (*t, *w) == key) {
                    let chain: Vec<&str> = self.refs[start..]
                        .iter()
                        .map(|(r, _, _)| r.as_str())
                        .chain(std::iter::once(r.as_str()))
                        .collect();
                    self.err(path, format!("$ref cycle: {}", chain.join(" -> ")));
                    return;
                }
                self.refs.push((r.clone(), key.0, key.1));
                self.validate(target, v, path);
                self.refs.pop();
            }
            return;
        }
        // Type.
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(x) => vec![x.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !types.is_empty() && !types.iter().any(|t| type_matches(t, v)) {
                let expected = if types.len() == 1 {
                    types[0].to_owned()
                } else {
                    format!("[{}]", types.join(","))
                };
                self.err(
                    path,
                    format!(
                        "Invalid type. Expected: {expected}, given: {}",
                        type_name(v)
                    ),
                );
                return;
            }
        }
        // Combinators, in gojsonschema's order (anyOf, oneOf, allOf, not, if/then/else).
        if let Some(Value::Array(any)) = s.get("anyOf")
            && !any.iter().any(|sub| self.is_valid(sub, v))
        {
            self.err(path, "Must validate at least one schema (anyOf)".to_owned());
            self.merge_best(any, v, path);
        }
        if let Some(Value::Array(one)) = s.get("oneOf") {
            let valid = one.iter().filter(|sub| self.is_valid(sub, v)).count();
            if valid != 1 {
                self.err(
                    path,
                    "Must validate one and only one schema (oneOf)".to_owned(),
                );
                if valid == 0 {
                    self.merge_best(one, v, path);
                }
            }
        }
        if let Some(Value::Array(all)) = s.get("allOf") {
            let mut failed = false;
            for sub in all {
                let errs = self.sub_errors(sub, v, path);
                if !errs.is_empty() {
                    failed = true;
                    self.errors.extend(errs);
                }
            }
            if failed {
                self.err(path, "Must validate all the schemas (allOf)".to_owned());
            }
        }
        if let Some(not) = s.get("not")
            && self.is_valid(not, v)
        {
            self.err(path, "Must not validate the schema (not)".to_owned());
        }
        if let Some(cond) = s.get("if") {
            let (branch, label) = if self.is_valid(cond, v) {
                (s.get("then"), "Must validate \"then\" as \"if\" was valid")
            } else {
                (
                    s.get("else"),
                    "Must validate \"else\" as \"if\" was not valid",
                )
            };
            if let Some(branch) = branch {
                let errs = self.sub_errors(branch, v, path);
                if !errs.is_empty() {
                    self.err(path, label.to_owned());
                    self.errors.extend(errs);
                }
            }
        }
        if let (Some(Value::String(format)), Value::String(text)) = (s.get("format"), v)
            && !format_ok(format, text)
        {
            self.err(path, format!("Does not match format '{format}'"));
        }
        match v {
            Value::Object(m) => {
                // gojsonschema's order: maxProperties, minProperties, required.
                if let Some(n) = s.get("maxProperties").and_then(Value::as_u64)
                    && (m.len() as u64) > n
                {
                    self.err(path, format!("Must have at most {n} properties"));
                }
                if let Some(n) = s.get("minProperties").and_then(Value::as_u64)
                    && (m.len() as u64) < n
                {
                    self.err(path, format!("Must have at least {n} properties"));
                }
                if let Some(Value::Array(req)) = s.get("required") {
                    for r in req.iter().filter_map(Value::as_str) {
                        if !m.contains_key(r) {
                            self.err(path, format!("{r} is required"));
                        }
                    }
                }
                let props = s.get("properties").and_then(Value::as_object);
                let pattern_props = s.get("patternProperties").and_then(Value::as_object);
                if let Some(ap) = s.get("additionalProperties") {
                    for (k, val) in m {
                        let known = props.is_some_and(|p| p.contains_key(k))
                            || pattern_props.is_some_and(|pp| {
                                pp.keys()
                                    .any(|re| regex::Regex::new(re).is_ok_and(|r| r.is_match(k)))
                            });
                        if known {
                            continue;
                        }
                        match ap {
                            Value::Bool(false) => {
                                self.err(path, format!("Additional property {k} is not allowed"));
                            }
                            Value::Object(_) => self.validate(ap, val, &child(path, k)),
                            _ => {}
                        }
                    }
                }
                self.common(s, v, path);
                if let Some(props) = props {
                    for (k, sub) in props {
                        if let Some(val) = m.get(k) {
                            self.validate(sub, val, &child(path, k));
                        }
                    }
                }
                if let Some(pp) = pattern_props {
                    for (re, sub) in pp {
                        if let Ok(r) = regex::Regex::new(re) {
                            for (k, val) in m {
                                if r.is_match(k) {
                                    self.validate(sub, val, &child(path, k));
                                }
                            }
                        }
                    }
                }
            }
            Value::Array(a) => {
                if let Some(n) = s.get("minItems").and_then(Value::as_u64)
                    && (a.len() as u64) < n
                {
                    self.err(path, format!("Array must have at least {n} items"));
                }
                if let Some(n) = s.get("maxItems").and_then(Value::as_u64)
                    && (a.len() as u64) > n
                {
                    self.err(path, format!("Array must have at most {n} items"));
                }
                if s.get("uniqueItems") == Some(&Value::Bool(true)) {
                    'outer: for i in 0..a.len() {
                        for j in (i + 1)..a.len() {
                            if a[i] == a[j] {
                                self.err(path, format!("array items[{i},{j}] must be unique"));
                                break 'outer;
                            }
                        }
                    }
                }
                self.common(s, v, path);
                match s.get("items") {
                    Some(items @ Value::Object(_)) | Some(items @ Value::Bool(_)) => {
                        for (i, item) in a.iter().enumerate() {
                            self.validate(items, item, &child(path, &i.to_string()));
                        }
                    }
                    Some(Value::Array(tuple)) => {
                        for (i, (item, sub)) in a.iter().zip(tuple.iter()).enumerate() {
                            self.validate(sub, item, &child(path, &i.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            Value::String(st) => {
                let len = st.chars().count() as u64;
                if let Some(n) = s.get("minLength").and_then(Value::as_u64)
                    && len < n
                {
                    self.err(
                        path,
                        format!("String length must be greater than or equal to {n}"),
                    );
                }
                if let Some(n) = s.get("maxLength").and_then(Value::as_u64)
                    && len > n
                {
                    self.err(
                        path,
                        format!("String length must be less than or equal to {n}"),
                    );
                }
                if let Some(Value::String(p)) = s.get("pattern")
                    && let Ok(re) = regex::Regex::new(p)
                    && !re.is_match(st)
                {
                    self.err(path, format!("Does not match pattern '{p}'"));
                }
                self.common(s, v, path);
            }
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                if let Some(m) = s.get("multipleOf").and_then(Value::as_f64)
                    && m != 0.0
                    && (f / m).fract() != 0.0
                {
                    self.err(
                        path,
                        format!("Must be a multiple of {}", num_text(&s["multipleOf"])),
                    );
                }
                // gojsonschema's order: maximum, exclusiveMaximum, minimum, exclusiveMinimum.
                if let Some(max) = s.get("maximum").and_then(Value::as_f64)
                    && f > max
                {
                    self.err(
                        path,
                        format!("Must be less than or equal to {}", num_text(&s["maximum"])),
                    );
                }
                if let Some(max) = s.get("exclusiveMaximum").and_then(Value::as_f64)
                    && f >= max
                {
                    self.err(
                        path,
                        format!("Must be less than {}", num_text(&s["exclusiveMaximum"])),
                    );
                }
                if let Some(min) = s.get("minimum").and_then(Value::as_f64)
                    && f < min
                {
                    self.err(
                        path,
                        format!(
                            "Must be greater than or equal to {}",
                            num_text(&s["minimum"])
                        ),
                    );
                }
                if let Some(min) = s.get("exclusiveMinimum").and_then(Value::as_f64)
                    && f <= min
                {
                    self.err(
                        path,
                        format!("Must be greater than {}", num_text(&s["exclusiveMinimum"])),
                    );
                }
                self.common(s, v, path);
            }
            _ => self.common(s, v, path),
        }
    }

    fn common(&mut self, s: &serde_json::Map<String, Value>, v: &Value, path: &str) {
        let eq = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        };
        if let Some(c) = s.get("const")
            && !eq(c, v)
        {
            self.err(
                path,
                format!("{} does not match: {}", field(path), json_text(c)),
            );
        }
        if let Some(Value::Array(allowed)) = s.get("enum")
            && !allowed.iter().any(|a| eq(a, v))
        {
            let list: Vec<String> = allowed.iter().map(json_text).collect();
            self.err(
                path,
                format!(
                    "{} must be one of the following: {}",
                    field(path),
                    list.join(", ")
                ),
            );
        }
    }
}

/// The common `format` checks (approximations of gojsonschema's checkers); unknown formats
/// pass, as in gojsonschema.
fn format_ok(format: &str, s: &str) -> bool {
    match format {
        "email" => match s.rsplit_once('@') {
            Some((local, domain)) => {
                !local.is_empty() && !domain.is_empty() && !s.contains(char::is_whitespace)
            }
            None => false,
        },
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "hostname" => {
            !s.is_empty()
                && s.len() <= 255
                && s.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        }
        "uri" => s.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }),
        "date-time" => {
            crate::yaml::resolve_scalar(s) != crate::yaml::Node::Str(String::new())
                && s.len() >= 20
                && s.as_bytes()
                    .get(10)
                    .is_some_and(|b| *b == b'T' || *b == b't')
        }
        _ => true,
    }
}

/// Validates `values` against one schema; returns gojsonschema-style `- field: message` lines
/// (Helm 3) or santhosh-tekuri/jsonschema's `- at '/pointer': message` tree (Helm 4).
pub(crate) fn validate_single(
    schema_json: &[u8],
    values: &Values,
    helm: HelmVersion,
) -> Result<Vec<String>, String> {
    let schema: Value = serde_json::from_slice(schema_json).map_err(|e| e.to_string())?;
    let doc = Value::Object(values.clone());
    if helm == HelmVersion::V4 {
        return Ok(v4::validate(&schema, &doc));
    }
    let mut ctx = Ctx {
        root: &schema,
        errors: Vec::new(),
        refs: Vec::new(),
    };
    ctx.validate(&schema, &doc, "");
    Ok(ctx.errors)
}

/// Helm's `ValidateAgainstSchema` for a chart and its subcharts; empty when valid.
pub(crate) fn validate_chart_tree(chart: &Chart, values: &Values, helm: HelmVersion) -> String {
    let mut sb = String::new();
    if let Some(schema) = &chart.schema {
        match validate_single(schema, values, helm) {
            Ok(errs) if errs.is_empty() => {}
            Ok(errs) => {
                sb.push_str(&format!("{}:\n", chart.name()));
                for e in errs {
                    sb.push_str(&e);
                    sb.push('\n');
                }
            }
            Err(e) => {
                sb.push_str(&format!("{}:\n", chart.name()));
                sb.push_str(&e);
            }
        }
    }
    for sub in &chart.dependencies {
        let empty = Values::new();
        let sub_values = match values.get(sub.name()) {
            Some(Value::Object(m)) => m,
            _ => &empty,
        };
        sb.push_str(&validate_chart_tree(sub, sub_values, helm));
    }
    sb
}

#[cfg(test)]
mod tests {
    use super::validate_single;
    use crate::version::HelmVersion;

    fn values(json: &str) -> crate::values::Values {
        match serde_json::from_str(json) {
            Ok(serde_json::Value::Object(m)) => m,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn ref_cycles_are_errors_not_stack_overflows() {
        for (schema, chain) in [
            (r##"{"$ref": "#"}"##, "$ref cycle: # -> #"),
            (
                r##"{"properties": {"a": {"$ref": "#/definitions/x"}}, "definitions": {"x": {"$ref": "#/definitions/y"}, "y": {"$ref": "#/definitions/x"}}}"##,
                "$ref cycle: #/definitions/x -> #/definitions/y -> #/definitions/x",
            ),
            (r##"{"allOf": [{"$ref": "#"}]}"##, "$ref cycle: # -> #"),
        ] {
            let errors =
                validate_single(schema.as_bytes(), &values(r#"{"a": 1}"#), HelmVersion::V3)
                    .expect("schema parses");
            assert!(
                errors.iter().any(|e| e.contains(chain)),
                "{schema}: {errors:?}"
            );
            let errors =
                validate_single(schema.as_bytes(), &values(r#"{"a": 1}"#), HelmVersion::V4)
                    .expect("schema parses");
            assert!(
                errors.iter().any(|e| e.contains("$ref cycle at")),
                "Helm 4: {schema}: {errors:?}"
            );
        }
    }

    #[test]
    fn recursive_schemas_that_descend_are_fine() {
        // A tree schema refers to itself for children: legitimate, and it ends with the data.
        let schema = r##"{"type": "object", "properties": {"child": {"$ref": "#"}, "n": {"type": "integer"}}}"##;
        let ok = validate_single(
            schema.as_bytes(),
            &values(r#"{"child": {"child": {"n": 1}}}"#),
            HelmVersion::V3,
        )
        .expect("parses");
        assert!(ok.is_empty(), "{ok:?}");
        let bad = validate_single(
            schema.as_bytes(),
            &values(r#"{"child": {"n": "x"}}"#),
            HelmVersion::V3,
        )
        .expect("parses");
        assert_eq!(bad.len(), 1, "{bad:?}");
    }
}
