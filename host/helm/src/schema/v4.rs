//! Helm 4 validates `values.schema.json` with santhosh-tekuri/jsonschema (v6), whose results
//! are a tree printed as `- at '/json/pointer': message`, with the causes of `allOf`, `anyOf`,
//! `oneOf`, `contains` and `propertyNames` indented below. Its rules differ from gojsonschema's
//! (Helm 3) beyond wording: a failed `type`, `const` or `enum` stops the other checks of that
//! schema, `$ref`, `if`/`then`/`else` and `additionalProperties` report their errors in place,
//! and `format` is asserted only for drafts up to 7. Where santhosh iterates a Go map
//! (properties), Helm 4's order is random; this one sorts by name.

use serde_json::Value;

/// One validation error: instance location (JSON pointer), message, causes.
struct Failure {
    at: String,
    message: String,
    causes: Vec<Failure>,
}

struct Validator<'a> {
    root: &'a Value,
    /// Drafts 4 to 7: `format` is an assertion, `items` may be a tuple, `dependencies` exists.
    legacy: bool,
    /// The `$ref`s being followed, as (target schema, value) addresses: meeting one again is a
    /// cycle, which would otherwise recurse until the stack overflows.
    refs: std::cell::RefCell<Vec<(usize, usize)>>,
}

/// Validates `doc` against `schema`; returns the lines Helm 4 prints (empty when valid).
pub(super) fn validate(schema: &Value, doc: &Value) -> Vec<String> {
    let legacy = schema
        .get("$schema")
        .and_then(Value::as_str)
        .is_some_and(|s| {
            ["draft-04", "draft-06", "draft-07"]
                .iter()
                .any(|d| s.contains(d))
        });
    let v = Validator {
        root: schema,
        legacy,
        refs: std::cell::RefCell::new(Vec::new()),
    };
    let mut out = Vec::new();
    for f in v.check(schema, doc, "") {
        print(&f, 0, &mut out);
    }
    out
}

fn print(f: &Failure, depth: usize, out: &mut Vec<String>) {
    out.push(format!(
        "{}- at '{}': {}",
        "  ".repeat(depth),
        f.at,
        f.message
    ));
    for c in &f.causes {
        print(c, depth + 1, out);
    }
}

/// Whether a value breaks a numeric limit (value, limit).
type Violated = fn(f64, f64) -> bool;

/// santhosh's JSON type names, in the order it lists wanted types.
const TYPE_ORDER: &[&str] = &[
    "null", "boolean", "number", "integer", "string", "array", "object",
];

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_type(want: &str, v: &Value) -> bool {
    match (want, v) {
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => want == type_of(v),
    }
}

/// A number as santhosh prints it (`4`, `0.25`).
fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => capstan_strconv::format_float(f, 'g', -1),
        None => v.to_string(),
    }
}

/// A primitive as santhosh quotes it in `value must be …` (`'x'`, `5`, `true`, `<nil>`);
/// `None` for arrays and objects.
fn primitive(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("<nil>".to_owned()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(_) => Some(num(v)),
        Value::String(s) => Some(format!("'{s}'")),
        _ => None,
    }
}

fn quoted_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn pointer(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}

