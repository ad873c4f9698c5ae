//! # capstan-sdk
//!
//! Write a Capstan post-render transform as a plain Rust function:
//!
//! ```ignore
//! use capstan_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize, Default)]
//! #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
//! pub struct Config { team: String }
//!
//! pub fn transform(_ctx: &Context, config: Config, mut objects: Vec<Object>) -> Result<Output> {
//!     for obj in &mut objects {
//!         obj.labels_mut().insert("team".into(), config.team.clone().into());
//!     }
//!     Ok(Output::new(objects))
//! }
//!
//! capstan_sdk::export_transform!(Config, transform);
//! ```
//!
//! The same function compiles natively (so it can be unit-tested with `cargo test`, no Wasm needed)
//! and, for `wasm32-wasip2`, into a component implementing the `capstan:transform` WIT world.
//! Everything except the small [`abi`] module is plain, safe, target-independent Rust.

extern crate self as capstan_sdk;

pub mod abi;
mod context;
mod diagnostic;
mod object;
mod transform;

pub use context::Context;
pub use diagnostic::{Diagnostic, ObjectRef, Severity};
pub use object::Object;
pub use transform::{
    Error, NativePlugin, Output, RawOutput, Result, TransformError, parse_config, run, validate,
    validate_default,
};

/// Re-exported so plugins need no direct dependency on them.
pub use serde;
pub use serde_json;

/// Everything a transform usually needs.
pub mod prelude {
    pub use crate::{Context, Diagnostic, Error, Object, ObjectRef, Output, Result, Severity};
    pub use serde::Deserialize;
    pub use serde_json::{Value, json};
}
