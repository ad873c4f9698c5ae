//! The glue between a plain transform function and the wire format: config parsing with field
//! paths, object decoding, and the error/diagnostic model. The Wasm export ([`crate::abi`]) and the
//! native entry point ([`NativePlugin`]) both go through [`run`], so a plugin tested natively behaves
//! exactly as it does in the sandbox.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::object::ReceiveError;
use crate::{Context, Diagnostic, Object};

/// What a transform function returns: the new objects, plus findings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// The new object list, in output order.
    pub objects: Vec<Object>,
    /// Findings; any [`crate::Severity::Error`] denies the release.
    pub diagnostics: Vec<Diagnostic>,
}

impl Output {
    /// Output with these objects and no findings.
    pub fn new(objects: Vec<Object>) -> Self {
        Output {
            objects,
            diagnostics: Vec::new(),
        }
    }

    /// Adds one finding.
    #[must_use]
    pub fn with_diagnostic(mut self, diagnostic: Diagnostic) -> Self {
        self.diagnostics.push(diagnostic);
        self
    }

    /// Adds findings.
    #[must_use]
    pub fn with_diagnostics(mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) -> Self {
        self.diagnostics.extend(diagnostics);
        self
    }
}

/// Why a transform function gave up.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The config is invalid; the findings name the config fields.
    BadConfig(Vec<Diagnostic>),
    /// Anything else.
    Failed(String),
}

impl Error {
    /// A general failure.
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    /// A config error at `field`.
    pub fn bad_config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadConfig(vec![Diagnostic::error(message).at(field)])
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadConfig(diags) => write_config_diagnostics(f, diags),
            Error::Failed(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The wire form of [`Output`]: objects as JSON documents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawOutput {
    /// One JSON document per object.
    pub objects: Vec<String>,
    /// Findings.
    pub diagnostics: Vec<Diagnostic>,
}

/// The wire form of a failure (mirrors the WIT `transform-error`).
#[derive(Debug, Clone, PartialEq)]
pub enum TransformError {
    /// The config is invalid.
    BadConfig(Vec<Diagnostic>),
    /// An input object could not be decoded.
    BadInput(String),
    /// The transform failed.
    Failed(String),
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformError::BadConfig(diags) => write_config_diagnostics(f, diags),
            TransformError::BadInput(msg) => write!(f, "bad input: {msg}"),
            TransformError::Failed(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for TransformError {}

fn write_config_diagnostics(f: &mut fmt::Formatter<'_>, diags: &[Diagnostic]) -> fmt::Result {
    let mut first = true;
    for d in diags {
        if !first {
            f.write_str("; ")?;
        }
        first = false;
        match &d.field {
            Some(field) => write!(f, "config.{field}: {}", d.message)?,
            None => write!(f, "config: {}", d.message)?,
        }
    }
    Ok(())
}

/// A transform compiled into the calling binary: the same entry points as the Wasm export.
#[derive(Clone, Copy)]
pub struct NativePlugin {
    /// Runs the transform on JSON-encoded objects (see [`run`]).
    pub transform: fn(&Context, &str, &[String]) -> Result<RawOutput, TransformError>,
    /// Validates a JSON-encoded config (see [`validate`]).
    pub validate_config: fn(&str) -> Vec<Diagnostic>,
    /// What `per_object = …` in [`crate::export_transform!`] promised (the WIT's `describe`).
    pub per_object: bool,
}

impl fmt::Debug for NativePlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativePlugin").finish_non_exhaustive()
    }
}

/// Parses a JSON config into `C`. `null` or empty text means "no config" and parses as `{}`, so a
/// `#[serde(default)]` config struct needs nothing. Errors come back as diagnostics whose field is
/// the path inside the config (`podTemplates`, `container.image`).
pub fn parse_config<C: DeserializeOwned>(config: &str) -> Result<C, Vec<Diagnostic>> {
    let text = config.trim();
    let text = if text.is_empty() || text == "null" {
        "{}"
    } else {
        text
    };
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let message = strip_position(&err.inner().to_string());
        let diag = Diagnostic::error(message);
        vec![if path == "." { diag } else { diag.at(path) }]
    })
}

