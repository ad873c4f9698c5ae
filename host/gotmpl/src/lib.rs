//! A Go `text/template` engine with Go's value model, so Helm charts render byte-for-byte as Helm
//! renders them without a Go toolchain.
//!
//! ```text
//!  sources ──parse──▶ TemplateSet (named trees shared across files, FuncMap)
//!                          │
//!  data: Value ──────execute(name)──▶ String  (Go-shaped errors on failure)
//! ```
//!
//! The host registers functions in a [`FuncMap`]; each [`Func`] carries a Go-like [`Signature`] so
//! arguments are converted and checked exactly as Go's `reflect`-based calls would be, and receives
//! a [`CallContext`] that can call back into the running template set (Helm's `include` and
//! `tpl`). Host objects with fields and methods (Helm's `.Files`, `.Capabilities`) implement
//! [`Object`]. [`sprig::sprig_funcs`] provides the Sprig library.
//!
//! ```
//! use capstan_gotmpl::{CallContext, FuncError, Signature, TemplateSet, Ty, Value, sprig};
//!
//! let mut funcs = sprig::sprig_funcs();
//! funcs.register_with_context("include", Signature::new(&[Ty::String, Ty::Any]),
//!     |cx: &mut CallContext<'_>, a: &[Value]| {
//!         let name = a[0].as_str().unwrap_or_default().to_owned();
//!         cx.execute_template(&name, &a[1]).map(Value::from).map_err(|e| FuncError::wrap("", e))
//!     });
//! let mut set = TemplateSet::new(funcs);
//! set.parse("_helpers.tpl", r#"{{ define "name" }}{{ .Values.name | upper }}{{ end }}"#)?;
//! set.parse("cm.yaml", r#"name: {{ include "name" . | quote }} port: {{ .Values.port }}"#)?;
//! let values = serde_json::json!({"Values": {"name": "web", "port": 8080}});
//! let out = set.execute("cm.yaml", &Value::from_json_go(&values))?;
//! assert_eq!(out, r#"name: "WEB" port: 8080"#);
//! # Ok::<(), capstan_gotmpl::Error>(())
//! ```
//!
//! Semantics follow Go 1.23's `text/template` as Helm 3.17 uses it (`missingkey=zero`): a
//! missing key yields a nil `interface{}`, printed as `<no value>` (Helm strips that string
//! afterwards); `.a.b` on a missing `a` fails with `nil pointer evaluating interface {}.b`;
//! maps are shared and mutated in place by `set`/`merge` as Go maps are; ranging over an integer
//! is an error as in Helm 3.17; Sprig's arithmetic returns Go `int64`s ([`GoInt64`]) so `%T`,
//! `typeOf` and `int`-parameter errors read as in Go. Strings that are not UTF-8 (binary
//! files, `b64dec` output) are [`GoBytes`], which keep their exact bytes for `b64enc`, the
//! checksums and `len`. Sprig's typed results keep their Go types ([`GoSlice`] for `[]string`/`[]int`,
//! `map[string]string` for `split`). Differences from Go that remain: binary strings print
//! lossily, and an argument error inside a short-circuited `and`/`or` may blame a different node. Rendering is thread-safe: a [`TemplateSet`] is
//! `Send + Sync` and can execute templates from several threads at once.

pub mod budget;
mod error;
mod exec;
mod fmt;
mod func;
mod parse;
mod set;
pub mod sprig;
mod value;

pub use error::{Error, FuncError, Result};
pub use fmt::{go_quote, sprint, sprintf, sprintln};
pub use func::{CallContext, Func, FuncMap, FuncResult, Signature, Ty};
pub use set::{MissingKey, TemplateSet};
pub use value::{GoBytes, GoInt64, GoSlice, Map, Object, Value, raw_output_bytes};

#[cfg(test)]
mod tests;
