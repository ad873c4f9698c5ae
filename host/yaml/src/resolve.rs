//! go-yaml v2's implicit scalar resolution (YAML 1.1 flavoured, what `sigs.k8s.io/yaml`,
//! kubectl, Helm and Flux read with): which plain scalars are booleans (`yes`, `on`, `off`),
//! nulls, ints (any Go `ParseInt(s, 0, 64)` base, `_` separators), floats (`.inf`, `.nan`) or
//! timestamps. The reader uses it to type values; both writers (the manifest writer here and
//! Helm's `toYaml` in `capstan-helm`) use it to decide whether a string must be quoted to survive
//! a round trip.

use crate::Node;

/// The tag a plain scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    /// `!!str`.
    Str,
    /// `!!null`.
    Null,
    /// `!!bool`.
    Bool,
    /// `!!int`.
    Int,
    /// `!!float`.
    Float,
    /// `!!timestamp` (decoded as a string, as go-yaml v2 decodes it into `interface{}`).
    Timestamp,
}

fn map_lookup(s: &str) -> Option<(ScalarKind, Node)> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            (ScalarKind::Bool, Node::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            (ScalarKind::Bool, Node::Bool(false))
        }
        "" | "~" | "null" | "Null" | "NULL" => (ScalarKind::Null, Node::Null),
        ".nan" | ".NaN" | ".NAN" => (ScalarKind::Float, Node::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            (ScalarKind::Float, Node::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => (ScalarKind::Float, Node::Float(f64::NEG_INFINITY)),
        _ => return None,
    })
}

