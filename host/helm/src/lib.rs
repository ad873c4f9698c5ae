//! Loads Helm charts (directories and `.tgz`), computes values, renders templates with
//! [`capstan_gotmpl`] and assembles the manifest stream exactly as `helm template` prints it.
//!
//! ```text
//!  Chart::load ──▶ Chart ─┐
//!  values files, --set ───┴─▶ merge_user_values ─▶ render() ─▶ Rendered ─▶ template() output
//!                              (dependencies, coalesce, schema, templates, kind order)
//! ```
//!
//! The CLI path is [`parse_template_args`] + [`template`] (Helm's flags in, Helm's stdout or
//! [`Error::helm_output`] out). The HelmRelease builder loads a [`Chart`] once and calls
//! [`render`] with already-merged values, then feeds [`Rendered::manifests`] (as JSON via
//! [`capstan_yaml::manifest_to_json`]) to the post-render pipeline:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let chart = capstan_helm::Chart::load("charts/podinfo")?;
//! let mut values = capstan_helm::Values::new();
//! capstan_helm::parse_set("replicaCount=3", &mut values)?;
//! let release = capstan_helm::Release { name: "web".into(), ..Default::default() };
//! let rendered = capstan_helm::render(&chart, &values, &release, &Default::default())?;
//! for m in &rendered.manifests {
//!     let object = capstan_yaml::manifest_to_json(&m.content)?;
//!     println!("{} {}", m.kind, object["metadata"]["name"]);
//! }
//! # Ok(())
//! # }
//! ```

mod chart;
mod error;
mod funcs;
mod glob;
mod objects;
mod output;
mod render;
mod schema;
mod strvals;
mod template;
mod toml;
mod values;
mod version;
pub mod yaml;

pub use chart::{
    Chart, ChartFile, Dependency, LoadError, MAX_CHART_FILES, MAX_DECOMPRESSED_CHART_SIZE,
    MAX_DECOMPRESSED_FILE_SIZE, Maintainer, Metadata, read_chart_dir,
};
pub use error::{Error, Result};
pub use funcs::json_to_value;
pub use objects::{Capabilities, DEFAULT_API_VERSIONS, KubeVersion};
pub use output::{Hook, INSTALL_ORDER, Manifest, sort_manifests, split_manifests};
pub use render::Release;
pub use strvals::{
    StrvalsError, parse_set, parse_set_file, parse_set_json, parse_set_literal, parse_set_string,
};
pub use template::{
    Rendered, TemplateOptions, merge_user_values, parse_template_args, remote_chart, render,
    template, template_chart,
};
pub use values::{
    Values, coalesce_values, from_json_go, go_float64, go_int64, merge_maps, process_dependencies,
};
pub use version::HelmVersion;
