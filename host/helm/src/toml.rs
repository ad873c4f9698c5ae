//! `toToml`: the output of BurntSushi/toml's encoder (sorted keys, plain keys first, sub-tables
//! as `[a.b]` headers indented two spaces per level, `[[a]]` for lists of tables).

use capstan_gotmpl::Value;

struct Enc {
    out: String,
    written: bool,
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_))
}

fn is_table_array(v: &Value) -> bool {
    match v {
        Value::List(l) => !l.is_empty() && l.iter().all(is_table),
        _ => false,
    }
}

fn bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(k: &str) -> String {
    if bare_key(k) { k.to_owned() } else { quote(k) }
}

fn key_string(key: &[String]) -> String {
    key.iter()
        .map(|k| key_part(k))
        .collect::<Vec<_>>()
        .join(".")
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    // BurntSushi: `floatAddDecimal(strconv.FormatFloat(f, 'f', -1, 64))`.
    let mut s = capstan_strconv::format_float(f, 'f', -1);
    if !s.contains('.') {
        s.push_str(".0");
    }
    s
}

impl Enc {
    fn w(&mut self, s: &str) {
        self.out.push_str(s);
        self.written = true;
    }

    fn newline(&mut self) {
        if self.written {
            self.out.push('\n');
        }
    }

    fn indent(key: &[String]) -> String {
        "  ".repeat(key.len().saturating_sub(1))
    }

    fn element(&mut self, v: &Value) -> Result<(), String> {
        match v {
            Value::String(s) => self.w(&quote(s)),
            Value::Bool(b) => self.w(if *b { "true" } else { "false" }),
            Value::Int(i) => self.w(&i.to_string()),
            Value::Float(f) => self.w(&float_text(*f)),
            Value::List(l) => {
                self.w("[");
                for (i, e) in l.iter().enumerate() {
                    if e.is_nil() {
                        return Err("toml: cannot encode array with nil element".to_owned());
                    }
                    self.element(e)?;
                    if i + 1 != l.len() {
                        self.w(", ");
                    }
                }
                self.w("]");
            }
            Value::Map(_) => self.map(&[], v, true)?,
            Value::Nil => return Err("toml: cannot encode a nil value".to_owned()),
            Value::Object(o) => match o.as_value() {
                Some(inner) => self.element(&inner)?,
                None => self.w(&quote(&v.to_go_string())),
            },
        }
        Ok(())
    }

    fn encode(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        match v {
            Value::Nil => Ok(()),
            Value::Map(_) => self.table(key, v),
            _ if is_table_array(v) => {
                let Value::List(items) = v else { return Ok(()) };
                for item in items.iter() {
                    self.newline();
                    self.w(&format!("{}[[{}]]", Enc::indent(key), key_string(key)));
                    self.newline();
                    self.map(key, item, false)?;
                }
                Ok(())
            }
            _ => {
                self.w(&format!(
                    "{}{} = ",
                    Enc::indent(key),
                    key_part(key.last().map_or("", String::as_str))
                ));
                self.element(v)?;
                self.newline();
                Ok(())
            }
        }
    }

    fn table(&mut self, key: &[String], v: &Value) -> Result<(), String> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            self.w(&format!("{}[{}]", Enc::indent(key), key_string(key)));
            self.newline();
        }
        self.map(key, v, false)
    }

    fn map(&mut self, key: &[String], v: &Value, inline: bool) -> Result<(), String> {
        let Value::Map(m) = v else { return Ok(()) };
        let (direct, sub): (Vec<_>, Vec<_>) = m
            .entries()
            .into_iter()
            .partition(|(_, v)| !(is_table(v) || is_table_array(v)));
        if inline {
            self.w("{");
        }
        let groups = [(direct, true), (sub, false)];
        let has_sub = !groups[1].0.is_empty();
        for (entries, is_direct) in groups {
            let n = entries.len();
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if val.is_nil() {
                    continue;
                }
                if inline {
                    self.w(&format!("{} = ", key_part(&k)));
                    self.element(&val)?;
                    if (is_direct && has_sub) || i + 1 != n {
                        self.w(", ");
                    }
                } else {
                    let mut k2 = key.to_vec();
                    k2.push(k);
                    self.encode(&k2, &val)?;
                }
            }
        }
        if inline {
            self.w("}");
        }
        Ok(())
    }
}

/// Helm's `toToml`: the encoded document, or the encoder's error text.
pub(crate) fn to_toml(v: &Value) -> String {
    let v = match v {
        Value::Object(o) => o.as_value().unwrap_or(Value::Nil),
        other => other.clone(),
    };
    let mut e = Enc {
        out: String::new(),
        written: false,
    };
    // A non-table top-level value is written as a bare element, as BurntSushi's encoder does.
    let res = if matches!(v, Value::Map(_)) {
        e.encode(&[], &v)
    } else {
        e.element(&v)
    };
    match res {
        Ok(()) => e.out,
        Err(msg) => msg,
    }
}
