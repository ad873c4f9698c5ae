//! Sprig's string functions (Go `strings`, `goutils` and `xstrings` behaviour).

use super::{Reg, int_arg, str_arg, strval};
use crate::func::Ty;
use crate::value::Value;

fn go_is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    ) || (c as u32 > 0xff && c.is_whitespace())
}

/// Go's `strings.Title`: upper-cases letters that follow a separator.
fn title(s: &str) -> String {
    let is_sep = |c: char| {
        if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else if c.is_alphabetic() || c.is_numeric() {
            false
        } else {
            go_is_space(c)
        }
    };
    let mut prev = ' ';
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_sep(prev) {
            out.extend(title_case(c));
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn title_case(c: char) -> impl Iterator<Item = char> {
    let mut up = c.to_uppercase();
    let first = up.next().unwrap_or(c);
    // Go maps to a single rune; keep the first of a multi-rune expansion.
    std::iter::once(if up.next().is_some() { c } else { first })
}

fn to_lower_rune(c: char) -> char {
    let mut l = c.to_lowercase();
    let first = l.next().unwrap_or(c);
    if l.next().is_some() { c } else { first }
}

fn to_upper_rune(c: char) -> char {
    let mut u = c.to_uppercase();
    let first = u.next().unwrap_or(c);
    if u.next().is_some() { c } else { first }
}

/// goutils `Uncapitalize`: lower-cases the first letter of each whitespace-separated word.
fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut cap_next = true;
    for c in s.chars() {
        if go_is_space(c) {
            cap_next = true;
            out.push(c);
        } else if cap_next {
            out.push(to_lower_rune(c));
            cap_next = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// goutils `SwapCase`.
fn swapcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                to_lower_rune(c)
            } else if c.is_lowercase() {
                to_upper_rune(c)
            } else {
                c
            }
        })
        .collect()
}

/// goutils `Initials` (byte-wise, whitespace delimiters).
fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut last_gap = true;
    for b in s.bytes() {
        let c = char::from(b);
        if go_is_space(c) {
            last_gap = true;
        } else if last_gap {
            out.push(c);
            last_gap = false;
        }
    }
    out
}

/// goutils `AbbreviateFull`.
fn abbreviate_full(s: &str, offset: i64, max_width: i64) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    if max_width < 4 {
        return None;
    }
    let len = s.len() as i64;
    if len <= max_width {
        return Some(s.to_owned());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    let cut = |a: i64, b: i64| s.get(a as usize..b as usize).unwrap_or_default().to_owned();
    if offset <= 4 {
        return Some(cut(0, max_width - 3) + "...");
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let rest = abbreviate_full(&cut(offset, len), 0, max_width - 3)?;
        return Some(format!("...{rest}"));
    }
    Some(format!("...{}", cut(len - (max_width - 3), len)))
}

/// goutils `WrapCustom`.
fn wrap_custom(s: &str, wrap_length: i64, newline: &str, wrap_long: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let newline = if newline.is_empty() { "\n" } else { newline };
    let wl = wrap_length.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    let mut offset = 0usize;
    let mut out = String::new();
    let sub = |a: usize, z: usize| String::from_utf8_lossy(&b[a.min(len)..z.min(len)]).into_owned();
    while len - offset > wl {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (wl + offset + 1).min(len);
        let space = b[offset..end].iter().rposition(|&c| c == b' ');
        if let Some(sp) = space {
            let at = sp + offset;
            out.push_str(&sub(offset, at));
            out.push_str(newline);
            offset = at + 1;
        } else if wrap_long {
            out.push_str(&sub(offset, wl + offset));
            out.push_str(newline);
            offset += wl;
        } else {
            let end = wl + offset;
            match b[end..].iter().position(|&c| c == b' ') {
                None => {
                    out.push_str(&sub(offset, len));
                    offset = len;
                }
                Some(i) => {
                    let at = i + end;
                    out.push_str(&sub(offset, at));
                    out.push_str(newline);
                    offset = at + 1;
                }
            }
        }
    }
    out.push_str(&sub(offset, len));
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alpha,
    Connector,
    Punct,
    Other,
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || go_is_space(c)
}

