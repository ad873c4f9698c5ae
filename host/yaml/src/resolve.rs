//! Plain-scalar resolution with the rules of Go's yaml.v2 (what `sigs.k8s.io/yaml` uses): YAML 1.1
//! booleans and nulls, ints in any Go `ParseInt(s, 0, 64)` base (with `_` separators), floats, and
//! `.inf`/`.nan`. The emitter uses the same table to decide when a string must be quoted.

use serde_json::{Number, Value};

/// What a plain (unquoted, untagged) scalar means.
pub(crate) fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Value::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Value::String(s.to_owned());
    }
    if let Some(n) = parse_int(s) {
        return Value::Number(n);
    }
    if let Some(n) = parse_float(s).and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(s.to_owned())
}

/// Go's `strconv.ParseInt(strings.Replace(s, "_", "", -1), 0, 64)`, falling back to `ParseUint`.
fn parse_int(s: &str) -> Option<Number> {
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    let (neg, body) = match cleaned.as_bytes().first()? {
        b'-' => (true, &cleaned[1..]),
        b'+' => (false, &cleaned[1..]),
        _ => (false, &cleaned[..]),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(d) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, d)
        } else if let Some(d) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, d)
        } else if let Some(d) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, d)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if neg {
        let v = i128::try_from(magnitude).ok()?.checked_neg()?;
        i64::try_from(v).ok().map(Number::from)
    } else if let Ok(v) = i64::try_from(magnitude) {
        Some(Number::from(v))
    } else {
        u64::try_from(magnitude).ok().map(Number::from)
    }
}

/// yaml.v2's float syntax: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, plus `.inf`.
/// Infinities and NaN have no JSON form; callers get `None` and keep the text.
fn parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if int_digits == 0 && i == frac_start {
            return None;
        }
    } else if int_digits == 0 {
        return None;
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        i += 1;
        if i < b.len() && matches!(b[i], b'-' | b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// True when a string written plain would be read back as something else (by yaml.v2 or by a
/// YAML 1.2 reader), or looks enough like a number, date or special value that quoting is kinder.
pub(crate) fn plain_would_change(s: &str) -> bool {
    if !matches!(resolve_plain(s), Value::String(_)) {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        ".inf" | "-.inf" | "+.inf" | ".nan" | "<<" | "="
    ) {
        return true;
    }
    // Numbers, dates, times, versions: anything starting like a number and made of number-ish
    // characters. Over-quoting is harmless; under-quoting changes the value.
    let first = s.as_bytes()[0];
    if first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.') {
        return s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-' | '+' | ' ' | 'T')
        });
    }
    false
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn yaml11_booleans_and_nulls() {
        for t in ["yes", "On", "TRUE", "y"] {
            assert_eq!(resolve_plain(t), json!(true), "{t}");
        }
        for f in ["no", "OFF", "False", "n"] {
            assert_eq!(resolve_plain(f), json!(false), "{f}");
        }
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("nil"), json!("nil"));
    }

    #[test]
    fn go_int_bases_and_floats() {
        assert_eq!(resolve_plain("0755"), json!(493));
        assert_eq!(resolve_plain("0x1F"), json!(31));
        assert_eq!(resolve_plain("0b101"), json!(5));
        assert_eq!(resolve_plain("1_000"), json!(1000));
        assert_eq!(resolve_plain("-42"), json!(-42));
        assert_eq!(
            resolve_plain("18446744073709551615"),
            json!(18_446_744_073_709_551_615_u64)
        );
        assert_eq!(resolve_plain("1.5"), json!(1.5));
        assert_eq!(resolve_plain("1e3"), json!(1000.0));
        assert_eq!(resolve_plain(".5"), json!(0.5));
        // Not octal, so Go falls through to ParseFloat.
        assert_eq!(resolve_plain("089"), json!(89.0));
        assert_eq!(resolve_plain("1.2.3"), json!("1.2.3"));
        assert_eq!(resolve_plain(".inf"), json!(".inf"));
    }

    #[test]
    fn quoting_decisions() {
        for s in [
            "yes",
            "1",
            "0755",
            "1.5",
            "2024-01-01",
            "12:30",
            "1.2.3",
            "",
            "null",
            "~",
            ".inf",
        ] {
            if !s.is_empty() {
                assert!(plain_would_change(s), "{s:?} must be quoted");
            }
        }
        for s in ["web", "nginx:1.25", "a b", "v1"] {
            assert!(!plain_would_change(s), "{s:?} can stay plain");
        }
    }
}
