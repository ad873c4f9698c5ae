//! Masterminds/semver v3 as Sprig exposes it: lenient version parsing (`v1`, `1.2`, pre-release
//! and metadata) and constraint checking (`>= < ~ ^ != =`, wildcards, hyphen ranges, `||`, and the
//! rule that pre-release versions only satisfy constraints that mention a pre-release).

use std::cmp::Ordering;

use super::{Reg, str_arg};
use crate::error::FuncError;
use crate::func::Ty;
use crate::func::{CallContext, FuncResult, Signature};
use crate::value::{Object, Value};

#[derive(Clone, Debug)]
pub(crate) struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
    original: String,
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

impl Version {
    /// `semver.NewVersion`.
    pub(crate) fn parse(s: &str) -> Result<Version, FuncError> {
        let invalid = || FuncError::new("Invalid Semantic Version");
        let body = s.strip_prefix('v').unwrap_or(s);
        let (body, meta) = match body.split_once('+') {
            Some((b, m)) => {
                if !is_ident(m) {
                    return Err(invalid());
                }
                (b, m.to_owned())
            }
            None => (body, String::new()),
        };
        let (core, pre) = match body.split_once('-') {
            Some((c, p)) => {
                if !is_ident(p) {
                    return Err(invalid());
                }
                (c, p.to_owned())
            }
            None => (body, String::new()),
        };
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return Err(invalid());
        }
        let mut nums = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            nums[i] = p.parse().map_err(|_| invalid())?;
        }
        Ok(Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre,
            meta,
            original: s.to_owned(),
        })
    }

    fn compare(&self, o: &Version) -> Ordering {
        let c = (self.major, self.minor, self.patch).cmp(&(o.major, o.minor, o.patch));
        if c != Ordering::Equal {
            return c;
        }
        compare_pre(&self.pre, &o.pre)
    }
}

fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let (pa, pb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..pa.len().max(pb.len()) {
        let (Some(x), Some(y)) = (pa.get(i), pb.get(i)) else {
            return pa.len().cmp(&pb.len());
        };
        let c = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(n), Ok(m)) => n.cmp(&m),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            _ => x.cmp(y),
        };
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Tilde,
    Caret,
}

