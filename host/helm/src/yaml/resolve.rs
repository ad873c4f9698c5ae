//! go-yaml v2's implicit scalar resolution (YAML 1.1 flavoured): which plain scalars are booleans,
//! nulls, ints, floats or timestamps. The decoder uses it to type values, the encoder to decide
//! whether a string must be quoted to survive a round trip.

use super::Node;

/// The tag a plain scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Null,
    Bool,
    Int,
    Float,
    Timestamp,
}

fn map_lookup(s: &str) -> Option<(Kind, Node)> {
    Some(match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            (Kind::Bool, Node::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            (Kind::Bool, Node::Bool(false))
        }
        "" | "~" | "null" | "Null" | "NULL" => (Kind::Null, Node::Null),
        ".nan" | ".NaN" | ".NAN" => (Kind::Float, Node::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            (Kind::Float, Node::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => (Kind::Float, Node::Float(f64::NEG_INFINITY)),
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
pub(crate) fn is_timestamp(s: &str) -> bool {
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

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
pub(crate) fn is_base60_float(s: &str) -> bool {
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

/// Resolves an untagged plain scalar the way go-yaml v2 does. Timestamps stay strings (v2 keeps
/// them as strings when decoding into `interface{}`); `with_timestamps` only affects the returned
/// kind, which the encoder needs.
pub(crate) fn resolve_plain(s: &str) -> (Kind, Node) {
    let hint = match s.as_bytes().first() {
        None => b'M',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => 0,
    };
    if hint == 0 {
        return (Kind::Str, Node::Str(s.to_owned()));
    }
    if let Some(found) = map_lookup(s) {
        return found;
    }
    match hint {
        b'.' => {
            if let Some(f) = parse_go_float(s) {
                return (Kind::Float, Node::Float(f));
            }
        }
        b'D' | b'S' => {
            if is_timestamp(s) {
                return (Kind::Timestamp, Node::Str(s.to_owned()));
            }
            let plain = s.replace('_', "");
            if let Some(i) = parse_int_base0(&plain) {
                return (Kind::Int, Node::Int(i));
            }
            if !plain.starts_with(['-', '+'])
                && let Some(u) = parse_uint_base0(&plain)
            {
                return (Kind::Int, Node::Uint(u));
            }
            if is_yaml_style_float(&plain)
                && let Some(f) = parse_go_float(&plain)
            {
                return (Kind::Float, Node::Float(f));
            }
        }
        _ => {}
    }
    (Kind::Str, Node::Str(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_scalars() {
        assert_eq!(resolve_plain("yes").1, Node::Bool(true));
        assert_eq!(resolve_plain("Off").1, Node::Bool(false));
        assert_eq!(resolve_plain("~").1, Node::Null);
        assert_eq!(resolve_plain("0755").1, Node::Int(493));
        assert_eq!(resolve_plain("0x1F").1, Node::Int(31));
        assert_eq!(resolve_plain("1_000").1, Node::Int(1000));
        assert_eq!(resolve_plain("08").1, Node::Float(8.0));
        assert_eq!(resolve_plain("1e3").1, Node::Float(1000.0));
        assert_eq!(resolve_plain(".5").1, Node::Float(0.5));
        assert_eq!(
            resolve_plain("18446744073709551615").1,
            Node::Uint(u64::MAX)
        );
        assert_eq!(resolve_plain("2001-12-14").0, Kind::Timestamp);
        assert_eq!(resolve_plain("2024-02-29").0, Kind::Timestamp);
        assert_eq!(resolve_plain("2023-02-29").0, Kind::Str);
        assert_eq!(resolve_plain("2024-04-31").0, Kind::Str);
        assert_eq!(
            resolve_plain("2001-12-14t21:59:43.10-05:00").0,
            Kind::Timestamp
        );
        assert_eq!(resolve_plain("1.2.3").0, Kind::Str);
        assert_eq!(resolve_plain("-").0, Kind::Str);
        assert!(is_base60_float("1:20"));
        assert!(!is_base60_float("1:2x"));
    }
}
