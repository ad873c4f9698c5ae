//! Go's `fmt` and `strconv` behaviour on [`Value`]s: `%v` printing of maps, slices, floats and nil,
//! `Sprintf` with verbs, flags, width and precision (including `%!d(string=x)` style errors), and
//! Go's quoting, unquoting, number parsing and `encoding/json` output.

use capstan_strconv::{format_float, format_json_float};

use crate::value::Value;

// ---------------------------------------------------------------------------------------------
// strconv

/// Whether Go's `unicode.IsPrint` would call `c` printable (approximately: graphic or ASCII space).
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{FFFE}'
            | '\u{FFFF}'
    )
}

fn quote_with(s: &str, quote: char, ascii_only: bool) -> String {
    quote_bytes_with(s.as_bytes(), quote, ascii_only)
}

/// Go's quoting of a byte string: valid UTF-8 as characters, each byte of an invalid sequence
/// as `\xNN`.
fn quote_bytes_with(bytes: &[u8], quote: char, ascii_only: bool) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push(quote);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            append_quoted_rune(&mut out, c, quote, ascii_only);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push(quote);
    out
}

fn append_quoted_rune(out: &mut String, c: char, quote: char, ascii_only: bool) {
    use std::fmt::Write;
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii_only {
        if c.is_ascii() && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if u32::from(c) < 0x20 || c == '\u{7f}' => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if u32::from(c) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        }
        c => {
            let _ = write!(out, "\\U{:08x}", u32::from(c));
        }
    }
}

/// Go's `strconv.Quote` (`%q` of a string): the one implementation of Go quoting in the
/// workspace.
pub fn go_quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// Go's `strconv.QuoteToASCII`.
pub(crate) fn go_quote_ascii(s: &str) -> String {
    quote_with(s, '"', true)
}

/// Go's `strconv.QuoteRune`.
pub(crate) fn go_quote_rune(c: char) -> String {
    let mut out = String::from("'");
    append_quoted_rune(&mut out, c, '\'', false);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !(c.is_control())))
}

/// Go's `strconv.UnquoteChar`: decodes the first (possibly escaped) character of `s`.
pub(crate) fn unquote_char(s: &str, quote: char) -> Option<(char, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        return Some((c, chars.as_str()));
    }
    let e = chars.next()?;
    let rest = chars.as_str();
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        '\\' => Some('\\'),
        '\'' | '"' => {
            if e != quote {
                return None;
            }
            Some(e)
        }
        _ => None,
    };
    if let Some(c) = simple {
        return Some((c, rest));
    }
    match e {
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = rest.get(..n)?;
            let v = u32::from_str_radix(hex, 16).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            Some((char::from_u32(v)?, &rest[n..]))
        }
        '0'..='7' => {
            let oct = s.get(1..4)?;
            if !oct.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return None;
            }
            let v = u32::from_str_radix(oct, 8).ok()?;
            if v > 255 {
                return None;
            }
            Some((char::from_u32(v)?, &s[4..]))
        }
        _ => None,
    }
}

/// Go's `strconv.Unquote` for `"…"` and `` `…` `` strings.
pub(crate) fn go_unquote(s: &str) -> Option<String> {
    if s.len() < 2 {
        return None;
    }
    let q = s.as_bytes()[0];
    if q != s.as_bytes()[s.len() - 1] {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return None;
            }
            Some(inner.replace('\r', ""))
        }
        b'"' => {
            let mut out = String::with_capacity(inner.len());
            let mut rest = inner;
            while !rest.is_empty() {
                let (c, tail) = unquote_char(rest, '"')?;
                if c == '\n' && !rest.starts_with('\\') {
                    return None;
                }
                out.push(c);
                rest = tail;
            }
            Some(out)
        }
        _ => None,
    }
}

