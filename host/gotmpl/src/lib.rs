//! A Go `text/template` engine with Go's value model, so Helm charts render byte-for-byte as Helm
//! renders them without a Go toolchain.
//!
//! ```text
//!  sources ──parse──▶ TemplateSet (named trees, shared across files, FuncMap)
//!                          │
//!  data: Value ──────execute(name)──▶ String  (Go-shaped errors on failure)
//! ```
//!
//! The host registers functions in a [`FuncMap`]; each [`Func`] carries a Go-like [`Signature`] so
//! arguments are converted and checked exactly as Go's `reflect`-based calls would, and receives a
//! [`CallContext`] that can call back into the running template set (Helm's `include` and `tpl`).
//! Host objects with fields and methods (Helm's `.Files`, `.Capabilities`) implement [`Object`].

mod error;
mod exec;
mod fmt;
mod func;
mod parse;
mod set;
pub mod sprig;
mod value;

pub use error::{Error, FuncError, Result};
pub use fmt::{sprint, sprintf, sprintln};
pub use func::{CallContext, Func, FuncMap, FuncResult, Signature, Ty};
pub use set::{MissingKey, TemplateSet};
pub use value::{Map, Object, Value};

#[cfg(test)]
mod tests;