/// serde_json appends ` at line L column C`, which means nothing to a user whose config was YAML.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Decodes the wire objects, runs `f`, encodes its output. Used by both the Wasm export and
/// [`NativePlugin`].
pub fn run<C: DeserializeOwned>(
    ctx: &Context,
    config: &str,
    objects: &[String],
    f: fn(&Context, C, Vec<Object>) -> Result<Output>,
) -> Result<RawOutput, TransformError> {
    run_owned(ctx, config, objects.to_vec(), f)
}

/// [`run`] on objects it may keep: each text becomes its object (parsed lazily, see
/// [`Object`]), and an object the transform did not change goes back as that same text. Each
/// object is encoded and dropped in turn, so the input, the objects and the output are never
/// all in memory at once.
pub fn run_owned<C: DeserializeOwned>(
    ctx: &Context,
    config: &str,
    objects: Vec<String>,
    f: fn(&Context, C, Vec<Object>) -> Result<Output>,
) -> Result<RawOutput, TransformError> {
    let config = parse_config::<C>(config).map_err(TransformError::BadConfig)?;
    let mut decoded = Vec::with_capacity(objects.len());
    for (i, text) in objects.into_iter().enumerate() {
        let object = Object::received(text).map_err(|e| match e {
            ReceiveError::NotJson(e) => {
                TransformError::BadInput(format!("object #{i} is not valid JSON: {e}"))
            }
            ReceiveError::NotAnObject => {
                TransformError::BadInput(format!("object #{i} is not a JSON object"))
            }
        })?;
        decoded.push(object);
    }
    let output = f(ctx, config, decoded).map_err(|e| match e {
        Error::BadConfig(d) => TransformError::BadConfig(d),
        Error::Failed(m) => TransformError::Failed(m),
    })?;
    let mut encoded = Vec::with_capacity(output.objects.len());
    for object in output.objects {
        let text = object
            .into_json()
            .map_err(|e| TransformError::Failed(format!("cannot encode output object: {e}")))?;
        encoded.push(text);
    }
    Ok(RawOutput {
        objects: encoded,
        diagnostics: output.diagnostics,
    })
}

/// Parses the config and runs the plugin's own checks on it.
pub fn validate<C: DeserializeOwned>(
    config: &str,
    f: fn(&C) -> Vec<Diagnostic>,
) -> Vec<Diagnostic> {
    match parse_config::<C>(config) {
        Ok(c) => f(&c),
        Err(diags) => diags,
    }
}

/// The default config check: parsing it is all there is.
pub fn validate_default<C>(_config: &C) -> Vec<Diagnostic> {
    Vec::new()
}