/// Splits a Go integer literal into (negative, base, digits) and validates underscores.
fn split_int(text: &str) -> Option<(bool, u32, String)> {
    let (neg, body) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (base, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    if digits.is_empty() {
        return None;
    }
    // Go's underscoreOK: underscores only between digits (or right after a base prefix).
    let b = digits.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let prev_ok = if i == 0 { prefixed } else { b[i - 1] != b'_' };
            let next_ok = i + 1 < b.len() && b[i + 1] != b'_';
            if !prev_ok || !next_ok {
                return None;
            }
        }
    }
    Some((neg, base, digits.replace('_', "")))
}

/// Go's `strconv.ParseInt(text, 0, 64)`.
pub(crate) fn parse_go_int(text: &str) -> Option<i64> {
    let (neg, base, digits) = split_int(text)?;
    let mag = u64::from_str_radix(&digits, base).ok()?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some((mag as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
    }
}

/// Go's `strconv.ParseUint(text, 0, 64)`.
pub(crate) fn parse_go_uint(text: &str) -> Option<u64> {
    if text.starts_with(['+', '-']) {
        return None;
    }
    let (_, base, digits) = split_int(text)?;
    u64::from_str_radix(&digits, base).ok()
}

/// Go's `strconv.ParseFloat(text, 64)` for decimal literals (hex floats are rare in templates
/// and handled approximately).
pub(crate) fn parse_go_float(text: &str) -> Option<f64> {
    let t = text.replace('_', "");
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.starts_with("0x") && body.len() > 2 {
        let neg = lower.starts_with('-');
        let hex = &body[2..];
        // Go requires the `p` exponent on hexadecimal floats.
        let (mant, exp) = hex.split_once('p')?;
        let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
        let mut v = 0f64;
        for c in ip.chars().chain(fp.chars()) {
            v = v * 16.0 + f64::from(c.to_digit(16)?);
        }
        let e: i32 = exp.parse().ok()?;
        let frac_len = i32::try_from(fp.len()).ok()?;
        let v = v * 2f64.powi(e - 4 * frac_len);
        return Some(if neg { -v } else { v });
    }
    if body.starts_with("inf") || body.starts_with("nan") {
        return None;
    }
    t.parse::<f64>().ok()
}

// ---------------------------------------------------------------------------------------------
// Printf's `#` flag on floats (FormatFloat itself is capstan-strconv's)

/// Go's `%#` handling for floats: always a decimal point, and `%#g`/`%#v` keep trailing zeros
/// up to the precision (6 when unset).
fn sharp_float(num: &str, verb: char, prec: i32) -> String {
    let mut digits = match verb {
        'v' | 'g' | 'G' | 'x' => {
            if prec < 0 {
                6
            } else {
                prec
            }
        }
        _ => 0,
    };
    let (sign, body) = match num.as_bytes().first() {
        Some(b'-' | b'+') => num.split_at(1),
        _ => ("", num),
    };
    let split = body
        .find(|c: char| {
            matches!(c, 'p' | 'P') || (matches!(c, 'e' | 'E') && verb != 'x' && verb != 'X')
        })
        .unwrap_or(body.len());
    let (mant, tail) = body.split_at(split);
    let mut has_point = false;
    let mut seen_nonzero = false;
    for c in mant.chars() {
        if c == '.' {
            has_point = true;
        } else {
            if c != '0' {
                seen_nonzero = true;
            }
            if seen_nonzero {
                digits -= 1;
            }
        }
    }
    let mut out = format!("{sign}{mant}");
    if !has_point {
        if mant == "0" {
            digits -= 1;
        }
        out.push('.');
    }
    while digits > 0 {
        out.push('0');
        digits -= 1;
    }
    out.push_str(tail);
    out
}

// ---------------------------------------------------------------------------------------------
// %v printing

/// Deepest nesting printed or encoded; only reachable by a map that contains itself (`set $m
/// "self" $m`), which would overflow the stack otherwise.
pub(crate) const MAX_NESTING: usize = 1_000;

/// Runs `f` on a fresh stack segment if the current one is nearly used up (deeply nested data).
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}

/// Writes `v` as Go's `%v` does (`top` = printing a template action's value, where nil has
/// already been turned into `<no value>` by the caller).
pub(crate) fn write_v(out: &mut String, v: &Value, _top: bool) {
    let mut p = Printer {
        out,
        spec: Spec::default(),
    };
    p.print_value(v, 'v', 0);
}