fn is_alpha(c: char) -> bool {
    c.is_ascii_alphabetic()
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
        && c != '$'
        && c != '+'
        && c != '<'
        && c != '='
        && c != '>'
        && c != '^'
        && c != '`'
        && c != '|'
        && c != '~'
}

/// huandu/xstrings `nextWord`: the next word of `s`, its kind, and the rest.
fn next_word(s: &str) -> (Word, &str, &str) {
    let mut it = s.char_indices().peekable();
    let Some((_, r)) = it.next() else {
        return (Word::Invalid, "", "");
    };
    let end_while = |pred: &dyn Fn(char) -> bool, start: usize| -> usize {
        let mut end = start;
        for (i, c) in s[start..].char_indices() {
            if !pred(c) {
                return start + i;
            }
            end = start + i + c.len_utf8();
        }
        end
    };
    let first_len = r.len_utf8();
    let (wt, end) = if is_connector(r) {
        (Word::Connector, end_while(&is_connector, first_len))
    } else if is_punct(r) {
        (Word::Punct, end_while(&is_punct, first_len))
    } else if r.is_uppercase() {
        match s[first_len..].chars().next() {
            None => (Word::Upper, first_len),
            Some(n) if n.is_uppercase() => {
                // A run of capitals; "HTTPStatus" keeps the "S" for the next word.
                let mut end = first_len;
                let mut prev_size = 0;
                let mut next = None;
                for (i, c) in s[first_len..].char_indices() {
                    if !c.is_uppercase() {
                        next = Some(c);
                        break;
                    }
                    prev_size = c.len_utf8();
                    end = first_len + i + prev_size;
                }
                if next.is_some_and(is_alpha) {
                    end -= prev_size;
                }
                (Word::Upper, end)
            }
            Some(n) if is_alpha(n) => (
                Word::Upper,
                end_while(&|c| is_alpha(c) && !c.is_uppercase(), first_len),
            ),
            Some(_) => (Word::Upper, first_len),
        }
    } else if is_alpha(r) {
        (
            Word::Alpha,
            end_while(&|c| is_alpha(c) && !c.is_uppercase(), first_len),
        )
    } else if r.is_numeric() {
        (
            Word::Number,
            end_while(&|c: char| c.is_numeric(), first_len),
        )
    } else {
        (
            Word::Other,
            end_while(
                &|c| !(is_connector(c) || is_alpha(c) || c.is_numeric() || is_punct(c)),
                first_len,
            ),
        )
    };
    (wt, &s[..end], &s[end..])
}

fn to_lower_word(buf: &mut String, wt: Word, word: &str, conn: char) {
    if wt != Word::Upper && wt != Word::Connector {
        buf.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            buf.push(conn);
        } else if c.is_uppercase() {
            buf.push(to_lower_rune(c));
        } else {
            buf.push(c);
        }
    }
}

/// huandu/xstrings `camelCaseToLowerCase` (snake and kebab case).
fn to_delimited(s: &str, conn: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut buf = String::with_capacity(s.len() + 4);
    let (mut wt, mut word, mut remaining) = next_word(s);
    while !remaining.is_empty() {
        if wt != Word::Connector {
            to_lower_word(&mut buf, wt, word, conn);
        }
        let prev = wt;
        let last = word;
        (wt, word, remaining) = next_word(remaining);
        match prev {
            Word::Number => {
                while wt == Word::Alpha || wt == Word::Number {
                    to_lower_word(&mut buf, wt, word, conn);
                    (wt, word, remaining) = next_word(remaining);
                }
                if wt != Word::Invalid && wt != Word::Punct && wt != Word::Connector {
                    buf.push(conn);
                }
            }
            Word::Connector => to_lower_word(&mut buf, prev, last, conn),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        buf.push(conn);
                    }
                    continue;
                }
                if remaining.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, remaining) = next_word(remaining);
                if wt != Word::Alpha {
                    to_lower_word(&mut buf, Word::Number, last, conn);
                    if wt != Word::Connector && wt != Word::Punct {
                        buf.push(conn);
                    }
                    continue;
                }
                buf.push(conn);
                to_lower_word(&mut buf, Word::Number, last, conn);
                while wt == Word::Alpha || wt == Word::Number {
                    to_lower_word(&mut buf, wt, word, conn);
                    (wt, word, remaining) = next_word(remaining);
                }
                if wt != Word::Invalid && wt != Word::Connector && wt != Word::Punct {
                    buf.push(conn);
                }
            }
        }
    }
    to_lower_word(&mut buf, wt, word, conn);
    buf
}