/// Exports a transform function (and optionally a config validator) as a Capstan plugin.
///
/// ```ignore
/// capstan_sdk::export_transform!(Config, transform);
/// capstan_sdk::export_transform!(Config, transform, validate = check_config);
/// capstan_sdk::export_transform!(Config, transform, validate = check_config, per_object = true);
/// ```
///
/// `per_object = true` is a promise about `transform`: it handles every object on its own, so for
/// any split of the list into consecutive parts its output is its outputs for the parts, in order,
/// concatenated (objects and diagnostics), and it fails as it does for the first part that fails.
/// It adds no object that does not come from one input object and reads nothing across objects
/// (no "this name is taken", no "no object matched"). The host may then split a large list and run
/// the parts on several cores, each in its own fresh instance (`describe` in the WIT contract).
/// Without it (the default) the transform always gets the whole list in one call.
///
/// On `wasm32` this implements the `capstan:transform` world's exports; on every target it also
/// defines `pub const NATIVE: capstan_sdk::NativePlugin` for native tests and benchmarks.
#[macro_export]
macro_rules! export_transform {
    ($config:ty, $transform:path) => {
        $crate::export_transform!(
            $config,
            $transform,
            validate = $crate::validate_default::<$config>
        );
    };
    ($config:ty, $transform:path, per_object = $per_object:expr) => {
        $crate::export_transform!(
            $config,
            $transform,
            validate = $crate::validate_default::<$config>,
            per_object = $per_object
        );
    };
    ($config:ty, $transform:path, validate = $validate:path) => {
        $crate::export_transform!(
            $config,
            $transform,
            validate = $validate,
            per_object = false
        );
    };
    ($config:ty, $transform:path, validate = $validate:path, per_object = $per_object:expr) => {
        /// This transform, callable natively with the same wire types as the Wasm export.
        pub const NATIVE: $crate::NativePlugin = $crate::NativePlugin {
            transform: |ctx, config, objects| {
                $crate::run::<$config>(ctx, config, objects, $transform)
            },
            validate_config: |config| $crate::validate::<$config>(config, $validate),
            per_object: $per_object,
        };
        $crate::__export_wasm!($config, $transform, $validate, $per_object);
    };
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize, Default, Debug)]
    #[serde(default, deny_unknown_fields, rename_all = "camelCase")]
    struct Cfg {
        pod_templates: bool,
        inner: Inner,
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        size: u32,
    }

    fn mk_transform(_: &Context, cfg: Cfg, mut objs: Vec<Object>) -> Result<Output> {
        for o in &mut objs {
            o.set_label("size", cfg.inner.size.to_string());
        }
        Ok(Output::new(objs))
    }

    #[test]
    fn null_config_is_default() {
        let cfg: Cfg = parse_config("null").expect("null parses");
        assert!(!cfg.pod_templates);
    }

    #[test]
    fn config_errors_name_the_field() {
        let err = parse_config::<Cfg>(r#"{"inner": {"size": "big"}}"#).expect_err("bad type");
        assert_eq!(err[0].field.as_deref(), Some("inner.size"));
        assert!(
            err[0].message.contains("invalid type"),
            "{}",
            err[0].message
        );
        assert!(!err[0].message.contains("line"), "{}", err[0].message);
        let err = parse_config::<Cfg>(r#"{"podTemplatez": true}"#).expect_err("unknown field");
        assert!(
            err[0].message.contains("unknown field `podTemplatez`"),
            "{}",
            err[0].message
        );
    }

    #[test]
    fn run_round_trips_objects() {
        let out = run(
            &Context::default(),
            r#"{"inner":{"size":3}}"#,
            &[r#"{"kind":"A"}"#.to_owned()],
            mk_transform,
        )
        .expect("runs");
        assert_eq!(
            out.objects,
            vec![r#"{"kind":"A","metadata":{"labels":{"size":"3"}}}"#.to_owned()]
        );
    }

    fn label_config_maps(_: &Context, _: Cfg, mut objs: Vec<Object>) -> Result<Output> {
        for o in objs.iter_mut().filter(|o| o.kind() == "ConfigMap") {
            o.set_label("seen", "yes");
        }
        Ok(Output::new(objs))
    }

    #[test]
    fn run_returns_untouched_objects_as_they_came() {
        // Not the host's canonical form (spaces, unsorted keys): still returned as it came.
        let service = r#"{"kind": "Service", "metadata": {"name": "s"}, "apiVersion": "v1"}"#;
        let config_map = r#"{"kind": "ConfigMap", "metadata": {"name": "c"}}"#;
        let out = run(
            &Context::default(),
            "{}",
            &[service.to_owned(), config_map.to_owned()],
            label_config_maps,
        )
        .expect("runs");
        assert_eq!(out.objects[0], service);
        assert_eq!(
            out.objects[1],
            r#"{"kind":"ConfigMap","metadata":{"labels":{"seen":"yes"},"name":"c"}}"#
        );
    }

    #[test]
    fn run_rejects_non_objects() {
        let err =
            run(&Context::default(), "{}", &["[1]".to_owned()], mk_transform).expect_err("array");
        assert_eq!(
            err,
            TransformError::BadInput("object #0 is not a JSON object".into())
        );
    }
}
