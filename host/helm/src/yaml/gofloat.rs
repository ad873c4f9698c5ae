//! Go's float-to-text rules (`strconv.FormatFloat` shortest `'g'`/`'e'`/`'f'` and
//! `encoding/json`'s choice between them), built on Rust's shortest round-trip digits, which
//! are the same digits Go picks.

/// Shortest decimal digits of a finite, non-negative `f` and the position of the decimal point:
/// `f == 0.d1d2d3… × 10^dp`.
fn shortest_digits(f: f64) -> (String, i32) {
    if f == 0.0 {
        return ("0".to_owned(), 1);
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

fn fmt_e(neg: bool, digits: &str, dp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let mut chars = digits.chars();
    s.push(chars.next().unwrap_or('0'));
    let rest: String = chars.collect();
    if !rest.is_empty() {
        s.push('.');
        s.push_str(&rest);
    }
    let exp = if digits == "0" { 0 } else { dp - 1 };
    s.push('e');
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

fn fmt_f(neg: bool, digits: &str, dp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let nd = digits.len() as i32;
    if dp <= 0 {
        s.push('0');
        s.push('.');
        for _ in 0..(-dp) {
            s.push('0');
        }
        s.push_str(digits);
    } else if dp >= nd {
        s.push_str(digits);
        for _ in 0..(dp - nd) {
            s.push('0');
        }
    } else {
        let (a, b) = digits.split_at(dp as usize);
        s.push_str(a);
        s.push('.');
        s.push_str(b);
    }
    s
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`, including Go's `+Inf`, `-Inf` and `NaN`.
pub fn format_go_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let neg = f.is_sign_negative();
    let (digits, dp) = shortest_digits(f.abs());
    let exp = dp - 1;
    if digits != "0" && !(-4..6).contains(&exp) {
        fmt_e(neg, &digits, dp)
    } else {
        fmt_f(neg, &digits, dp)
    }
}

/// How `encoding/json` writes a float64: `'f'` unless the magnitude is below 1e-6 or at least
/// 1e21, then `'e'` with a one-digit negative exponent shortened (`1e-7`, not `1e-07`).
/// Returns `None` for NaN and infinities, which `json.Marshal` rejects.
pub fn format_json_float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let neg = f.is_sign_negative();
    let abs = f.abs();
    let (digits, dp) = shortest_digits(abs);
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = fmt_e(neg, &digits, dp);
        let n = s.len();
        let b = s.as_bytes();
        if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
            s.remove(n - 2);
        }
        Some(s)
    } else {
        Some(fmt_f(neg, &digits, dp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_go() {
        assert_eq!(format_go_g(1_000_000.0), "1e+06");
        assert_eq!(format_go_g(123_456.0), "123456");
        assert_eq!(format_go_g(1.5), "1.5");
        assert_eq!(format_go_g(0.0001), "0.0001");
        assert_eq!(format_go_g(0.00001), "1e-05");
        assert_eq!(format_go_g(1_234_567.5), "1.2345675e+06");
        assert_eq!(format_go_g(-2.0), "-2");
        assert_eq!(format_go_g(0.0), "0");
    }

    #[test]
    fn json_format_matches_go() {
        assert_eq!(format_json_float(1_000_000.0).as_deref(), Some("1000000"));
        assert_eq!(format_json_float(1e21).as_deref(), Some("1e+21"));
        assert_eq!(format_json_float(1e-7).as_deref(), Some("1e-7"));
        assert_eq!(format_json_float(0.5).as_deref(), Some("0.5"));
        assert_eq!(format_json_float(-0.0).as_deref(), Some("-0"));
        assert_eq!(format_json_float(f64::NAN), None);
    }
}