/// huandu/xstrings `ToCamelCase` as Sprig's `camelcase` uses it (`some_words` → `SomeWords`).
fn camelcase(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut r0 = ' ';
    let mut found = false;
    while i < chars.len() {
        r0 = chars[i];
        i += 1;
        if !is_connector(r0) {
            r0 = to_upper_rune(r0);
            found = true;
            break;
        }
        out.push(r0);
    }
    if i >= chars.len() {
        if found {
            out.push(r0);
        }
        return out;
    }
    while i < chars.len() {
        let r1 = r0;
        r0 = chars[i];
        i += 1;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            r0 = to_upper_rune(r0);
        } else {
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

fn quote_each(args: &[Value], single: bool) -> String {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        if a.is_nil() {
            continue;
        }
        if single {
            out.push(format!("'{}'", a.to_go_string()));
        } else {
            out.push(crate::fmt::go_quote(&strval(a)));
        }
    }
    out.join(" ")
}

/// Go's `strings.Replace(s, old, new, -1)` including the empty-`old` case.
fn go_replace(s: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        let mut out = String::from(new);
        for c in s.chars() {
            out.push(c);
            out.push_str(new);
        }
        return out;
    }
    s.replace(old, new)
}

/// Go's `strings.Split(s, sep)`.
pub(crate) fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_owned).collect()
}

/// Go's `strings.SplitN(s, sep, n)`.
fn go_splitn(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if n < 0 {
        return go_split(s, sep);
    }
    let n = n as usize;
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let mut out: Vec<String> = chars
            .iter()
            .take(n.saturating_sub(1))
            .map(|c| c.to_string())
            .collect();
        if chars.len() >= n {
            out.push(chars[n - 1..].iter().collect());
        }
        return out;
    }
    s.splitn(n, sep).map(str::to_owned).collect()
}

fn index_map(parts: Vec<String>) -> Value {
    let m: crate::value::Map = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), Value::from(p)))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into();
    Value::Map(m.with_go_type("map[string]string", Value::from("")))
}

/// Go's `strings.Trim(s, cutset)`.
fn go_trim(s: &str, cutset: &str) -> String {
    s.trim_matches(|c| cutset.contains(c)).to_owned()
}

