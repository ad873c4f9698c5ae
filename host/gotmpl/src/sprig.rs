//! The pure Sprig function library (strings, lists, dicts, math, regex, semver, encoding, dates,
//! randomness and crypto) as used by Helm, registered by [`sprig_funcs`].

use crate::func::FuncMap;

/// All Sprig functions Helm exposes, except the Helm-specific ones the host adds itself
/// (`include`, `tpl`, `required`, `toYaml`, `toJson`, `lookup`…).
pub fn sprig_funcs() -> FuncMap {
    FuncMap::new()
}