/// Go's `strconv.ParseUint(s, 0, 64)` after the sign has been handled by the caller.
fn parse_uint_base0(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let (digits, radix) = if b[0] == b'0' && s.len() > 1 {
        match b[1] {
            b'x' | b'X' => (&s[2..], 16),
            b'o' | b'O' => (&s[2..], 8),
            b'b' | b'B' => (&s[2..], 2),
            _ => (&s[1..], 8),
        }
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let u = parse_uint_base0(rest)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else if u <= i64::MAX as u64 {
        Some(u as i64)
    } else {
        None
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `ParseFloat` for the inputs that reach it here (already shaped like decimal floats).
fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    if t.is_empty() || t.starts_with(['+', '-']) && t.len() == 1 {
        return None;
    }
    let lower = t.trim_start_matches('-').to_ascii_lowercase();
    if lower.starts_with("inf") || lower.starts_with("nan") {
        return None;
    }
    t.parse::<f64>().ok()
}

fn two_digits(s: &str, max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    (v <= max).then_some(v)
}

/// go-yaml v2's `parseTimestamp`: the layouts `2006-1-2T15:4:5.999999999Z07:00` (also with `t`
/// or a space and without zone) and `2006-1-2`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i != 4 || i == b.len() || b[i] != b'-' {
        return false;
    }
    let (date, time, sep) = match s.find(['T', 't', ' ']) {
        Some(p) => (&s[..p], Some(&s[p + 1..]), Some(b[p])),
        None => (s, None, None),
    };
    let mut parts = date.split('-');
    let (Some(_y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(m), Some(d)) = (two_digits(m, 12), two_digits(d, 31)) else {
        return false;
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days_in_month = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if m == 0 || d == 0 || d > days_in_month {
        return false;
    }
    let Some(time) = time else {
        return true;
    };
    // Split off a zone: `Z` or `±hh:mm`, required for `T`/`t`, absent for a space.
    let (clock, zone) = if let Some(stripped) = time.strip_suffix('Z') {
        (stripped, true)
    } else if let Some(p) = time.rfind(['+', '-']) {
        let z = &time[p + 1..];
        let ok = z.len() == 5
            && z.as_bytes()[2] == b':'
            && two_digits(&z[..2], 99).is_some()
            && two_digits(&z[3..], 99).is_some();
        if !ok {
            return false;
        }
        (&time[..p], true)
    } else {
        (time, false)
    };
    if (sep == Some(b' ')) == zone {
        return false;
    }
    let (hms, frac) = match clock.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (clock, None),
    };
    if let Some(f) = frac
        && (f.is_empty() || f.len() > 9 || !f.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    let mut hp = hms.split(':');
    matches!(
        (hp.next(), hp.next(), hp.next(), hp.next()),
        (Some(h), Some(mi), Some(se), None)
            if two_digits(h, 23).is_some() && two_digits(mi, 59).is_some() && two_digits(se, 59).is_some()
    )
}

/// A YAML 1.1 sexagesimal float (`1:20`), `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`:
/// go-yaml v2 reads it as a string but quotes such strings when writing them.
pub fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let g = &s[start..i];
        let ok = match g.len() {
            1 => true,
            2 => g.as_bytes()[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// Resolves an untagged plain scalar the way go-yaml v2 does (`1` → int, `1.5` → float, `yes`
/// → bool, …). Timestamps stay strings (v2 keeps them as strings when decoding into
/// `interface{}`); the kind says what the text looked like, which the writers need.
pub fn resolve_plain(s: &str) -> (ScalarKind, Node) {
    let (kind, node) = resolve(s);
    (kind, node.unwrap_or_else(|| Node::Str(s.to_owned())))
}

/// [`resolve_plain`]'s node for a text the caller owns: a string keeps that text (no copy).
pub(crate) fn resolve_plain_text(s: std::borrow::Cow<'_, str>) -> Node {
    resolve(&s).1.unwrap_or_else(|| Node::Str(s.into_owned()))
}

/// [`resolve_plain`]'s kind alone (no node built).
pub fn resolve_kind(s: &str) -> ScalarKind {
    resolve(s).0
}

/// [`resolve_plain`], with `None` for a node that is the text itself as a string.
fn resolve(s: &str) -> (ScalarKind, Option<Node>) {
    let hint = match s.as_bytes().first() {
        None => b'M',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => 0,
    };
    if hint == 0 {
        return (ScalarKind::Str, None);
    }
    if let Some((kind, node)) = map_lookup(s) {
        return (kind, Some(node));
    }
    match hint {
        b'.' => {
            if let Some(f) = parse_go_float(s) {
                return (ScalarKind::Float, Some(Node::Float(f)));
            }
        }
        b'D' | b'S' => {
            if is_timestamp(s) {
                return (ScalarKind::Timestamp, None);
            }
            let plain: std::borrow::Cow<'_, str> = if s.contains('_') {
                s.replace('_', "").into()
            } else {
                s.into()
            };
            if let Some(i) = parse_int_base0(&plain) {
                return (ScalarKind::Int, Some(Node::Int(i)));
            }
            if !plain.starts_with(['-', '+'])
                && let Some(u) = parse_uint_base0(&plain)
            {
                return (ScalarKind::Int, Some(Node::Uint(u)));
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = parse_go_float(&plain)
            {
                return (ScalarKind::Float, Some(Node::Float(f)));
            }
        }
        _ => {}
    }
    (ScalarKind::Str, None)
}

/// True when a string written plain would be read back as something else (by yaml.v2 or by a
/// YAML 1.2 reader), or looks enough like a number, date or special value that quoting is kinder.
pub(crate) fn plain_would_change(s: &str) -> bool {
    if resolve_kind(s) != ScalarKind::Str {
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
    use super::*;

    fn node(s: &str) -> Node {
        resolve_plain(s).1
    }

    #[test]
    fn yaml11_booleans_and_nulls() {
        for t in ["yes", "On", "TRUE", "y"] {
            assert_eq!(node(t), Node::Bool(true), "{t}");
        }
        for f in ["no", "OFF", "False", "n"] {
            assert_eq!(node(f), Node::Bool(false), "{f}");
        }
        assert_eq!(node("~"), Node::Null);
        assert_eq!(node(""), Node::Null);
        assert_eq!(node("nil"), Node::Str("nil".into()));
    }

    #[test]
    fn go_int_bases_and_floats() {
        assert_eq!(node("0755"), Node::Int(493));
        assert_eq!(node("0x1F"), Node::Int(31));
        assert_eq!(node("0b101"), Node::Int(5));
        assert_eq!(node("0o17"), Node::Int(15));
        assert_eq!(node("1_000"), Node::Int(1000));
        assert_eq!(node("-42"), Node::Int(-42));
        assert_eq!(node("-0x1F"), Node::Int(-31));
        assert_eq!(node("18446744073709551615"), Node::Uint(u64::MAX));
        assert_eq!(node("1.5"), Node::Float(1.5));
        assert_eq!(node("1e3"), Node::Float(1000.0));
        assert_eq!(node(".5"), Node::Float(0.5));
        assert_eq!(node("+.5"), Node::Float(0.5));
        // Not octal, so Go falls through to ParseFloat.
        assert_eq!(node("08"), Node::Float(8.0));
        assert_eq!(node("089"), Node::Float(89.0));
        assert_eq!(node("1.2.3"), Node::Str("1.2.3".into()));
        assert_eq!(node("-"), Node::Str("-".into()));
        assert_eq!(node(".inf"), Node::Float(f64::INFINITY));
        assert_eq!(node("-.Inf"), Node::Float(f64::NEG_INFINITY));
        assert!(matches!(node(".NaN"), Node::Float(f) if f.is_nan()));
    }

    #[test]
    fn timestamps_and_sexagesimals_stay_strings() {
        assert_eq!(
            resolve_plain("2001-12-14"),
            (ScalarKind::Timestamp, Node::Str("2001-12-14".into()))
        );
        assert_eq!(resolve_plain("2024-02-29").0, ScalarKind::Timestamp);
        assert_eq!(resolve_plain("2023-02-29").0, ScalarKind::Str);
        assert_eq!(resolve_plain("2024-04-31").0, ScalarKind::Str);
        assert_eq!(
            resolve_plain("2001-12-14t21:59:43.10-05:00").0,
            ScalarKind::Timestamp
        );
        assert!(is_base60_float("1:20"));
        assert!(!is_base60_float("1:2x"));
        assert_eq!(node("1:20"), Node::Str("1:20".into()));
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
            "null",
            "~",
            ".inf",
            "-.inf",
            ".NaN",
            "<<",
        ] {
            assert!(plain_would_change(s), "{s:?} must be quoted");
        }
        for s in ["web", "nginx:1.25", "a b", "v1"] {
            assert!(!plain_would_change(s), "{s:?} can stay plain");
        }
    }
}
