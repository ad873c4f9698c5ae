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

#[cfg(target_arch = "wasm32")]
extern crate self as capstan_sdk;

pub mod abi;
mod context;
mod diagnostic;
mod image;
mod metadata;
mod object;
mod patch;
mod pod_template;
mod selector;
mod target;
mod transform;

pub use context::Context;
pub use diagnostic::{Diagnostic, ObjectRef, Severity};
pub use image::{
    ImageChange, ImageOverride, ImageRef, image_matches, rewrite_image, rewrite_object_images,
    split_image,
};
pub use metadata::{Metadata, merge_string_map};
pub use object::{JsonKey, Object};
pub use patch::{PatchError, PatchOperation, apply_json_patch, apply_merge_patch};
pub use pod_template::{
    ContainerKind, ContainerMut, ContainerRef, PodTemplateMetadataMut, PodTemplateMut,
    PodTemplateRef, append_missing_by_name, has_named, has_pod_template, pod_template,
    pod_template_metadata_mut, pod_template_mut, pod_templates_mut,
};
pub use selector::{
    Operator, Requirement, Selector, SelectorError, validate_label_key, validate_label_value,
};
pub use target::{Pattern, PatternError, Target, is_selected};
pub use transform::{
    Error, NativePlugin, Output, RawOutput, Result, TransformError, parse_config, run, run_owned,
    validate, validate_default,
};

/// Re-exported so plugins need no direct dependency on them.
pub use serde;
pub use serde_json;

/// Everything a transform usually needs.
pub mod prelude {
    pub use crate::{
        Context, Diagnostic, Error, Metadata, Object, ObjectRef, Output, Result, Severity, Target,
        pod_template, pod_template_metadata_mut, pod_template_mut,
    };
    pub use serde::Deserialize;
    pub use serde_json::{Value, json};
}