/// Go's `fmt.Sprint`.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        write_v(&mut out, a, false);
        prev_string = is_string;
    }
    out
}

/// Go's `fmt.Sprintln`.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(&mut out, a, false);
    }
    out.push('\n');
    out
}

#[derive(Clone, Copy, Default)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

struct Printer<'a> {
    out: &'a mut String,
    spec: Spec,
}

impl Printer<'_> {
    fn pad(&mut self, s: &str) {
        let Some(w) = self.spec.width else {
            self.out.push_str(s);
            return;
        };
        let n = s.chars().count();
        if n >= w {
            self.out.push_str(s);
            return;
        }
        let fill = w - n;
        if self.spec.minus {
            self.out.push_str(s);
            self.out.extend(std::iter::repeat_n(' ', fill));
        } else if self.spec.zero {
            // Zero padding goes after a sign.
            let (sign, rest) = match s.as_bytes().first() {
                Some(b'+' | b'-' | b' ') if !s[1..].starts_with(|c: char| c.is_alphabetic()) => {
                    s.split_at(1)
                }
                _ => ("", s),
            };
            self.out.push_str(sign);
            self.out.extend(std::iter::repeat_n('0', fill));
            self.out.push_str(rest);
        } else {
            self.out.extend(std::iter::repeat_n(' ', fill));
            self.out.push_str(s);
        }
    }

    fn pad_spaces_only(&mut self, s: &str) {
        let zero = self.spec.zero;
        self.spec.zero = false;
        self.pad(s);
        self.spec.zero = zero;
    }

    fn fmt_integer(&mut self, i: i64, base: u32, verb: char) {
        if self.spec.prec == Some(0) && i == 0 {
            // Go prints nothing but the padding for a zero with precision 0.
            self.pad_spaces_only("");
            return;
        }
        let neg = i < 0;
        let mag = i.unsigned_abs();
        let mut digits = match base {
            2 => format!("{mag:b}"),
            8 => format!("{mag:o}"),
            16 if verb == 'X' => format!("{mag:X}"),
            16 => format!("{mag:x}"),
            _ => mag.to_string(),
        };
        if let Some(p) = self.spec.prec {
            if p == 0 && mag == 0 {
                digits.clear();
            }
            while digits.len() < p {
                digits.insert(0, '0');
            }
        }
        let mut prefix = String::new();
        if neg {
            prefix.push('-');
        } else if self.spec.plus {
            prefix.push('+');
        } else if self.spec.space {
            prefix.push(' ');
        }
        if self.spec.sharp {
            match base {
                2 => prefix.push_str("0b"),
                8 if !digits.starts_with('0') => prefix.push('0'),
                16 if verb == 'X' => prefix.push_str("0X"),
                16 => prefix.push_str("0x"),
                _ => {}
            }
        }
        if verb == 'O' {
            prefix.push_str("0o");
        }
        if self.spec.prec.is_none()
            && self.spec.zero
            && !self.spec.minus
            && let Some(w) = self.spec.width
        {
            while prefix.len() + digits.len() < w {
                digits.insert(0, '0');
            }
        }
        let s = format!("{prefix}{digits}");
        self.pad_spaces_only(&s);
    }

    fn fmt_float(&mut self, f: f64, verb: char) {
        let prec = self.spec.prec.map_or(-1, |p| p as i32);
        let (verb, prec) = match verb {
            'v' => ('g', prec),
            'e' | 'E' | 'f' | 'F' => (verb, if prec < 0 { 6 } else { prec }),
            _ => (verb, prec),
        };
        let mut num = format_float(f, verb, prec);
        if self.spec.sharp && verb != 'b' && !f.is_infinite() && !f.is_nan() {
            num = sharp_float(&num, verb, prec);
        }
        let num = if num.starts_with(['-', '+']) {
            num
        } else {
            format!("+{num}")
        };
        if num[1..].starts_with(['I', 'N']) {
            let num = if num[1..].starts_with('N') && !self.spec.space && !self.spec.plus {
                num[1..].to_owned()
            } else if self.spec.space && num.starts_with('+') && !self.spec.plus {
                format!(" {}", &num[1..])
            } else {
                num
            };
            self.pad_spaces_only(&num);
            return;
        }
        if self.spec.plus || !num.starts_with('+') {
            self.pad(&num);
        } else if self.spec.space {
            self.pad(&format!(" {}", &num[1..]));
        } else {
            self.pad(&num[1..]);
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char) -> bool {
        match verb {
            'v' | 's' => {
                let s = match self.spec.prec {
                    Some(p) => s.chars().take(p).collect::<String>(),
                    None => s.to_owned(),
                };
                self.pad(&s);
            }
            'q' => {
                let truncated: String;
                let s = match self.spec.prec {
                    Some(p) => {
                        truncated = s.chars().take(p).collect();
                        truncated.as_str()
                    }
                    None => s,
                };
                let q = if self.spec.sharp && can_backquote(s) {
                    format!("`{s}`")
                } else if self.spec.plus {
                    go_quote_ascii(s)
                } else {
                    go_quote(s)
                };
                self.pad(&q);
            }
            'x' | 'X' => self.fmt_hex(s.as_bytes(), verb),
            _ => return false,
        }
        true
    }

    /// `%q`, `%x` and `%X` of a Go string that is not UTF-8: its bytes (other verbs print its
    /// text).
    fn fmt_byte_string(&mut self, bytes: &[u8], verb: char) -> bool {
        match verb {
            'q' => {
                let q = quote_bytes_with(bytes, '"', self.spec.plus);
                self.pad(&q);
            }
            'x' | 'X' => self.fmt_hex(bytes, verb),
            _ => return false,
        }
        true
    }

    fn fmt_hex(&mut self, bytes: &[u8], verb: char) {
        let bytes = match self.spec.prec {
            Some(p) => &bytes[..p.min(bytes.len())],
            None => bytes,
        };
        let mut h = String::new();
        for (i, b) in bytes.iter().enumerate() {
            if self.spec.space && i > 0 {
                h.push(' ');
            }
            if self.spec.sharp && (self.spec.space || i == 0) {
                h.push_str(if verb == 'x' { "0x" } else { "0X" });
            }
            if verb == 'x' {
                h.push_str(&format!("{b:02x}"));
            } else {
                h.push_str(&format!("{b:02X}"));
            }
        }
        self.pad(&h);
    }

    fn bad_verb(&mut self, v: &Value, verb: char) {
        self.out.push_str("%!");
        self.out.push(verb);
        self.out.push('(');
        if v.is_nil() {
            self.out.push_str("<nil>");
        } else {
            self.out.push_str(v.type_name());
            self.out.push('=');
            // Go prints the value with the verb's flags, width and precision still in force.
            self.print_value(v, 'v', 0);
        }
        self.out.push(')');
    }

    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        with_stack(|| self.print_value_inner(v, verb, depth));
    }

    fn print_value_inner(&mut self, v: &Value, verb: char, depth: usize) {
        if depth > MAX_NESTING {
            // A map that contains itself: Go would recurse until it crashes.
            self.out.push_str("...");
            return;
        }
        match v {
            Value::Nil => {
                if depth > 0 {
                    self.out.push_str("<nil>");
                } else if verb == 'v' {
                    self.pad_spaces_only("<nil>");
                } else {
                    self.bad_verb(v, verb);
                }
            }
            Value::Bool(b) => match verb {
                't' | 'v' => self.pad(if *b { "true" } else { "false" }),
                _ => self.bad_verb(v, verb),
            },
            Value::Int(i) => match verb {
                'v' | 'd' => self.fmt_integer(*i, 10, verb),
                'b' => self.fmt_integer(*i, 2, verb),
                'o' | 'O' => self.fmt_integer(*i, 8, verb),
                'x' | 'X' => self.fmt_integer(*i, 16, verb),
                'c' => {
                    let c = u32::try_from(*i)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{FFFD}');
                    self.pad(&c.to_string());
                }
                'q' => {
                    let c = u32::try_from(*i)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or('\u{FFFD}');
                    self.pad(&go_quote_rune(c));
                }
                'U' => {
                    let digits = self.spec.prec.unwrap_or(4).max(4);
                    let mut s = format!("U+{:0digits$X}", i);
                    if self.spec.sharp
                        && let Some(c) = u32::try_from(*i).ok().and_then(char::from_u32)
                        && is_print(c)
                    {
                        s.push_str(&format!(" '{c}'"));
                    }
                    self.pad_spaces_only(&s);
                }
                'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => self.bad_verb(v, verb),
                _ => self.bad_verb(v, verb),
            },
            Value::Float(f) => match verb {
                'v' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => self.fmt_float(*f, verb),
                'b' => {
                    let mut s = format_float(*f, 'b', -1);
                    if self.spec.plus && !s.starts_with('-') {
                        s.insert(0, '+');
                    } else if self.spec.space && !s.starts_with('-') {
                        s.insert(0, ' ');
                    }
                    self.pad(&s);
                }
                'x' | 'X' => {
                    let mut h = format_float(*f, 'x', self.spec.prec.map_or(-1, |p| p as i32));
                    if self.spec.sharp && !f.is_infinite() && !f.is_nan() {
                        h = sharp_float(&h, verb, self.spec.prec.map_or(-1, |p| p as i32));
                    }
                    if verb == 'X' {
                        h = h.to_uppercase();
                    }
                    if self.spec.plus && !h.starts_with('-') {
                        h.insert(0, '+');
                    } else if self.spec.space && !h.starts_with('-') {
                        h.insert(0, ' ');
                    }
                    self.pad(&h);
                }
                _ => self.bad_verb(v, verb),
            },
            Value::String(s) => {
                if !self.fmt_string(s, verb) {
                    self.bad_verb(v, verb);
                }
            }
            Value::List(l) => {
                self.out.push('[');
                for (i, e) in l.iter().enumerate() {
                    if i > 0 {
                        self.out.push(' ');
                    }
                    self.print_value(e, verb, depth + 1);
                }
                self.out.push(']');
            }
            Value::Map(m) => {
                self.out.push_str("map[");
                for (i, (k, e)) in m.entries().iter().enumerate() {
                    if i > 0 {
                        self.out.push(' ');
                    }
                    if !self.fmt_string(k, verb) {
                        self.bad_verb(&Value::string(k.as_str()), verb);
                    }
                    self.out.push(':');
                    self.print_value(e, verb, depth + 1);
                }
                self.out.push(']');
            }
            Value::Object(o)
                if o.as_any().is::<crate::value::GoBytes>()
                    && v.as_bytes().is_some_and(|b| self.fmt_byte_string(b, verb)) => {}
            Value::Object(o) if o.type_name() == "int64" => match (verb, o.as_value()) {
                ('v' | 'd' | 'b' | 'o' | 'O' | 'x' | 'X' | 'c' | 'q' | 'U', Some(inner)) => {
                    self.print_value(&inner, verb, depth);
                }
                _ => self.bad_verb(v, verb),
            },
            Value::Object(o) => {
                if let Some(inner) = o.as_value() {
                    self.print_value(&inner, verb, depth);
                } else {
                    let mut s = String::new();
                    o.format_go(&mut s);
                    self.pad(&s);
                }
            }
        }
    }
}

