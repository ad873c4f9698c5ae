//! Semantic versions and version ranges, read exactly as Helm reads them — the one home of
//! these rules for chart fetching (`capstan-source`), chart loading and `kubeVersion` checks
//! (`capstan-helm`) and Sprig's `semver`/`semverCompare` (`capstan-gotmpl`).
//!
//! Helm (and Flux's source-controller) parse chart versions and `version:` ranges with
//! Masterminds/semver v3 (`NewVersion`, `NewConstraint`, `Constraints.Check`). Its rules differ
//! from Cargo's and npm's in places users notice — `1.2` is a valid version, `16.x.x` and `1.2.x`
//! are wildcards, `,` and spaces both mean AND, `1.2 - 1.4` is inclusive and `<= 1.4` admits
//! `1.4.9`, and a prerelease only matches when its AND group mentions one — so this crate
//! reimplements those semantics rather than using a generic semver crate. Helm 3.17 vendors
//! Masterminds v3.3 and Helm 4 v3.4; they differ in the prerelease rule and in the case of their
//! error messages ([`Compat`]). [`select`] adds Helm's resolution on top: an exact string match
//! wins, an empty range means "latest stable", otherwise the highest matching version.

use std::cmp::Ordering;
use std::fmt;

#[cfg(test)]
mod tests;

/// A version or range could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The text is not a (loose) semantic version.
    #[error("invalid semantic version {text:?}: {problem}")]
    ParseVersion {
        /// The rejected text.
        text: String,
        /// What is wrong with it.
        problem: VersionProblem,
    },
    /// The text is not a version range.
    #[error("improper constraint {text:?}: {reason}")]
    ParseConstraint {
        /// The rejected range (the `||` alternative that failed).
        text: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a version did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionProblem {
    /// No major version number.
    NoMajor,
    /// `-` with no prerelease identifier after it.
    EmptyPrerelease,
    /// `+` with no build metadata after it.
    EmptyMetadata,
    /// Characters after the version.
    Trailing,
    /// A major, minor or patch number (this text) larger than a u64.
    Overflow(String),
    /// A numeric prerelease identifier with a leading zero.
    LeadingZero,
}

impl fmt::Display for VersionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VersionProblem::NoMajor => "expected a major version number",
            VersionProblem::EmptyPrerelease => "empty prerelease identifier",
            VersionProblem::EmptyMetadata => "empty build metadata identifier",
            VersionProblem::Trailing => "unexpected characters",
            VersionProblem::Overflow(_) => "version segment does not fit in 64 bits",
            VersionProblem::LeadingZero => "numeric prerelease identifier has a leading zero",
        })
    }
}

impl Error {
    /// The message Masterminds/semver gives for this error (what Sprig's `semver` and
    /// `semverCompare` fail with): v3.3's capitalised texts for Helm 3, v3.4's lower-case ones
    /// for Helm 4.
    pub fn masterminds_message(&self, compat: Compat) -> String {
        let helm3 = compat == Compat::Helm3;
        match self {
            Error::ParseConstraint { text, .. } => format!("improper constraint: {text}"),
            Error::ParseVersion {
                problem: VersionProblem::Overflow(segment),
                ..
            } => format!(
                "{} parsing version segment: strconv.ParseUint: parsing \"{segment}\": value out of range",
                if helm3 { "Error" } else { "error" }
            ),
            Error::ParseVersion {
                problem: VersionProblem::LeadingZero,
                ..
            } => if helm3 {
                "Version segment starts with 0"
            } else {
                "version segment starts with 0"
            }
            .to_owned(),
            Error::ParseVersion { .. } => if helm3 {
                "Invalid Semantic Version"
            } else {
                "invalid semantic version"
            }
            .to_owned(),
        }
    }
}

/// A semantic version as Helm reads it: `v` prefix allowed, minor and patch optional
/// (`1.2` is `1.2.0`), prerelease and build metadata validated.
///
/// Ordering follows semver precedence; build metadata is ignored, so `1.0.0+a == 1.0.0+b`.
#[derive(Debug, Clone)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

