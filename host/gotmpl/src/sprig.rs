//! The pure Sprig function library (strings, lists, dicts, math, regex, semver, encoding, dates,
//! randomness and crypto) as Helm exposes it, registered by [`sprig_funcs`]. Signatures mirror the
//! Go functions' parameter types so argument errors read as Go's do; conversions follow
//! `spf13/cast` as Sprig uses it.

mod conv;
mod crypto;
mod date;
mod dicts;
mod encoding;
mod lists;
mod math;
mod regex;
mod semver;
mod strings;
mod url;

use crate::func::{FuncMap, FuncResult, Signature, Ty};
use crate::value::Value;

pub use conv::{empty, strval, to_float64, to_int64};
pub use crypto::generate_rsa_key;
pub use date::{GoTime, Location};
pub use encoding::b64_encode;

/// Shorthands for registering functions with Go-like signatures.
pub(crate) struct Reg<'a>(pub(crate) &'a mut FuncMap);

impl Reg<'_> {
    pub(crate) fn f(
        &mut self,
        name: &str,
        params: &[Ty],
        f: impl Fn(&[Value]) -> FuncResult + Send + Sync + 'static,
    ) {
        self.0.register(name, Signature::new(params), f);
    }

    pub(crate) fn v(
        &mut self,
        name: &str,
        params: &[Ty],
        rest: Ty,
        f: impl Fn(&[Value]) -> FuncResult + Send + Sync + 'static,
    ) {
        self.0.register(name, Signature::variadic(params, rest), f);
    }

    /// A `func(string) string`.
    pub(crate) fn s2s(&mut self, name: &str, f: impl Fn(&str) -> String + Send + Sync + 'static) {
        self.f(name, &[Ty::String], move |a| {
            Ok(Value::from(f(str_arg(a, 0))))
        });
    }
}

/// The string argument at `i` (already converted by the engine).
pub(crate) fn str_arg(args: &[Value], i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or_default()
}

/// The int argument at `i` (already converted by the engine).
pub(crate) fn int_arg(args: &[Value], i: usize) -> i64 {
    args.get(i).and_then(Value::as_int).unwrap_or_default()
}

/// All Sprig functions Helm exposes, except the Helm-specific ones the host adds itself
/// (`include`, `tpl`, `required`, `toYaml`, `fromYaml`, `toJson`, `fromJson`, `toToml`,
/// `lookup`) and the environment readers Helm removes (`env`, `expandenv`).
/// Its semver functions follow Masterminds/semver v3.3, the release Sprig 3.3 and Helm 3.17
/// vendor; [`sprig_funcs_with`] chooses another.
pub fn sprig_funcs() -> FuncMap {
    sprig_funcs_with(capstan_semver::Compat::Helm3)
}

/// [`sprig_funcs`] with `semver` and `semverCompare` following the given Masterminds/semver
/// release (Helm 4 vendors v3.4).
pub fn sprig_funcs_with(semver: capstan_semver::Compat) -> FuncMap {
    let mut m = FuncMap::new();
    let mut r = Reg(&mut m);
    strings::register(&mut r);
    conv::register(&mut r);
    math::register(&mut r);
    lists::register(&mut r);
    dicts::register(&mut r);
    regex::register(&mut r);
    semver::register(&mut r, semver);
    encoding::register(&mut r);
    encoding::register_json(&mut r);
    url::register(&mut r);
    date::register(&mut r);
    crypto::register(&mut r);
    m
}