/// Go's `tooLarge`: widths and precisions beyond a million are refused (`%!(BADWIDTH)`,
/// `%!(BADPREC)`), which is also what keeps `printf "%*d"` from allocating without bound.
fn too_large(n: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&n)
}

/// Go's `parsenum`: the digits at `start` as a number (`None` inside when there are none), and
/// where they end; `None` when the number overflows Go's limit, which makes Go skip the rest of
/// the format (so it ends in `%!(NOVERB)`).
fn parse_num(b: &[u8], start: usize) -> Option<(Option<usize>, usize)> {
    let mut num: i64 = 0;
    let mut i = start;
    while i < b.len() && b[i].is_ascii_digit() {
        if too_large(num) {
            return None;
        }
        num = num * 10 + i64::from(b[i] - b'0');
        i += 1;
    }
    let n = (i > start).then(|| usize::try_from(num).unwrap_or(0));
    Some((n, i))
}

/// Go's `fmt.Sprintf` over template values.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(format.len() + 16);
    let mut argn = 0usize;
    let b = format.as_bytes();
    let mut i = 0usize;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= b.len() {
            break;
        }
        i += 1; // skip %
        let mut spec = Spec::default();
        // flags
        while i < b.len() {
            match b[i] {
                b'+' => spec.plus = true,
                b'-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                b'#' => spec.sharp = true,
                b' ' => spec.space = true,
                b'0' => spec.zero = !spec.minus,
                _ => break,
            }
            i += 1;
        }
        // width
        if i < b.len() && b[i] == b'*' {
            i += 1;
            match args
                .get(argn)
                .and_then(Value::to_i64)
                .map(Value::Int)
                .as_ref()
            {
                Some(Value::Int(w)) if !too_large(*w) => {
                    if *w < 0 {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            argn += 1;
        } else {
            match parse_num(b, i) {
                Some((n, next)) => {
                    spec.width = n;
                    i = next;
                }
                None => i = b.len(),
            }
        }
        // precision
        if i < b.len() && b[i] == b'.' {
            i += 1;
            if i < b.len() && b[i] == b'*' {
                i += 1;
                match args.get(argn).and_then(Value::to_i64) {
                    Some(p) if p >= 0 && !too_large(p) => spec.prec = Some(p as usize),
                    _ => out.push_str("%!(BADPREC)"),
                }
                argn += 1;
            } else {
                match parse_num(b, i) {
                    Some((n, next)) => {
                        spec.prec = Some(n.unwrap_or(0));
                        i = next;
                    }
                    None => i = b.len(),
                }
            }
        }
        if i >= b.len() {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = match format[i..].chars().next() {
            Some(c) => c,
            None => break,
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argn) else {
            out.push_str("%!");
            out.push(verb);
            out.push_str("(MISSING)");
            continue;
        };
        argn += 1;
        // `%+v` and `%#v` are modes of %v (field names, Go syntax), not sign/alternate flags.
        let spec = if verb == 'v' {
            Spec {
                plus: false,
                ..spec
            }
        } else {
            spec
        };
        let mut p = Printer {
            out: &mut out,
            spec,
        };
        match verb {
            'T' => {
                if arg.is_nil() {
                    p.pad_spaces_only("<nil>");
                } else {
                    p.fmt_string(arg.type_name(), 's');
                }
            }
            'v' if spec.sharp => {
                let s = go_syntax(arg);
                p.pad(&s);
            }
            _ => p.print_value(arg, verb, 0),
        }
    }
    if argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argn..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            if a.is_nil() {
                out.push_str("<nil>");
            } else {
                out.push_str(a.type_name());
                out.push('=');
                write_v(&mut out, a, false);
            }
        }
        out.push(')');
    }
    out
}

