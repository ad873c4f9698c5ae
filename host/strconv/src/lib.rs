//! Go's float formatting, the one copy in the workspace: `strconv.FormatFloat` (every verb,
//! shortest or with a precision, for float64 and float32 values) and `encoding/json`'s float64
//! form.
//!
//! Helm output is byte-compared with `helm template`, so every place that prints a Go float must
//! print it as Go does: the template engine's `%v`/`printf`/`toJson` (`capstan-gotmpl`), the YAML
//! reader's float map keys and `json: unsupported value` errors (`capstan-yaml`, which follows
//! sigs.k8s.io/yaml), Helm's `toYaml`, `toToml` and schema messages (`capstan-helm`). Those crates
//! sit side by side (the YAML reader must not depend on the template engine), so the rule lives
//! here, below all of them, with no dependencies. Printf's own flags (`#`, `+`, width) stay with
//! the printer in `capstan-gotmpl`.

#[cfg(test)]
mod tests;

/// Decimal digits of `f` (no trailing zeros) and the decimal point position: value = 0.DIGITS ×
/// 10^dp. `sig` = None for the shortest representation that round-trips.
fn float_digits(f: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        None => format!("{:e}", f.abs()),
        Some(n) => format!("{:.*e}", n.saturating_sub(1), f.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    if digits == "0" {
        // Go's decimal for zero has no digits.
        return (String::new(), 0);
    }
    (digits, exp + 1)
}

fn fmt_e(out: &mut String, digits: &str, dp: i32, prec: usize, e: char) {
    let d = digits.as_bytes();
    out.push(char::from(*d.first().unwrap_or(&b'0')));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(*d.get(i).unwrap_or(&b'0')));
        }
    }
    out.push(e);
    let exp = if digits.is_empty() { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        out.push('0');
    }
    out.push_str(&a.to_string());
}

fn fmt_f(out: &mut String, digits: &str, dp: i32, prec: usize) {
    let d = digits.as_bytes();
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(char::from(*d.get(i).unwrap_or(&b'0')));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i32 {
            let j = dp + i - 1;
            let c = if j >= 0 {
                d.get(j as usize).copied()
            } else {
                None
            };
            out.push(char::from(c.unwrap_or(b'0')));
        }
    }
}

/// Go's `strconv.FormatFloat(f, verb, prec, 64)` for verbs b, e, E, f, F, g, G, x, X (prec -1 =
/// shortest),
/// including `+Inf`, `-Inf` and `NaN`: the one implementation of Go float formatting in the
/// workspace (`format_float(f, 'g', -1)` is what `%v` and sigs.k8s.io/yaml print).
pub fn format_float(f: f64, verb: char, prec: i32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    match verb {
        'b' => return binary_float(f),
        'x' => return hex_float(f, usize::try_from(prec).ok()),
        'X' => return hex_float(f, usize::try_from(prec).ok()).to_uppercase(),
        _ => {}
    }
    let mut out = String::new();
    if f.is_sign_negative() {
        out.push('-');
    }
    let shortest = prec < 0;
    match verb {
        'e' | 'E' => {
            let (digits, dp) = if shortest {
                float_digits(f, None)
            } else {
                float_digits(f, Some(prec as usize + 1))
            };
            let p = if shortest {
                digits.len().saturating_sub(1)
            } else {
                prec as usize
            };
            fmt_e(&mut out, &digits, dp, p, verb);
        }
        'f' | 'F' => {
            if shortest {
                let (digits, dp) = float_digits(f, None);
                let p = (digits.len() as i32 - dp).max(0) as usize;
                fmt_f(&mut out, &digits, dp, p);
            } else {
                out.push_str(&format!("{:.*}", prec as usize, f.abs()));
            }
        }
        _ => {
            let upper = verb == 'G';
            let mut p = prec;
            if p == 0 {
                p = 1;
            }
            let (digits, dp) = if shortest {
                float_digits(f, None)
            } else {
                float_digits(f, Some(p as usize))
            };
            let nd = digits.len() as i32;
            let mut eprec = if shortest { nd } else { p };
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            let p = if shortest { nd } else { p };
            if !digits.is_empty() && (exp < -4 || exp >= eprec) {
                let p = p.min(nd);
                fmt_e(
                    &mut out,
                    &digits,
                    dp,
                    (p - 1).max(0) as usize,
                    if upper { 'E' } else { 'e' },
                );
            } else {
                let p = if p > dp { nd } else { p };
                fmt_f(&mut out, &digits, dp, (p - dp).max(0) as usize);
            }
        }
    }
    out
}