impl Version {
    /// Parse a version the way Masterminds' `NewVersion` does (the loose form Helm uses).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |problem| Error::ParseVersion {
            text: text.to_owned(),
            problem,
        };
        let mut cur = Cursor::new(text);
        cur.eat('v');
        let major = cur.take_while(|c| c.is_ascii_digit());
        if major.is_empty() {
            return Err(bad(VersionProblem::NoMajor));
        }
        let mut minor = "";
        let mut patch = "";
        if cur.peek_is_dot_then(|c| c.is_ascii_digit()) {
            cur.bump();
            minor = cur.take_while(|c| c.is_ascii_digit());
            if cur.peek_is_dot_then(|c| c.is_ascii_digit()) {
                cur.bump();
                patch = cur.take_while(|c| c.is_ascii_digit());
            }
        }
        let pre = if cur.eat('-') {
            cur.take_identifiers()
                .ok_or_else(|| bad(VersionProblem::EmptyPrerelease))?
        } else {
            ""
        };
        let metadata = if cur.eat('+') {
            cur.take_identifiers()
                .ok_or_else(|| bad(VersionProblem::EmptyMetadata))?
        } else {
            ""
        };
        if !cur.rest().is_empty() {
            return Err(bad(VersionProblem::Trailing));
        }
        let number = |s: &str| -> Result<u64> {
            if s.is_empty() {
                return Ok(0);
            }
            s.parse::<u64>()
                .map_err(|_| bad(VersionProblem::Overflow(s.to_owned())))
        };
        // Masterminds converts the numbers first, then checks the prerelease.
        let (major, minor, patch) = (number(major)?, number(minor)?, number(patch)?);
        for part in pre.split('.').filter(|_| !pre.is_empty()) {
            if part.bytes().all(|b| b.is_ascii_digit()) && part.len() > 1 && part.starts_with('0') {
                return Err(bad(VersionProblem::LeadingZero));
            }
        }
        Ok(Version {
            major,
            minor,
            patch,
            pre: pre.to_owned(),
            metadata: metadata.to_owned(),
            original: text.to_owned(),
        })
    }

    /// Major version.
    pub fn major(&self) -> u64 {
        self.major
    }

    /// Minor version.
    pub fn minor(&self) -> u64 {
        self.minor
    }

    /// Patch version.
    pub fn patch(&self) -> u64 {
        self.patch
    }

    /// Prerelease identifiers without the leading `-` (empty for a release).
    pub fn prerelease(&self) -> &str {
        &self.pre
    }

    /// Build metadata without the leading `+` (empty when absent).
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// The text this version was parsed from (`v1.2` stays `v1.2`).
    pub fn original(&self) -> &str {
        &self.original
    }

    fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Version {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Version::parse(s)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &other.pre),
            })
    }
}

/// Semver precedence of two non-empty prerelease strings: identifier by identifier, numbers
/// numerically and below words, words byte-wise, a shorter list first when it is a prefix.
fn compare_prerelease(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (numeric(x), numeric(y)) {
                    (Some(n), Some(m)) => n.cmp(&m),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => x.as_bytes().cmp(y.as_bytes()),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// An identifier counts as a number when it is all digits and fits in a u64 (like Go's
/// `strconv.ParseUint`, which Masterminds uses).
fn numeric(identifier: &str) -> Option<u64> {
    if identifier.is_empty() || !identifier.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    identifier.parse().ok()
}

/// Which Masterminds/semver release's prerelease rule to follow. They differ in one place:
/// whether a prerelease version may match an AND group when only *some* of the group's
/// comparisons name a prerelease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// Masterminds v3.4 (Helm 4, current Flux): a prerelease in any comparison of an AND group
    /// lets prereleases match the whole group, so `>=1.0.0-0 <2` admits `1.5.0-beta`.
    #[default]
    Helm4,
    /// Masterminds v3.3 (Helm 3.17): each comparison admits prereleases only when it names one
    /// itself, so `>=1.0.0-0 <2` rejects `1.5.0-beta` (the `<2` refuses it) — except a `!=`
    /// without wildcards, which compares by equality alone (`!=1.0.0` admits `1.1.0-beta`).
    Helm3,
}

impl Compat {
    /// The Masterminds release a Helm major version vendors (`3` or `4`; anything else is
    /// taken as the current one, 4).
    pub fn for_helm_major(major: u32) -> Compat {
        if major == 3 {
            Compat::Helm3
        } else {
            Compat::Helm4
        }
    }
}

/// A version range: alternatives (`||`) of AND groups of single comparisons.
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<Group>,
    text: String,
}