impl Validator<'_> {
    fn fail(at: &str, message: String) -> Failure {
        Failure {
            at: at.to_owned(),
            message,
            causes: Vec::new(),
        }
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        let ptr = reference.strip_prefix('#')?;
        if ptr.is_empty() {
            Some(self.root)
        } else {
            self.root.pointer(ptr)
        }
    }

    /// The errors of `v` (at `at`) against `schema`, in santhosh's keyword order.
    fn check(&self, schema: &Value, v: &Value, at: &str) -> Vec<Failure> {
        let s = match schema {
            Value::Bool(false) => return vec![Self::fail(at, "false schema".to_owned())],
            Value::Object(s) => s,
            _ => return Vec::new(),
        };
        let mut errs = Vec::new();
        if let Some(Value::String(r)) = s.get("$ref")
            && let Some(target) = self.resolve(r)
        {
            let key = (
                std::ptr::from_ref(target) as usize,
                std::ptr::from_ref(v) as usize,
            );
            if self.refs.borrow().contains(&key) {
                return vec![Self::fail(at, format!("$ref cycle at {r}"))];
            }
            self.refs.borrow_mut().push(key);
            errs.extend(self.check(target, v, at));
            self.refs.borrow_mut().pop();
            if self.legacy {
                return errs;
            }
        }
        if let Some(t) = s.get("type") {
            let wanted: Vec<&str> = match t {
                Value::String(x) => vec![x.as_str()],
                Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !wanted.is_empty() && !wanted.iter().any(|w| is_type(w, v)) {
                let listed: Vec<&str> = TYPE_ORDER
                    .iter()
                    .copied()
                    .filter(|t| wanted.contains(t))
                    .collect();
                errs.push(Self::fail(
                    at,
                    format!("got {}, want {}", type_of(v), listed.join(" or ")),
                ));
                return errs;
            }
        }
        if let Some(c) = s.get("const")
            && !equal(c, v)
        {
            let message = match primitive(c) {
                Some(p) => format!("value must be {p}"),
                None => "'const' failed".to_owned(),
            };
            errs.push(Self::fail(at, message));
            return errs;
        }
        if let Some(Value::Array(allowed)) = s.get("enum")
            && !allowed.iter().any(|a| equal(a, v))
        {
            let listed: Option<Vec<String>> = allowed.iter().map(primitive).collect();
            let message = match listed {
                Some(l) if l.len() == 1 => format!("value must be {}", l[0]),
                Some(l) => format!("value must be one of {}", l.join(", ")),
                None => "'enum' failed".to_owned(),
            };
            errs.push(Self::fail(at, message));
            return errs;
        }
        if self.legacy
            && let (Some(Value::String(format)), Value::String(text)) = (s.get("format"), v)
            && let Err(reason) = check_format(format, text)
        {
            errs.push(Self::fail(
                at,
                format!("'{text}' is not valid {format}: {reason}"),
            ));
        }
        match v {
            Value::Object(m) => self.check_object(s, m, at, &mut errs),
            Value::Array(a) => self.check_array(s, a, at, &mut errs),
            Value::String(text) => {
                let len = text.chars().count() as u64;
                let bound = |k: &str| s.get(k).and_then(Value::as_u64);
                if let Some(n) = bound("minLength")
                    && len < n
                {
                    errs.push(Self::fail(at, format!("minLength: got {len}, want {n}")));
                }
                if let Some(n) = bound("maxLength")
                    && len > n
                {
                    errs.push(Self::fail(at, format!("maxLength: got {len}, want {n}")));
                }
                if let Some(Value::String(p)) = s.get("pattern")
                    && let Ok(re) = regex::Regex::new(p)
                    && !re.is_match(text)
                {
                    errs.push(Self::fail(
                        at,
                        format!("'{text}' does not match pattern '{p}'"),
                    ));
                }
            }
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or(0.0);
                let limit = |k: &str| s.get(k).filter(|x| x.is_number());
                let checks: [(&str, Violated); 4] = [
                    ("minimum", |f, l| f < l),
                    ("maximum", |f, l| f > l),
                    ("exclusiveMinimum", |f, l| f <= l),
                    ("exclusiveMaximum", |f, l| f >= l),
                ];
                for (key, violated) in checks {
                    if let Some(l) = limit(key)
                        && violated(f, l.as_f64().unwrap_or(0.0))
                    {
                        errs.push(Self::fail(
                            at,
                            format!("{key}: got {}, want {}", num(v), num(l)),
                        ));
                    }
                }
                if let Some(m) = limit("multipleOf")
                    && let Some(mf) = m.as_f64()
                    && mf != 0.0
                    && (f / mf).fract() != 0.0
                {
                    errs.push(Self::fail(
                        at,
                        format!("multipleOf: got {}, want {}", num(v), num(m)),
                    ));
                }
            }
            _ => {}
        }
        self.check_combinators(s, v, at, &mut errs);
        errs
    }

    fn check_object(
        &self,
        s: &serde_json::Map<String, Value>,
        m: &serde_json::Map<String, Value>,
        at: &str,
        errs: &mut Vec<Failure>,
    ) {
        let count = m.len() as u64;
        if let Some(n) = s.get("minProperties").and_then(Value::as_u64)
            && count < n
        {
            errs.push(Self::fail(
                at,
                format!("minProperties: got {count}, want {n}"),
            ));
        }
        if let Some(n) = s.get("maxProperties").and_then(Value::as_u64)
            && count > n
        {
            errs.push(Self::fail(
                at,
                format!("maxProperties: got {count}, want {n}"),
            ));
        }
        if let Some(Value::Array(req)) = s.get("required") {
            let missing: Vec<&str> = req
                .iter()
                .filter_map(Value::as_str)
                .filter(|r| !m.contains_key(*r))
                .collect();
            match missing.as_slice() {
                [] => {}
                [one] => errs.push(Self::fail(at, format!("missing property '{one}'"))),
                many => errs.push(Self::fail(
                    at,
                    format!("missing properties {}", quoted_list(many.iter().copied())),
                )),
            }
        }
        let dependent = if self.legacy {
            s.get("dependencies")
        } else {
            s.get("dependentRequired")
        };
        if let Some(Value::Object(deps)) = dependent {
            for (prop, need) in deps {
                let Value::Array(need) = need else { continue };
                if !m.contains_key(prop) {
                    continue;
                }
                let missing: Vec<&str> = need
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|r| !m.contains_key(*r))
                    .collect();
                if !missing.is_empty() {
                    errs.push(Self::fail(
                        at,
                        format!(
                            "properties {} required, if '{prop}' exists",
                            quoted_list(missing.into_iter())
                        ),
                    ));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(props) = props {
            // A Go map in santhosh: Helm 4's order varies from run to run; sorted here.
            let mut names: Vec<&String> = props.keys().collect();
            names.sort();
            for name in names {
                if let Some(val) = m.get(name.as_str()) {
                    errs.extend(self.check(&props[name.as_str()], val, &pointer(at, name)));
                }
            }
        }
        let patterns: Vec<(regex::Regex, &Value)> = s
            .get("patternProperties")
            .and_then(Value::as_object)
            .map(|pp| {
                pp.iter()
                    .filter_map(|(re, sub)| regex::Regex::new(re).ok().map(|r| (r, sub)))
                    .collect()
            })
            .unwrap_or_default();
        for (re, sub) in &patterns {
            for (k, val) in m {
                if re.is_match(k) {
                    errs.extend(self.check(sub, val, &pointer(at, k)));
                }
            }
        }
        if let Some(ap) = s.get("additionalProperties") {
            let extra: Vec<&String> = m
                .keys()
                .filter(|k| !props.is_some_and(|p| p.contains_key(k.as_str())))
                .filter(|k| !patterns.iter().any(|(re, _)| re.is_match(k)))
                .collect();
            match ap {
                Value::Bool(false) if !extra.is_empty() => errs.push(Self::fail(
                    at,
                    format!(
                        "additional properties {} not allowed",
                        quoted_list(extra.iter().map(|k| k.as_str()))
                    ),
                )),
                Value::Object(_) => {
                    for k in extra {
                        errs.extend(self.check(ap, &m[k.as_str()], &pointer(at, k)));
                    }
                }
                _ => {}
            }
        }
        if let Some(names) = s.get("propertyNames") {
            for k in m.keys() {
                let causes = self.check(names, &Value::String(k.clone()), at);
                if !causes.is_empty() {
                    errs.push(Failure {
                        at: at.to_owned(),
                        message: format!("invalid propertyName '{k}'"),
                        causes,
                    });
                }
            }
        }
    }

    fn check_array(
        &self,
        s: &serde_json::Map<String, Value>,
        a: &[Value],
        at: &str,
        errs: &mut Vec<Failure>,
    ) {
        let count = a.len() as u64;
        if let Some(n) = s.get("minItems").and_then(Value::as_u64)
            && count < n
        {
            errs.push(Self::fail(at, format!("minItems: got {count}, want {n}")));
        }
        if let Some(n) = s.get("maxItems").and_then(Value::as_u64)
            && count > n
        {
            errs.push(Self::fail(at, format!("maxItems: got {count}, want {n}")));
        }
        if s.get("uniqueItems") == Some(&Value::Bool(true)) {
            'outer: for i in 0..a.len() {
                for j in (i + 1)..a.len() {
                    if equal(&a[i], &a[j]) {
                        errs.push(Self::fail(at, format!("items at {i} and {j} are equal")));
                        break 'outer;
                    }
                }
            }
        }
        if let Some(items @ (Value::Object(_) | Value::Bool(_))) = s.get("items") {
            for (i, item) in a.iter().enumerate() {
                errs.extend(self.check(items, item, &pointer(at, &i.to_string())));
            }
        }
        if let Some(contains) = s.get("contains") {
            let results: Vec<Vec<Failure>> = a
                .iter()
                .enumerate()
                .map(|(i, item)| self.check(contains, item, &pointer(at, &i.to_string())))
                .collect();
            if results.iter().all(|r| !r.is_empty()) {
                errs.push(Failure {
                    at: at.to_owned(),
                    message: "no items match contains schema".to_owned(),
                    causes: results.into_iter().flatten().collect(),
                });
            }
        }
    }

    fn check_combinators(
        &self,
        s: &serde_json::Map<String, Value>,
        v: &Value,
        at: &str,
        errs: &mut Vec<Failure>,
    ) {
        if let Some(Value::Array(all)) = s.get("allOf") {
            let causes: Vec<Failure> = all.iter().flat_map(|sub| self.check(sub, v, at)).collect();
            if !causes.is_empty() {
                errs.push(Failure {
                    at: at.to_owned(),
                    message: "'allOf' failed".to_owned(),
                    causes,
                });
            }
        }
        if let Some(Value::Array(any)) = s.get("anyOf") {
            let results: Vec<Vec<Failure>> = any.iter().map(|sub| self.check(sub, v, at)).collect();
            if results.iter().all(|r| !r.is_empty()) && !results.is_empty() {
                errs.push(Failure {
                    at: at.to_owned(),
                    message: "'anyOf' failed".to_owned(),
                    causes: results.into_iter().flatten().collect(),
                });
            }
        }
        if let Some(Value::Array(one)) = s.get("oneOf") {
            let results: Vec<Vec<Failure>> = one.iter().map(|sub| self.check(sub, v, at)).collect();
            let matched: Vec<usize> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| r.is_empty())
                .map(|(i, _)| i)
                .collect();
            match matched.as_slice() {
                [] if !results.is_empty() => errs.push(Failure {
                    at: at.to_owned(),
                    message: "'oneOf' failed, none matched".to_owned(),
                    causes: results.into_iter().flatten().collect(),
                }),
                [first, second, ..] => errs.push(Self::fail(
                    at,
                    format!("'oneOf' failed, subschemas {first}, {second} matched"),
                )),
                _ => {}
            }
        }
        if let Some(not) = s.get("not")
            && self.check(not, v, at).is_empty()
        {
            errs.push(Self::fail(at, "'not' failed".to_owned()));
        }
        if let Some(cond) = s.get("if") {
            let branch = if self.check(cond, v, at).is_empty() {
                s.get("then")
            } else {
                s.get("else")
            };
            if let Some(branch) = branch {
                errs.extend(self.check(branch, v, at));
            }
        }
    }
}