/// Go's `strconv.FormatFloat(f, 'b', -1, 64)` of a finite `f`: decimal mantissa, binary exponent.
fn binary_float(f: f64) -> String {
    let bits = f.to_bits();
    let sign = if bits >> 63 == 1 { "-" } else { "" };
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    let e = if exp == 0 {
        -1074
    } else {
        mant |= 1u64 << 52;
        exp - 1075
    };
    format!(
        "{sign}{mant}p{}{}",
        if e < 0 { '-' } else { '+' },
        e.unsigned_abs()
    )
}

/// Go's `strconv.FormatFloat(f, 'x', prec, 64)` of a finite `f`: hexadecimal mantissa (shortest
/// for `None`), `p±dd` exponent.
fn hex_float(f: f64, prec: Option<usize>) -> String {
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        let frac = match prec {
            Some(p) if p > 0 => format!(".{}", "0".repeat(p)),
            _ => String::new(),
        };
        return format!("{sign}0x0{frac}p+00");
    }
    let bits = f.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        // Subnormal: normalise so the leading digit is 1.
        exp = -1022;
        while mant & (1u64 << 52) == 0 {
            mant <<= 1;
            exp -= 1;
        }
        mant &= (1u64 << 52) - 1;
    } else {
        exp -= 1023;
    }
    let digits = match prec {
        Some(p) if p < 13 => {
            // Round the 52-bit fraction to `p` hex digits, half to even.
            let full = mant | (1u64 << 52);
            let shift = 52 - 4 * p as u32;
            let mut r = full >> shift;
            let rem = full & ((1u64 << shift) - 1);
            let half = 1u64 << (shift - 1);
            if rem > half || (rem == half && r & 1 == 1) {
                r += 1;
            }
            if r >> (4 * p as u32) >= 2 {
                r >>= 1;
                exp += 1;
            }
            let frac = r & ((1u64 << (4 * p as u32)) - 1);
            if p == 0 {
                String::new()
            } else {
                format!("{frac:0p$x}")
            }
        }
        Some(p) => format!("{mant:013x}{}", "0".repeat(p - 13)),
        None => {
            let mut d = format!("{mant:013x}");
            while d.ends_with('0') {
                d.pop();
            }
            d
        }
    };
    let frac = if digits.is_empty() {
        String::new()
    } else {
        format!(".{digits}")
    };
    let esign = if exp < 0 { '-' } else { '+' };
    format!("{sign}0x1{frac}p{esign}{:02}", exp.unsigned_abs())
}

/// Go's `strconv.FormatFloat(f, verb, prec, 32)`: like [`format_float`], but the shortest
/// digits are those that identify the float32 value (`FormatFloat(0.1, 'g', -1, 32)` is `0.1`,
/// where the same float32 widened to float64 would print as `0.10000000149011612`).
pub fn format_float32(f: f32, verb: char, prec: i32) -> String {
    if prec >= 0 || !f.is_finite() {
        return format_float(f64::from(f), verb, prec);
    }
    // Rust's `{:e}` of an f32 is its shortest round-tripping decimal; reading that decimal as
    // an f64 gives a float64 whose own shortest digits are the same.
    let shortest: f64 = format!("{f:e}").parse().unwrap_or(f64::from(f));
    format_float(shortest, verb, prec)
}

/// How `encoding/json` writes a float64; `None` for NaN and infinities, which `json.Marshal`
/// rejects.
pub fn format_json_float(f: f64) -> Option<String> {
    f.is_finite().then(|| json_float(f))
}

/// Go's `encoding/json` float64 formatting.
fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let mut s = format_float(f, 'e', -1);
        // Go cleans up e-09 to e-9.
        let n = s.len();
        if n >= 4 && &s[n - 4..n - 1] == "e-0" {
            s.remove(n - 2);
        }
        s
    } else {
        format_float(f, 'f', -1)
    }
}