/// Go's `%#v` (Go-syntax representation) for template values.
fn go_syntax(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f, 'g', -1),
        Value::String(s) => go_quote(s),
        Value::List(l) => {
            let items: Vec<String> = l.iter().map(go_syntax_elem).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Map(m) => {
            let items: Vec<String> = m
                .entries()
                .iter()
                .map(|(k, e)| format!("{}:{}", go_quote(k), go_syntax_elem(e)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(o) => {
            if let (Some(items), true) = (v.list_items(), o.type_name().starts_with("[]")) {
                let parts: Vec<String> = items.iter().map(go_syntax).collect();
                return format!("{}{{{}}}", o.type_name(), parts.join(", "));
            }
            let mut s = String::new();
            o.format_go(&mut s);
            s
        }
    }
}

fn go_syntax_elem(v: &Value) -> String {
    match v {
        Value::Nil => "interface {}(nil)".into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f, 'g', -1),
        _ => go_syntax(v),
    }
}

// ---------------------------------------------------------------------------------------------
// encoding/json

fn write_json_string(out: &mut String, s: &str, escape_html: bool) {
    write_json_bytes(out, s.as_bytes(), escape_html);
}

/// `encoding/json`'s string encoding over a Go string's bytes: each byte of an invalid UTF-8
/// sequence becomes `\ufffd`.
fn write_json_bytes(out: &mut String, bytes: &[u8], escape_html: bool) {
    use std::fmt::Write;
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '<' | '>' | '&' if escape_html => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                '\u{2028}' | '\u{2029}' => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c if u32::from(c) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
}

/// How to write JSON: Go's `json.Marshal` escapes HTML; `MarshalIndent` adds indentation.
#[derive(Clone, Copy)]
pub(crate) struct JsonStyle {
    pub(crate) escape_html: bool,
    pub(crate) indent: bool,
}

impl JsonStyle {
    const COMPACT: JsonStyle = JsonStyle {
        escape_html: true,
        indent: false,
    };
}

fn newline(out: &mut String, style: JsonStyle, depth: usize) {
    if style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
}

/// Writes Go's `json.Marshal` of `v`.
pub(crate) fn write_json(out: &mut String, v: &Value) {
    write_json_with(out, v, JsonStyle::COMPACT, 0);
}

/// Writes `v` as Go's `encoding/json` would with the given style; `Err` for NaN/Inf
/// (Go's `json: unsupported value`).
pub(crate) fn try_write_json(out: &mut String, v: &Value, style: JsonStyle) -> Result<(), String> {
    if let Some(bad) = non_finite(v, 0) {
        return Err(format!(
            "json: unsupported value: {}",
            format_float(bad, 'g', -1)
        ));
    }
    write_json_with(out, v, style, 0);
    Ok(())
}

fn non_finite(v: &Value, depth: usize) -> Option<f64> {
    if depth > MAX_NESTING {
        return None;
    }
    with_stack(|| match v {
        Value::Float(f) if !f.is_finite() => Some(*f),
        Value::List(l) => l.iter().find_map(|e| non_finite(e, depth + 1)),
        Value::Map(m) => m
            .entries()
            .iter()
            .find_map(|(_, e)| non_finite(e, depth + 1)),
        _ => None,
    })
}

fn write_json_with(out: &mut String, v: &Value, style: JsonStyle, depth: usize) {
    with_stack(|| write_json_inner(out, v, style, depth));
}

fn write_json_inner(out: &mut String, v: &Value, style: JsonStyle, depth: usize) {
    if depth > MAX_NESTING {
        out.push_str("null");
        return;
    }
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => {
            out.push_str(format_json_float(*f).as_deref().unwrap_or("null"));
        }
        Value::String(s) => write_json_string(out, s, style.escape_html),
        Value::Object(o) if o.as_any().is::<crate::value::GoBytes>() => {
            write_json_bytes(out, v.as_bytes().unwrap_or_default(), style.escape_html);
        }
        Value::List(l) => {
            out.push('[');
            if !l.is_empty() {
                for (i, e) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, style, depth + 1);
                    write_json_with(out, e, style, depth + 1);
                }
                newline(out, style, depth);
            }
            out.push(']');
        }
        Value::Map(m) => write_json_object(out, &m.entries(), style, depth),
        Value::Object(o) => match o.json_fields() {
            Some(fields) => write_json_object(out, &fields, style, depth),
            None => write_json_with(out, &Value::from(&o.to_json()), style, depth),
        },
    }
}

/// A JSON object with its members in the given order (sorted for maps, declaration order for
/// Go structs).
fn write_json_object(
    out: &mut String,
    entries: &[(String, Value)],
    style: JsonStyle,
    depth: usize,
) {
    out.push('{');
    if !entries.is_empty() {
        for (i, (k, e)) in entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            newline(out, style, depth + 1);
            write_json_string(out, k, style.escape_html);
            out.push(':');
            if style.indent {
                out.push(' ');
            }
            write_json_with(out, e, style, depth + 1);
        }
        newline(out, style, depth);
    }
    out.push('}');
}
