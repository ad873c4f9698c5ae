//! The subset of Masterminds/semver that Helm relies on: lenient version parsing and range
//! constraints, used for `dependencies[].version` and `kubeVersion` checks.

use std::cmp::Ordering;

/// A semantic version (`v` prefix and missing minor/patch allowed, as Masterminds allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    /// Major.
    pub(crate) major: u64,
    /// Minor.
    pub(crate) minor: u64,
    /// Patch.
    pub(crate) patch: u64,
    /// Pre-release identifiers (after `-`), empty for a release.
    pub(crate) pre: String,
}

impl Version {
    /// Parses `v1.2.3-pre+meta`, `1.2`, `1`.
    pub(crate) fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let s = s.split('+').next().unwrap_or(s);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, p.to_owned()),
            None => (s, String::new()),
        };
        let mut parts = core.split('.');
        let num = |p: Option<&str>| -> Option<u64> {
            match p {
                None => Some(0),
                Some(x) if !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()) => x.parse().ok(),
                Some(_) => None,
            }
        };
        let major = num(Some(parts.next()?))?;
        let minor = num(parts.next())?;
        let patch = num(parts.next())?;
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    fn cmp_pre(a: &str, b: &str) -> Ordering {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let (mut ai, mut bi) = (a.split('.'), b.split('.'));
                loop {
                    match (ai.next(), bi.next()) {
                        (None, None) => return Ordering::Equal,
                        (None, Some(_)) => return Ordering::Less,
                        (Some(_), None) => return Ordering::Greater,
                        (Some(x), Some(y)) => {
                            let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                                (Ok(p), Ok(q)) => p.cmp(&q),
                                (Ok(_), Err(_)) => Ordering::Less,
                                (Err(_), Ok(_)) => Ordering::Greater,
                                _ => x.cmp(y),
                            };
                            if o != Ordering::Equal {
                                return o;
                            }
                        }
                    }
                }
            }
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| Version::cmp_pre(&self.pre, &o.pre))
    }
}

/// One comparison of a constraint, with wildcard parts recorded.
struct Cmp {
    op: String,
    v: Version,
    /// How many leading components were given (1 = `1.x`, 2 = `1.2.x`, 3 = full).
    given: u8,
    has_pre: bool,
}

fn parse_cmp(s: &str) -> Option<Cmp> {
    let s = s.trim();
    let op_len = s
        .find(|c: char| c.is_ascii_alphanumeric() || c == '*')
        .unwrap_or(s.len());
    let op = s[..op_len].trim().to_owned();
    let rest = s[op_len..].trim();
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    if rest.is_empty() || rest == "*" || rest == "x" || rest == "X" {
        return Some(Cmp {
            op,
            v: Version::parse("0.0.0")?,
            given: 0,
            has_pre: false,
        });
    }
    let core_end = rest.find(['-', '+']).unwrap_or(rest.len());
    let parts: Vec<&str> = rest[..core_end].split('.').collect();
    let mut given = 0u8;
    let mut nums = [0u64; 3];
    for (i, p) in parts.iter().enumerate().take(3) {
        if matches!(*p, "x" | "X" | "*") {
            break;
        }
        nums[i] = p.parse().ok()?;
        given += 1;
    }
    let pre = rest[core_end..]
        .strip_prefix('-')
        .map(|p| p.split('+').next().unwrap_or(p));
    Some(Cmp {
        op,
        v: Version {
            major: nums[0],
            minor: nums[1],
            patch: nums[2],
            pre: pre.unwrap_or("").to_owned(),
        },
        given,
        has_pre: pre.is_some(),
    })
}

fn check(c: &Cmp, v: &Version) -> bool {
    if !v.pre.is_empty() && !c.has_pre {
        return false;
    }
    let base = &c.v;
    let upper = |bump: u8| -> Version {
        let mut u = base.clone();
        u.pre.clear();
        match bump {
            0 => {
                u.major += 1;
                u.minor = 0;
                u.patch = 0;
            }
            1 => {
                u.minor += 1;
                u.patch = 0;
            }
            _ => u.patch += 1,
        }
        u
    };
    match c.op.as_str() {
        "" | "=" | "==" => match c.given {
            0 => true,
            1 => v.major == base.major,
            2 => v.major == base.major && v.minor == base.minor,
            _ => v == base || (v.cmp(base) == Ordering::Equal),
        },
        "!=" => v != base,
        ">" => match c.given {
            0 => false,
            1 => v.major > base.major,
            2 => v >= &upper(1),
            _ => v > base,
        },
        ">=" | "=>" => v >= base,
        "<" => v < base,
        "<=" | "=<" => match c.given {
            0 | 3 => c.given == 0 || v <= base,
            1 => v < &upper(0),
            _ => v < &upper(1),
        },
        "~" | "~>" => {
            let hi = if c.given <= 1 { upper(0) } else { upper(1) };
            v >= base && v < &hi
        }
        "^" => {
            let hi = if base.major > 0 || c.given <= 1 {
                upper(0)
            } else if base.minor > 0 || c.given == 2 {
                upper(1)
            } else {
                upper(2)
            };
            v >= base && v < &hi
        }
        _ => false,
    }
}

/// Whether `version` satisfies the Masterminds constraint string `constraint` (`||` of
/// comma/space-separated ANDs, hyphen ranges, `~`, `^`, wildcards). An unparsable constraint or
/// version yields `None`.
pub(crate) fn satisfies(constraint: &str, version: &str) -> Option<bool> {
    let v = Version::parse(version)?;
    let mut any = false;
    for alt in constraint.split("||") {
        let alt = alt.trim();
        let mut ok = true;
        // Hyphen ranges: `a - b`.
        let tokens: Vec<String> = if let Some((lo, hi)) = alt.split_once(" - ") {
            vec![format!(">={}", lo.trim()), format!("<={}", hi.trim())]
        } else {
            let mut toks = Vec::new();
            let mut pending_op = String::new();
            for t in alt.split([',', ' ']).filter(|t| !t.is_empty()) {
                if t.chars().all(|c| "<>=!~^".contains(c)) {
                    pending_op.push_str(t);
                } else {
                    toks.push(format!("{pending_op}{t}"));
                    pending_op.clear();
                }
            }
            toks
        };
        for t in &tokens {
            let c = parse_cmp(t)?;
            if !check(&c, &v) {
                ok = false;
            }
        }
        if ok {
            any = true;
        }
    }
    Some(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints() {
        assert_eq!(satisfies(">=1.19.0-0", "v1.32.0"), Some(true));
        assert_eq!(satisfies("<1.19.0", "v1.32.0"), Some(false));
        assert_eq!(satisfies("~1.2.0", "1.2.9"), Some(true));
        assert_eq!(satisfies("^1.2.0", "2.0.0"), Some(false));
        assert_eq!(satisfies("1.x", "1.9.0"), Some(true));
        assert_eq!(satisfies("*", "0.1.0"), Some(true));
        assert_eq!(satisfies(">=1.0.0, <2.0.0", "1.5.0"), Some(true));
        assert_eq!(satisfies("1.0.0 - 1.5.0", "1.6.0"), Some(false));
        assert_eq!(satisfies("0.1.0", "0.1.0"), Some(true));
    }
}
