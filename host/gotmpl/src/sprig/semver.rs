//! Sprig's `semver` and `semverCompare` over `capstan-semver`, the one home of Masterminds/semver's
//! rules: Sprig as Helm 3 vendors it uses v3.3 (a prerelease matches a comparison only when that
//! comparison names one; capitalised errors), Helm 4 uses v3.4 (the AND group decides; lower-case
//! errors).

use capstan_semver::{Compat, Constraints};

use super::{Reg, str_arg};
use crate::error::FuncError;
use crate::func::Ty;
use crate::func::{CallContext, FuncResult, Signature};
use crate::value::{Object, Value};

/// A `*semver.Version` in templates.
#[derive(Clone, Debug)]
struct Version(capstan_semver::Version);

/// `semver.NewVersion`.
fn parse_version(text: &str, compat: Compat) -> Result<capstan_semver::Version, FuncError> {
    capstan_semver::Version::parse(text).map_err(|e| FuncError::new(e.masterminds_message(compat)))
}

/// Sprig's `semverCompare`: the constraint is parsed first, then the version.
fn semver_compare(constraint: &str, version: &str, compat: Compat) -> Result<bool, FuncError> {
    let constraints = Constraints::parse(constraint)
        .map_err(|e| FuncError::new(e.masterminds_message(compat)))?;
    let version = parse_version(version, compat)?;
    Ok(constraints.matches_as(&version, compat))
}

pub(super) fn register(r: &mut Reg<'_>, compat: Compat) {
    r.f("semver", &[Ty::String], move |a| {
        Ok(Value::object(Version(parse_version(
            str_arg(a, 0),
            compat,
        )?)))
    });
    r.f("semverCompare", &[Ty::String, Ty::String], move |a| {
        Ok(Value::Bool(semver_compare(
            str_arg(a, 0),
            str_arg(a, 1),
            compat,
        )?))
    });
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
        let v = &self.0;
        // Go's uint64 results; a version segment above i64::MAX is not a chart's.
        let number = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        Ok(match name {
            "Major" => number(v.major()),
            "Minor" => number(v.minor()),
            "Patch" => number(v.patch()),
            "Prerelease" => Value::from(v.prerelease()),
            "Metadata" => Value::from(v.metadata()),
            "Original" => Value::from(v.original()),
            _ => Value::from(v.to_string()),
        })
    }

    fn format_go(&self, out: &mut String) {
        out.push_str(&self.0.to_string());
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.0.to_string())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
