//! Sprig's `urlParse`/`urlJoin` over Go's `net/url` parsing and formatting rules, and
//! `getHostByName`.

use super::{Reg, str_arg};
use crate::error::FuncError;
use crate::func::Ty;
use crate::value::{Map, Value};

fn unhex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Go's `url.PathUnescape`-like decoding of `%XX`.
fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| unhex(*c)),
                b.get(i + 2).and_then(|c| unhex(*c)),
            ) else {
                let end = (i + 3).min(b.len());
                return Err(format!(
                    "invalid URL escape {}",
                    crate::fmt::go_quote(&String::from_utf8_lossy(&b[i..end]))
                ));
            };
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `shouldEscape` for paths (`encodePath`) and fragments (`encodeFragment`).
fn escape(s: &str, fragment: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        let keep = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'_' | b'.' | b'~')
            || matches!(
                c,
                b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@'
            )
            || (fragment && matches!(c, b'!' | b'(' | b')' | b'*' | b'?'));
        if keep {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

struct Url {
    scheme: String,
    opaque: String,
    userinfo: String,
    host: String,
    path: String,
    query: String,
    fragment: String,
}

/// A subset of Go's `url.Parse` sufficient for Sprig's fields.
fn parse(raw: &str) -> Result<Url, String> {
    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, unescape(f)?),
        None => (raw, String::new()),
    };
    let mut u = Url {
        scheme: String::new(),
        opaque: String::new(),
        userinfo: String::new(),
        host: String::new(),
        path: String::new(),
        query: String::new(),
        fragment,
    };
    let mut rest = rest;
    if let Some(i) = rest.find(':') {
        let cand = &rest[..i];
        if !cand.is_empty()
            && cand.as_bytes()[0].is_ascii_alphabetic()
            && cand
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            u.scheme = cand.to_ascii_lowercase();
            rest = &rest[i + 1..];
        } else if i == 0 {
            return Err("missing protocol scheme".into());
        }
    }
    if let Some((r, q)) = rest.split_once('?') {
        u.query = q.to_owned();
        rest = r;
    }
    if !u.scheme.is_empty() && !rest.starts_with('/') {
        u.opaque = rest.to_owned();
        return Ok(u);
    }
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find('/').unwrap_or(after.len());
        let authority = &after[..end];
        rest = &after[end..];
        let host = match authority.rsplit_once('@') {
            Some((user, host)) => {
                u.userinfo = unescape(user)?;
                host
            }
            None => authority,
        };
        u.host = unescape(host)?;
    }
    u.path = unescape(rest)?;
    Ok(u)
}

fn hostname(host: &str) -> String {
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split(']').next().unwrap_or_default().to_owned();
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_owned(),
        _ => host.to_owned(),
    }
}

/// Go's `URL.String()`.
fn join(u: &Url) -> String {
    let mut out = String::new();
    if !u.scheme.is_empty() {
        out.push_str(&u.scheme);
        out.push(':');
    }
    if !u.opaque.is_empty() {
        out.push_str(&u.opaque);
    } else {
        if !u.scheme.is_empty() || !u.host.is_empty() || !u.userinfo.is_empty() {
            if !u.host.is_empty() || !u.path.is_empty() || !u.userinfo.is_empty() {
                out.push_str("//");
            }
            if !u.userinfo.is_empty() {
                out.push_str(&u.userinfo);
                out.push('@');
            }
            out.push_str(&u.host);
        }
        if !u.path.is_empty() && !u.path.starts_with('/') && !u.host.is_empty() {
            out.push('/');
        }
        out.push_str(&escape(&u.path, false));
    }
    if !u.query.is_empty() {
        out.push('?');
        out.push_str(&u.query);
    }
    if !u.fragment.is_empty() {
        out.push('#');
        out.push_str(&escape(&u.fragment, true));
    }
    out
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("urlParse", &[Ty::String], |a| {
        let u = parse(str_arg(a, 0))
            .map_err(|e| FuncError::new(format!("unable to parse url: {e}")))?;
        let m = Map::new();
        m.insert("scheme", Value::from(u.scheme.as_str()));
        m.insert("host", Value::from(u.host.as_str()));
        m.insert("hostname", Value::from(hostname(&u.host)));
        m.insert("path", Value::from(u.path.as_str()));
        m.insert("query", Value::from(u.query.as_str()));
        m.insert("opaque", Value::from(u.opaque.as_str()));
        m.insert("fragment", Value::from(u.fragment.as_str()));
        m.insert("userinfo", Value::from(u.userinfo.as_str()));
        Ok(Value::Map(m))
    });
    r.f("urlJoin", &[Ty::Map], |a| {
        let m = a[0].as_map().cloned().unwrap_or_default();
        let get = |k: &str| m.get(k).map(|v| super::strval(&v)).unwrap_or_default();
        let u = Url {
            scheme: get("scheme"),
            opaque: get("opaque"),
            userinfo: get("userinfo"),
            host: get("host"),
            path: get("path"),
            query: get("query"),
            fragment: get("fragment"),
        };
        Ok(Value::from(join(&u)))
    });
    r.f("getHostByName", &[Ty::String], |a| {
        use std::net::ToSocketAddrs;
        let addr = (str_arg(a, 0), 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| it.next())
            .map(|s| s.ip().to_string())
            .unwrap_or_default();
        Ok(Value::from(addr))
    });
    r.f("hello", &[], |_| Ok(Value::from("Hello!")));
}
