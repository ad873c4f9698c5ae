//! Go's `time.ParseDuration`, the one copy of this rule.
//!
//! Kubernetes and Flux read `timeout: 5m` fields with it (`metav1.Duration`), and Sprig's
//! `dateModify`/`durationRound` call it. Both `capstan-api` and `capstan-gotmpl` need it and
//! neither may depend on the other (the API crate depends on no other capstan crate; the
//! template engine must not pull in the Kubernetes types), so this file is compiled into both
//! with `#[path]`: one implementation and one set of tests, no dependency edge.

/// Why `time.ParseDuration` rejected a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GoDurationError {
    /// Not a duration, or outside ±2⁶³ ns (`time: invalid duration "…"`).
    Invalid,
    /// A number without a unit (`time: missing unit in duration "…"`).
    MissingUnit,
    /// An unknown unit (`time: unknown unit "…" in duration "…"`).
    UnknownUnit(String),
}

impl GoDurationError {
    /// Go's error text for `text`.
    #[allow(
        dead_code,
        reason = "capstan-gotmpl reports Go's texts; capstan-api words its own errors"
    )]
    pub(crate) fn go_message(&self, text: &str) -> String {
        match self {
            GoDurationError::Invalid => format!("time: invalid duration {}", time_quote(text)),
            GoDurationError::MissingUnit => {
                format!("time: missing unit in duration {}", time_quote(text))
            }
            GoDurationError::UnknownUnit(unit) => format!(
                "time: unknown unit {} in duration {}",
                time_quote(unit),
                time_quote(text)
            ),
        }
    }
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+` in nanoseconds, with Go's
/// integer arithmetic (fractions through float64, as Go does) and overflow checks.
pub(crate) fn parse_go_duration(text: &str) -> Result<i64, GoDurationError> {
    const MAX: u64 = 1 << 63;
    let mut s = text.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = &s[1..];
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(GoDurationError::Invalid);
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(GoDurationError::Invalid);
        }
        // [0-9]*
        let before = s.len();
        let mut v: u64 = 0;
        while let Some(&c) = s.first()
            && c.is_ascii_digit()
        {
            if v > MAX / 10 {
                return Err(GoDurationError::Invalid);
            }
            v = v * 10 + u64::from(c - b'0');
            if v > MAX {
                return Err(GoDurationError::Invalid);
            }
            s = &s[1..];
        }
        let pre = before != s.len();
        // (\.[0-9]*)?
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            let mut overflow = false;
            while let Some(&c) = s.first()
                && c.is_ascii_digit()
            {
                s = &s[1..];
                if overflow {
                    continue;
                }
                if f > (MAX - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > MAX {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = before != s.len();
        }
        if !pre && !post {
            return Err(GoDurationError::Invalid);
        }
        // The unit: everything up to the next number.
        let len = s
            .iter()
            .position(|c| *c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if len == 0 {
            return Err(GoDurationError::MissingUnit);
        }
        let unit = &s[..len];
        s = &s[len..];
        let unit_ns: u64 = match unit {
            b"ns" => 1,
            // `µs` with U+00B5 (micro sign) or U+03BC (Greek mu).
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => {
                return Err(GoDurationError::UnknownUnit(
                    String::from_utf8_lossy(unit).into_owned(),
                ));
            }
        };
        if v > MAX / unit_ns {
            return Err(GoDurationError::Invalid);
        }
        v *= unit_ns;
        if f > 0 {
            // Go: float64 keeps fractions of an hour nanosecond-accurate.
            v += (f as f64 * (unit_ns as f64 / scale)) as u64;
            if v > MAX {
                return Err(GoDurationError::Invalid);
            }
        }
        total += v;
        if total > MAX {
            return Err(GoDurationError::Invalid);
        }
    }
    if neg {
        // -(2⁶³) is the one value whose negation does not fit as positive.
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| GoDurationError::Invalid)
}

/// The `time` package's own quoting (it cannot import `strconv`): `"` and `\` escaped, bytes of
/// control and non-ASCII characters as `\xNN`.
#[allow(dead_code, reason = "used by go_message only")]
fn time_quote(s: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if !c.is_ascii() || c < ' ' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let ok = [
            ("0", 0),
            ("5s", 5_000_000_000),
            ("-1.5h", -5_400_000_000_000),
            ("+1h30m", 5_400_000_000_000),
            ("500ms", 500_000_000),
            ("1µs", 1_000),
            ("1μs", 1_000),
            ("1.000000001s", 1_000_000_001),
            (".5m", 30_000_000_000),
            ("5.s", 5_000_000_000),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-2562047h47m16.854775808s", i64::MIN),
            ("0.0000000001s", 0),
        ];
        for (text, want) in ok {
            assert_eq!(parse_go_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_like_go_with_go_messages() {
        let bad = [
            ("", "time: invalid duration \"\""),
            ("-", "time: invalid duration \"-\""),
            ("1", "time: missing unit in duration \"1\""),
            ("1d", "time: unknown unit \"d\" in duration \"1d\""),
            (".s", "time: invalid duration \".s\""),
            ("s", "time: invalid duration \"s\""),
            (
                "2562047h47m16.854775808s",
                "time: invalid duration \"2562047h47m16.854775808s\"",
            ),
            (
                "9223372036854775808ns",
                "time: invalid duration \"9223372036854775808ns\"",
            ),
            (
                "1é",
                "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\"",
            ),
        ];
        for (text, want) in bad {
            let err = parse_go_duration(text).expect_err(text);
            assert_eq!(err.go_message(text), want, "{text}");
        }
    }
}