#[derive(Debug)]
struct Constraint {
    op: Op,
    v: Version,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_wild(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn parse_constraint(s: &str) -> Result<Constraint, FuncError> {
    let s = s.trim();
    let ops: [(&str, Op); 12] = [
        (">=", Op::Ge),
        ("=>", Op::Ge),
        ("<=", Op::Le),
        ("=<", Op::Le),
        ("!=", Op::Ne),
        ("~>", Op::Tilde),
        (">", Op::Gt),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("~", Op::Tilde),
        ("^", Op::Caret),
        ("", Op::Eq),
    ];
    let (op, rest) = ops
        .iter()
        .find_map(|(p, op)| s.strip_prefix(p).map(|r| (*op, r.trim())))
        .unwrap_or((Op::Eq, s));
    let bad = || FuncError::new(format!("improper constraint: {s}"));
    let rest = if rest.is_empty() { "*" } else { rest };
    let no_v = rest.strip_prefix('v').unwrap_or(rest);
    let (core, tail) = match no_v.find(['-', '+']) {
        Some(i) => (&no_v[..i], &no_v[i..]),
        None => (no_v, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let mut minor_dirty = false;
    let mut patch_dirty = false;
    let mut dirty = false;
    let mut nums = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if is_wild(p) {
            dirty = true;
            if i < 2 {
                minor_dirty = true;
                patch_dirty = true;
            } else {
                patch_dirty = true;
            }
            nums.push("0");
        } else {
            nums.push(p);
        }
    }
    if parts.len() < 3 {
        // Missing parts are wildcards for range semantics.
        if parts.len() == 1 {
            minor_dirty = true;
        }
        patch_dirty = true;
        dirty = true;
    }
    while nums.len() < 3 {
        nums.push("0");
    }
    let text = format!("{}.{}.{}{}", nums[0], nums[1], nums[2], tail);
    let v = Version::parse(&text).map_err(|_| bad())?;
    Ok(Constraint {
        op,
        v,
        minor_dirty,
        patch_dirty,
        dirty: dirty && !is_wild(parts[0]) || is_wild(parts[0]),
    })
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        // Pre-release versions only satisfy constraints that mention a pre-release — except a
        // plain `!=`, which Masterminds checks by equality alone.
        let plain_ne = self.op == Op::Ne && !self.dirty;
        if !v.pre.is_empty() && self.v.pre.is_empty() && !plain_ne {
            return false;
        }
        let c = &self.v;
        match self.op {
            Op::Eq => {
                if self.dirty {
                    if self.minor_dirty
                        && self.patch_dirty
                        && c.major == 0
                        && c.minor == 0
                        && c.patch == 0
                        && self.is_star()
                    {
                        return true;
                    }
                    if v.major != c.major {
                        return false;
                    }
                    if !self.minor_dirty && v.minor != c.minor {
                        return false;
                    }
                    return true;
                }
                v.compare(c) == Ordering::Equal
            }
            Op::Ne => {
                let eq = Constraint {
                    op: Op::Eq,
                    v: c.clone(),
                    ..*self
                };
                !eq.check(v)
            }
            Op::Gt => {
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                if self.patch_dirty {
                    return v.minor > c.minor;
                }
                v.compare(c) == Ordering::Greater
            }
            Op::Lt => v.compare(c) == Ordering::Less,
            Op::Ge => v.compare(c) != Ordering::Less,
            Op::Le => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major < c.major;
                }
                if self.minor_dirty {
                    return true;
                }
                if v.minor != c.minor {
                    return v.minor < c.minor;
                }
                true
            }
            Op::Tilde => {
                if v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major == 0 && c.minor == 0 && c.patch == 0 && self.is_star() {
                    return true;
                }
                if v.major != c.major {
                    return false;
                }
                if v.minor != c.minor && !self.minor_dirty {
                    return false;
                }
                true
            }
            Op::Caret => {
                if v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.minor_dirty {
                    return self.minor_dirty || v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                self.patch_dirty || v.patch == c.patch
            }
        }
    }

    fn is_star(&self) -> bool {
        self.minor_dirty && self.patch_dirty
    }
}

/// Whether `version` satisfies `constraint` (`semverCompare`).
pub(crate) fn semver_compare(constraint: &str, version: &str) -> Result<bool, FuncError> {
    let groups = parse_constraints(constraint)?;
    let v = Version::parse(version)?;
    Ok(groups.iter().any(|g| g.iter().all(|c| c.check(&v))))
}

fn parse_constraints(s: &str) -> Result<Vec<Vec<Constraint>>, FuncError> {
    let mut groups = Vec::new();
    for raw in s.split("||") {
        let or = raw.trim();
        // Hyphen ranges "a - b".
        // Masterminds reports the whole `||` group it could not parse.
        let improper = |_| FuncError::new(format!("improper constraint: {raw}"));
        if let Some((lo, hi)) = or.split_once(" - ") {
            let mut lo_c = parse_constraint(lo).map_err(improper)?;
            lo_c.op = Op::Ge;
            let mut hi_c = parse_constraint(hi).map_err(improper)?;
            hi_c.op = Op::Le;
            groups.push(vec![lo_c, hi_c]);
            continue;
        }
        // Glue operators to their versions ("> 1.2" → ">1.2"), then split on spaces/commas.
        let mut tokens: Vec<String> = Vec::new();
        let mut pending = String::new();
        for t in or.split([' ', ',']).filter(|t| !t.is_empty()) {
            if t.chars().all(|c| "<>=!~^".contains(c)) {
                pending.push_str(t);
                continue;
            }
            tokens.push(format!("{pending}{t}"));
            pending.clear();
        }
        if tokens.is_empty() {
            return Err(FuncError::new(format!("improper constraint: {s}")));
        }
        let group = tokens
            .iter()
            .map(|t| parse_constraint(t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(improper)?;
        groups.push(group);
    }
    Ok(groups)
}

pub(super) fn register(r: &mut Reg<'_>) {
    r.f("semver", &[Ty::String], |a| {
        Ok(Value::object(Version::parse(str_arg(a, 0))?))
    });
    r.f("semverCompare", &[Ty::String, Ty::String], |a| {
        Ok(Value::Bool(semver_compare(str_arg(a, 0), str_arg(a, 1))?))
    });
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.meta.is_empty() {
            write!(f, "+{}", self.meta)?;
        }
        Ok(())
    }
}

/// `*semver.Version` in templates: methods `Major`, `Minor`, `Patch`, `Prerelease`, `Metadata`,
/// `Original`, `String`; prints as its `String()`.
impl Object for Version {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }

    fn method(&self, name: &str) -> Option<Signature> {
        matches!(
            name,
            "Major" | "Minor" | "Patch" | "Prerelease" | "Metadata" | "Original" | "String"
        )
        .then(|| Signature::new(&[]))
    }

    fn call_method(&self, name: &str, _args: &[Value], _cx: &mut CallContext<'_>) -> FuncResult {
        Ok(match name {
            "Major" => Value::Int(self.major as i64),
            "Minor" => Value::Int(self.minor as i64),
            "Patch" => Value::Int(self.patch as i64),
            "Prerelease" => Value::from(self.pre.as_str()),
            "Metadata" => Value::from(self.meta.as_str()),
            "Original" => Value::from(self.original.as_str()),
            _ => Value::from(self.to_string()),
        })
    }

    fn format_go(&self, out: &mut String) {
        out.push_str(&self.to_string());
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.to_string())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