/// santhosh's format checks for the formats charts use, with its reasons.
fn check_format(format: &str, s: &str) -> Result<(), String> {
    match format {
        "email" => {
            let Some((local, domain)) = s.rsplit_once('@') else {
                return Err("missing @".to_owned());
            };
            if local.is_empty() {
                return Err("invalid local part: empty".to_owned());
            }
            check_hostname(domain).map_err(|e| format!("invalid domain: {e}"))
        }
        "hostname" => check_hostname(s),
        "ipv4" => {
            let parts: Vec<&str> = s.split('.').collect();
            if parts.len() != 4 {
                return Err("expected four decimals".to_owned());
            }
            if parts.iter().all(|p| p.parse::<u8>().is_ok()) {
                Ok(())
            } else {
                Err("invalid decimal".to_owned())
            }
        }
        "ipv6" => {
            if !s.contains(':') {
                return Err("missing colon".to_owned());
            }
            s.parse::<std::net::Ipv6Addr>()
                .map(|_| ())
                .map_err(|_| "invalid ipv6 address".to_owned())
        }
        "uri" => match s.split_once(':') {
            Some((scheme, _)) if !scheme.is_empty() => Ok(()),
            _ => Err("relative url".to_owned()),
        },
        "date-time" if s.len() < 20 => Err("less than 20 characters long".to_owned()),
        _ => Ok(()),
    }
}

fn check_hostname(s: &str) -> Result<(), String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.len() > 253 {
        return Err("more than 253 characters long".to_owned());
    }
    for label in s.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("label must be 1 to 63 characters long".to_owned());
        }
        if label.starts_with('-') {
            return Err("label starts with hyphen".to_owned());
        }
        if label.ends_with('-') {
            return Err("label ends with hyphen".to_owned());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Err(format!("invalid character {c:?}"));
        }
    }
    Ok(())
}