#[derive(Debug, Clone)]
struct Group {
    items: Vec<Constraint>,
    /// Some comparison in the group names a prerelease, so prereleases may match the group.
    has_prerelease: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=` or no operator: equality, or a tilde range when a part is a wildcard.
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

#[derive(Debug, Clone)]
struct Constraint {
    op: Op,
    version: Version,
    /// Some part (major, minor or patch) was missing or a wildcard.
    dirty: bool,
    minor_dirty: bool,
    patch_dirty: bool,
}

impl Constraints {
    /// Parse a range the way Masterminds' `NewConstraint` does. The empty string is rejected,
    /// as there; [`select`] treats an empty range as `*`.
    pub fn parse(text: &str) -> Result<Self> {
        let groups = text
            .split("||")
            .map(parse_group)
            .collect::<Result<Vec<_>>>()?;
        Ok(Constraints {
            groups,
            text: text.to_owned(),
        })
    }

    /// Whether `version` satisfies the range (Masterminds' `Constraints.Check`, v3.4 rules).
    pub fn matches(&self, version: &Version) -> bool {
        self.matches_as(version, Compat::Helm4)
    }

    /// Whether `version` satisfies the range under the given release's prerelease rule.
    pub fn matches_as(&self, version: &Version, compat: Compat) -> bool {
        self.groups.iter().any(|group| {
            group.items.iter().all(|c| {
                let include_prerelease = match compat {
                    Compat::Helm4 => group.has_prerelease,
                    Compat::Helm3 => {
                        c.version.is_prerelease() || (c.op == Op::NotEqual && !c.dirty)
                    }
                };
                c.check(version, include_prerelease)
            })
        })
    }

    /// The text the range was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Constraints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Constraints {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Constraints::parse(s)
    }
}

/// Pick the version Helm would pick for `range` among `candidates` (chart versions from an
/// `index.yaml`, or OCI tags with `_` already mapped back to `+`).
///
/// - An empty range means `*`: the highest release, never a prerelease.
/// - A candidate whose text equals the range exactly wins (so `1.0.0-rc.1` or even a
///   non-semver tag can be pinned).
/// - Otherwise the highest candidate that parses and matches; candidates that are not
///   versions are skipped. Returns `Ok(None)` when nothing matches.
pub fn select<'a>(
    range: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Result<Option<&'a str>> {
    select_as(range, candidates, Compat::Helm4)
}

/// [`select`] under the given release's prerelease rule.
pub fn select_as<'a>(
    range: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    compat: Compat,
) -> Result<Option<&'a str>> {
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    let range = range.trim();
    if !range.is_empty()
        && let Some(exact) = candidates.iter().find(|c| **c == range)
    {
        return Ok(Some(exact));
    }
    let constraints = Constraints::parse(if range.is_empty() { "*" } else { range })?;
    let mut best: Option<(Version, &'a str)> = None;
    for candidate in candidates {
        let Ok(version) = Version::parse(candidate) else {
            continue;
        };
        if !constraints.matches_as(&version, compat) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| version > *b) {
            best = Some((version, candidate));
        }
    }
    Ok(best.map(|(_, text)| text))
}

/// Helm's `chartutil.IsCompatibleRange`: whether `version` parses and satisfies `range` under
/// `compat`'s rules (`false` when either does not parse). Used for `kubeVersion` and for
/// matching `dependencies[].version` to the charts in `charts/`.
pub fn is_compatible_range(range: &str, version: &str, compat: Compat) -> bool {
    let Ok(version) = Version::parse(version) else {
        return false;
    };
    Constraints::parse(range).is_ok_and(|c| c.matches_as(&version, compat))
}

/// Sort version strings highest first, the way Helm orders an index (`SortEntries`):
/// unparsable strings go last, in their original order.
pub fn sort_descending(versions: &mut [String]) {
    versions.sort_by(|a, b| match (Version::parse(a), Version::parse(b)) {
        (Ok(x), Ok(y)) => y.cmp(&x),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => Ordering::Equal,
    });
}

fn parse_group(text: &str) -> Result<Group> {
    let bad = |reason: &str| Error::ParseConstraint {
        text: text.to_owned(),
        reason: reason.to_owned(),
    };
    let mut cur = Cursor::new(text);
    let mut items = Vec::new();
    cur.skip_space();
    loop {
        let op = cur.take_operator();
        cur.skip_space();
        let first = cur.take_constraint_version().ok_or_else(|| {
            if cur.rest().is_empty() {
                bad("expected a version")
            } else {
                bad(&format!("unexpected {:?}", cur.rest()))
            }
        })?;
        // `A - B` (spaces required around the dash) is the inclusive range `>= A, <= B`.
        let range_end = if op.is_none() {
            let save = cur.pos;
            let spaced_before = cur.skip_space() > 0;
            if spaced_before && cur.eat('-') && cur.skip_space() > 0 {
                cur.take_constraint_version()
            } else {
                cur.pos = save;
                None
            }
        } else {
            None
        };
        match range_end {
            Some(last) => {
                items.push(make_constraint(Op::GreaterEqual, first).map_err(|r| bad(&r))?);
                items.push(make_constraint(Op::LessEqual, last).map_err(|r| bad(&r))?);
            }
            None => {
                let op = op.unwrap_or(Op::TildeOrEqual);
                items.push(make_constraint(op, first).map_err(|r| bad(&r))?);
            }
        }
        // Separator: whitespace, or a comma with optional whitespace around it.
        let spaces = cur.skip_space();
        if cur.rest().is_empty() {
            break;
        }
        let comma = cur.eat(',');
        if comma {
            cur.skip_space();
        }
        if spaces == 0 && !comma {
            return Err(bad(&format!("unexpected {:?}", cur.rest())));
        }
    }
    let has_prerelease = items.iter().any(|c| c.version.is_prerelease());
    Ok(Group {
        items,
        has_prerelease,
    })
}

/// The pieces of a version as written inside a range, before wildcards are resolved.
struct RawVersion<'a> {
    text: &'a str,
    major: &'a str,
    minor: Option<&'a str>,
    patch: Option<&'a str>,
    pre: Option<&'a str>,
}

fn is_wildcard(part: &str) -> bool {
    matches!(part, "x" | "X" | "*")
}

fn make_constraint(op: Op, raw: RawVersion<'_>) -> Result<Constraint, String> {
    let pre = raw.pre.map(|p| format!("-{p}")).unwrap_or_default();
    let (text, dirty, minor_dirty, patch_dirty) = if is_wildcard(raw.major) {
        (format!("0.0.0{pre}"), true, false, false)
    } else if raw.minor.is_none_or(is_wildcard) {
        (format!("{}.0.0{pre}", raw.major), true, true, false)
    } else if raw.patch.is_none_or(is_wildcard) {
        let minor = raw.minor.unwrap_or("0");
        (format!("{}.{minor}.0{pre}", raw.major), true, false, true)
    } else {
        (raw.text.to_owned(), false, false, false)
    };
    let version = Version::parse(&text).map_err(|e| e.to_string())?;
    Ok(Constraint {
        op,
        version,
        dirty,
        minor_dirty,
        patch_dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version, include_prerelease: bool) -> bool {
        if v.is_prerelease() && !include_prerelease {
            return false;
        }
        let c = &self.version;
        match self.op {
            Op::TildeOrEqual if self.dirty => self.tilde(v),
            Op::TildeOrEqual => v == c,
            Op::Tilde => self.tilde(v),
            Op::NotEqual => self.not_equal(v),
            Op::Greater => self.greater(v),
            Op::Less => v < c,
            Op::GreaterEqual => v >= c,
            Op::LessEqual => self.less_equal(v),
            Op::Caret => self.caret(v),
        }
    }

    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        // `~0.0.0` (and `*`, which is `0.0.0` without minor/patch wildcards) accepts anything.
        if (c.major, c.minor, c.patch) == (0, 0, 0) && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == c.major && (self.minor_dirty || v.minor == c.minor)
    }

    fn not_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if self.dirty {
            if c.major != v.major {
                return true;
            }
            if self.minor_dirty {
                return false;
            }
            if c.minor != v.minor {
                return true;
            }
            if self.patch_dirty {
                if v.is_prerelease() || c.is_prerelease() {
                    return compare_prerelease_or_empty(&v.pre, &c.pre) != Ordering::Equal;
                }
                return false;
            }
        }
        v != c
    }

    fn greater(&self, v: &Version) -> bool {
        let c = &self.version;
        if !self.dirty {
            return v > c;
        }
        match v.major.cmp(&c.major) {
            Ordering::Greater => true,
            Ordering::Less => false,
            // `>1` (or `>1.x`) needs 2.0.0 or higher.
            Ordering::Equal if self.minor_dirty => false,
            // `>1.2` needs 1.3.0 or higher.
            Ordering::Equal if self.patch_dirty => v.minor > c.minor,
            Ordering::Equal => v > c,
        }
    }

    fn less_equal(&self, v: &Version) -> bool {
        let c = &self.version;
        if !self.dirty {
            return v <= c;
        }
        // `<=1.4` admits every 1.4.x; `<=1` every 1.x.y.
        if v.major > c.major {
            return false;
        }
        !(v.major == c.major && v.minor > c.minor && !self.minor_dirty)
    }

    fn caret(&self, v: &Version) -> bool {
        let c = &self.version;
        if v < c {
            return false;
        }
        if c.major > 0 || self.minor_dirty {
            return v.major == c.major;
        }
        // Major 0 from here on (note: `^*` therefore only admits 0.x.y, as in Masterminds).
        if v.major > 0 {
            return false;
        }
        if c.minor > 0 || self.patch_dirty {
            return v.minor == c.minor;
        }
        if v.minor > 0 {
            return false;
        }
        v.patch == c.patch
    }
}

/// Masterminds' `comparePrerelease` used on possibly empty strings by `!=` with a patch
/// wildcard: an empty side sorts first.
fn compare_prerelease_or_empty(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => compare_prerelease(a, b),
    }
}

/// A byte cursor for the two small grammars above.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos += 1;
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c as u8) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn peek_is_dot_then(&self, f: impl Fn(u8) -> bool) -> bool {
        let bytes = self.text.as_bytes();
        bytes.get(self.pos) == Some(&b'.') && bytes.get(self.pos + 1).copied().is_some_and(f)
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// Go's `\s`: space, tab, newline, form feed, carriage return. Returns how many were skipped.
    fn skip_space(&mut self) -> usize {
        self.take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r'))
            .len()
    }

    /// Dot-separated non-empty identifiers of `[0-9A-Za-z-]`; `None` when the first is empty.
    /// Stops before a dot that is not followed by an identifier character.
    fn take_identifiers(&mut self) -> Option<&'a str> {
        let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
        let start = self.pos;
        if self.take_while(ident).is_empty() {
            return None;
        }
        while self.peek_is_dot_then(ident) {
            self.bump();
            self.take_while(ident);
        }
        Some(&self.text[start..self.pos])
    }

    /// A comparison operator, longest match first; `None` when there is none.
    fn take_operator(&mut self) -> Option<Op> {
        const OPS: [(&str, Op); 11] = [
            ("!=", Op::NotEqual),
            (">=", Op::GreaterEqual),
            ("=>", Op::GreaterEqual),
            ("<=", Op::LessEqual),
            ("=<", Op::LessEqual),
            ("~>", Op::Tilde),
            ("=", Op::TildeOrEqual),
            (">", Op::Greater),
            ("<", Op::Less),
            ("~", Op::Tilde),
            ("^", Op::Caret),
        ];
        let rest = self.rest();
        let (token, op) = OPS.iter().find(|(token, _)| rest.starts_with(token))?;
        self.pos += token.len();
        Some(*op)
    }

    /// A version inside a range: parts may be `x`, `X` or `*`, minor and patch optional.
    fn take_constraint_version(&mut self) -> Option<RawVersion<'a>> {
        // Masterminds' character class for a part is `[0-9|x|X|\*]`, which includes `|`.
        let part = |b: u8| b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*' | b'|');
        let start = self.pos;
        self.eat('v');
        let major = self.take_while(part);
        if major.is_empty() {
            self.pos = start;
            return None;
        }
        let mut minor = None;
        let mut patch = None;
        if self.peek_is_dot_then(part) {
            self.bump();
            minor = Some(self.take_while(part));
            if self.peek_is_dot_then(part) {
                self.bump();
                patch = Some(self.take_while(part));
            }
        }
        let mut pre = None;
        let save = self.pos;
        if self.eat('-') {
            pre = self.take_identifiers();
            if pre.is_none() {
                self.pos = save;
            }
        }
        let save = self.pos;
        if self.eat('+') && self.take_identifiers().is_none() {
            self.pos = save;
        }
        Some(RawVersion {
            text: &self.text[start..self.pos],
            major,
            minor,
            patch,
            pre,
        })
    }
}