/// Sprig's `strslice`: a list of strings from any list (nil elements dropped) or a single value.
pub(crate) fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().filter(|e| !e.is_nil()).map(strval).collect(),
        Value::Nil => Vec::new(),
        Value::Object(o) => match o.as_value() {
            Some(inner) => strslice(&inner),
            None => vec![strval(v)],
        },
        other => vec![strval(other)],
    }
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.s2s("trim", |s| s.trim_matches(go_is_space).to_owned());
    r.s2s("upper", |s| s.chars().map(to_upper_rune).collect());
    r.s2s("lower", |s| s.chars().map(to_lower_rune).collect());
    r.s2s("title", title);
    r.s2s("untitle", untitle);
    r.s2s("swapcase", swapcase);
    r.s2s("initials", initials);
    r.s2s("nospace", |s| {
        s.chars().filter(|c| !go_is_space(*c)).collect()
    });
    r.s2s("snakecase", |s| to_delimited(s, '_'));
    r.s2s("kebabcase", |s| to_delimited(s, '-'));
    r.s2s("camelcase", camelcase);
    r.s2s("shuffle", |s| {
        let mut chars: Vec<char> = s.chars().collect();
        let n = chars.len();
        for i in (1..n).rev() {
            let j = (super::crypto::random_u64() % (i as u64 + 1)) as usize;
            chars.swap(i, j);
        }
        chars.into_iter().collect()
    });
    r.f("abbrev", &[Ty::Int, Ty::String], |a| {
        let (w, s) = (int_arg(a, 0), str_arg(a, 1));
        if w < 4 {
            return Ok(Value::from(s));
        }
        Ok(Value::from(abbreviate_full(s, 0, w).unwrap_or_default()))
    });
    r.f("abbrevboth", &[Ty::Int, Ty::Int, Ty::String], |a| {
        let (l, w, s) = (int_arg(a, 0), int_arg(a, 1), str_arg(a, 2));
        if w < 4 || (l > 0 && w < 7) {
            return Ok(Value::from(s));
        }
        Ok(Value::from(abbreviate_full(s, l, w).unwrap_or_default()))
    });
    r.f("trunc", &[Ty::Int, Ty::String], |a| {
        // Go slices bytes: a cut inside a character keeps the bytes of its half.
        let c = int_arg(a, 0);
        let s = a[1].as_bytes().unwrap_or_default();
        let len = s.len() as i64;
        let cut = |from: i64, to: i64| Value::from_byte_slice(&s[from as usize..to as usize]);
        Ok(if c < 0 && len + c > 0 {
            cut(len + c, len)
        } else if c >= 0 && len > c {
            cut(0, c)
        } else {
            a[1].clone()
        })
    });
    r.f("substr", &[Ty::Int, Ty::Int, Ty::String], |a| {
        let (start, end) = (int_arg(a, 0), int_arg(a, 1));
        let s = a[2].as_bytes().unwrap_or_default();
        let len = s.len() as i64;
        // Go's slice expressions and their runtime panic texts.
        let (from, to) = if start < 0 {
            if end < 0 {
                return Err(format!("runtime error: slice bounds out of range [:{end}]").into());
            }
            if end > len {
                return Err(format!(
                    "runtime error: slice bounds out of range [:{end}] with length {len}"
                )
                .into());
            }
            (0, end)
        } else if end < 0 || end > len {
            if start > len {
                return Err(
                    format!("runtime error: slice bounds out of range [{start}:{len}]").into(),
                );
            }
            (start, len)
        } else {
            if start > end {
                return Err(
                    format!("runtime error: slice bounds out of range [{start}:{end}]").into(),
                );
            }
            (start, end)
        };
        Ok(Value::from_byte_slice(&s[from as usize..to as usize]))
    });
    r.f("repeat", &[Ty::Int, Ty::String], |a| {
        let n = int_arg(a, 0);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        let s = str_arg(a, 1);
        let bytes = s.len() as u128 * n.unsigned_abs() as u128;
        if bytes > i64::MAX as u128 {
            return Err("strings: Repeat output length overflow".into());
        }
        crate::budget::string("repeat", bytes)?;
        Ok(Value::from(s.repeat(n as usize)))
    });
    r.f("trimall", &[Ty::String, Ty::String], |a| {
        Ok(Value::from(go_trim(str_arg(a, 1), str_arg(a, 0))))
    });
    r.f("trimAll", &[Ty::String, Ty::String], |a| {
        Ok(Value::from(go_trim(str_arg(a, 1), str_arg(a, 0))))
    });
    r.f("trimSuffix", &[Ty::String, Ty::String], |a| {
        let (suf, s) = (str_arg(a, 0), str_arg(a, 1));
        Ok(Value::from(s.strip_suffix(suf).unwrap_or(s)))
    });
    r.f("trimPrefix", &[Ty::String, Ty::String], |a| {
        let (pre, s) = (str_arg(a, 0), str_arg(a, 1));
        Ok(Value::from(s.strip_prefix(pre).unwrap_or(s)))
    });
    r.f("wrap", &[Ty::Int, Ty::String], |a| {
        Ok(Value::from(wrap_custom(
            str_arg(a, 1),
            int_arg(a, 0),
            "",
            false,
        )))
    });
    r.f("wrapWith", &[Ty::Int, Ty::String, Ty::String], |a| {
        Ok(Value::from(wrap_custom(
            str_arg(a, 2),
            int_arg(a, 0),
            str_arg(a, 1),
            true,
        )))
    });
    r.f("contains", &[Ty::String, Ty::String], |a| {
        Ok(Value::Bool(str_arg(a, 1).contains(str_arg(a, 0))))
    });
    r.f("hasPrefix", &[Ty::String, Ty::String], |a| {
        Ok(Value::Bool(str_arg(a, 1).starts_with(str_arg(a, 0))))
    });
    r.f("hasSuffix", &[Ty::String, Ty::String], |a| {
        Ok(Value::Bool(str_arg(a, 1).ends_with(str_arg(a, 0))))
    });
    r.v("quote", &[], Ty::Any, |a| {
        Ok(Value::from(quote_each(a, false)))
    });
    r.v("squote", &[], Ty::Any, |a| {
        Ok(Value::from(quote_each(a, true)))
    });
    r.v("cat", &[], Ty::Any, |a| {
        // Go strings are bytes: a part that is not UTF-8 is joined byte for byte.
        let parts: Vec<Vec<u8>> = a
            .iter()
            .filter(|v| !v.is_nil())
            .map(|v| match v.as_bytes() {
                Some(b) => b.to_vec(),
                None => v.to_go_string().into_bytes(),
            })
            .collect();
        Ok(Value::from_bytes(parts.join(&b' ')))
    });
    r.f("indent", &[Ty::Int, Ty::String], |a| {
        let n = int_arg(a, 0);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        let s = str_arg(a, 1);
        let lines = s.matches('\n').count() as u128 + 1;
        crate::budget::string(
            "indent",
            s.len() as u128 + lines * (n.unsigned_abs() as u128 + 1),
        )?;
        let pad = " ".repeat(n as usize);
        Ok(Value::from(format!(
            "{pad}{}",
            str_arg(a, 1).replace('\n', &format!("\n{pad}"))
        )))
    });
    r.f("nindent", &[Ty::Int, Ty::String], |a| {
        let n = int_arg(a, 0);
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        let s = str_arg(a, 1);
        let lines = s.matches('\n').count() as u128 + 1;
        crate::budget::string(
            "nindent",
            s.len() as u128 + lines * (n.unsigned_abs() as u128 + 1),
        )?;
        let pad = " ".repeat(n as usize);
        Ok(Value::from(format!(
            "\n{pad}{}",
            str_arg(a, 1).replace('\n', &format!("\n{pad}"))
        )))
    });
    r.f("replace", &[Ty::String, Ty::String, Ty::String], |a| {
        Ok(Value::from(go_replace(
            str_arg(a, 2),
            str_arg(a, 0),
            str_arg(a, 1),
        )))
    });
    r.f("plural", &[Ty::String, Ty::String, Ty::Int], |a| {
        Ok(Value::from(if int_arg(a, 2) == 1 {
            str_arg(a, 0)
        } else {
            str_arg(a, 1)
        }))
    });
    r.f("toStrings", &[Ty::Any], |a| {
        Ok(Value::strings(strslice(&a[0])))
    });
    r.f("join", &[Ty::String, Ty::Any], |a| {
        Ok(Value::from(strslice(&a[1]).join(str_arg(a, 0))))
    });
    r.f("split", &[Ty::String, Ty::String], |a| {
        Ok(index_map(go_split(str_arg(a, 1), str_arg(a, 0))))
    });
    r.f("splitn", &[Ty::String, Ty::Int, Ty::String], |a| {
        Ok(index_map(go_splitn(
            str_arg(a, 2),
            str_arg(a, 0),
            int_arg(a, 1),
        )))
    });
    r.f("splitList", &[Ty::String, Ty::String], |a| {
        Ok(Value::strings(go_split(str_arg(a, 1), str_arg(a, 0))))
    });
    r.f("sortAlpha", &[Ty::Any], |a| {
        let v = match &a[0] {
            Value::Object(o) => o.as_value().unwrap_or_else(|| a[0].clone()),
            v => v.clone(),
        };
        let mut items = match v {
            Value::List(_) => strslice(&v),
            other => vec![strval(&other)],
        };
        items.sort();
        Ok(Value::strings(items))
    });
}
