//! Loads Helm charts (directories and `.tgz`), computes values, renders templates with
//! [`capstan_gotmpl`] and assembles the manifest stream exactly as `helm template` prints it.
//!
//! ```text
//!  Chart::load ──▶ Chart ─┐
//!  values files, --set ───┴─▶ merge_user_values ─▶ render() ─▶ Rendered ─▶ template() output
//!                              (dependencies, coalesce, schema, templates, kind order)
//! ```

mod chart;
mod error;
mod funcs;
mod glob;
mod objects;
mod output;
mod render;
mod schema;
mod semver;
mod strvals;
mod template;
mod toml;
mod values;
pub mod yaml;

pub use chart::{Chart, ChartFile, Dependency, LoadError, Maintainer, Metadata};
pub use error::{Error, Result};
pub use funcs::json_to_value;
pub use objects::{Capabilities, DEFAULT_API_VERSIONS};
pub use output::{Hook, INSTALL_ORDER, Manifest, sort_manifests, split_manifests};
pub use render::Release;
pub use strvals::{
    StrvalsError, parse_set, parse_set_file, parse_set_json, parse_set_literal, parse_set_string,
};
pub use template::{
    Rendered, TemplateOptions, merge_user_values, parse_kube_version, parse_template_args, render,
    template,
};
pub use values::{Values, coalesce_values, merge_maps, process_dependencies};
