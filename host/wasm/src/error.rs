//! Every way a plugin can fail, each its own variant, so callers (and users) can tell a slow
//! plugin from a greedy one from a buggy one. Each names the plugin as `name@sha256:…`.

use std::path::PathBuf;
use std::time::Duration;

use capstan_sdk::Diagnostic;

use crate::PluginId;

/// A plugin could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Wasm file could not be read.
    #[error("cannot read plugin {name:?} from {path}")]
    ReadModule {
        /// Plugin name.
        name: String,
        /// Where it was read from.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are a core Wasm module, not a component.
    #[error(
        "plugin {plugin} is a core WebAssembly module, not a component: build it for wasm32-wasip2 (e.g. `capstan plugin build`)"
    )]
    NotAComponent {
        /// The plugin.
        plugin: PluginId,
    },
    /// The bytes are not WebAssembly at all, or do not validate.
    #[error("plugin {plugin} is not a valid WebAssembly component")]
    CompileModule {
        /// The plugin.
        plugin: PluginId,
        /// The compiler's complaint.
        #[source]
        source: wasmtime::Error,
    },
    /// The component does not implement the `capstan:transform` world (missing or mistyped exports,
    /// or imports Capstan does not provide).
    #[error("plugin {plugin} does not implement capstan:transform@0.2.0 (nor 0.1.0): {detail}")]
    WrongInterface {
        /// The plugin.
        plugin: PluginId,
        /// What is wrong, from the linker.
        detail: String,
    },
    /// The limits asked for are out of range.
    #[error("plugin {plugin}: invalid limits: {detail}")]
    InvalidLimits {
        /// The plugin.
        plugin: PluginId,
        /// What is wrong.
        detail: String,
    },
    /// The input is larger than the plugin's input cap.
    #[error("plugin {plugin}: input of {size} bytes exceeds the limit of {limit} bytes")]
    InputTooLarge {
        /// The plugin.
        plugin: PluginId,
        /// Input size.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// The call ran past its deadline.
    #[error("plugin {plugin} timed out after {limit:?}")]
    PluginTimedOut {
        /// The plugin.
        plugin: PluginId,
        /// The deadline.
        limit: Duration,
    },
    /// The guest tried to grow its memory past the limit.
    #[error("plugin {plugin} exceeded its memory limit of {limit} bytes")]
    PluginMemoryLimit {
        /// The plugin.
        plugin: PluginId,
        /// The limit.
        limit: u64,
    },
    /// The guest returned more output than allowed.
    #[error("plugin {plugin}: output of {size} bytes exceeds the limit of {limit} bytes")]
    PluginOutputTooLarge {
        /// The plugin.
        plugin: PluginId,
        /// Output size.
        size: u64,
        /// The cap.
        limit: u64,
    },
    /// The guest trapped (panicked, hit `unreachable`, divided by zero, …).
    #[error("plugin {plugin} trapped: {message}")]
    PluginTrapped {
        /// The plugin.
        plugin: PluginId,
        /// The guest's panic message (from its stderr) or the trap description.
        message: String,
        /// The trap.
        #[source]
        source: wasmtime::Error,
    },
    /// The guest called `exit` (any status) instead of returning a result.
    #[error("plugin {plugin} exited with status {code} instead of returning a result")]
    PluginExited {
        /// The plugin.
        plugin: PluginId,
        /// The exit status it passed.
        code: i32,
    },
    /// The guest handed the host a string that is not UTF-8.
    #[error("plugin {plugin} returned text that is not valid UTF-8")]
    PluginOutputNotUtf8 {
        /// The plugin.
        plugin: PluginId,
        /// The decoding failure.
        #[source]
        source: wasmtime::Error,
    },
    /// The guest tried to copy more data to the host in one call than wasmtime's host-call fuel
    /// allows.
    #[error(
        "plugin {plugin} tried to copy more than {limit} bytes to the host in one call (host-call fuel exhausted)"
    )]
    PluginHostcallFuel {
        /// The plugin.
        plugin: PluginId,
        /// The per-call fuel, in bytes.
        limit: usize,
    },
    /// The plugin rejected its config.
    #[error("plugin {plugin}: bad config: {}", join_config(.diagnostics))]
    BadConfig {
        /// The plugin.
        plugin: PluginId,
        /// Where the config is wrong (fields are paths into the config).
        diagnostics: Vec<Diagnostic>,
    },
    /// The plugin could not decode an input object.
    #[error("plugin {plugin}: bad input: {message}")]
    BadInput {
        /// The plugin.
        plugin: PluginId,
        /// What it said.
        message: String,
    },
    /// The plugin reported a failure.
    #[error("plugin {plugin} failed: {message}")]
    PluginFailed {
        /// The plugin.
        plugin: PluginId,
        /// What it said.
        message: String,
    },
    /// The plugin returned something that is not a list of JSON objects.
    #[error("plugin {plugin} returned bad output: {message}")]
    BadOutput {
        /// The plugin.
        plugin: PluginId,
        /// What is wrong.
        message: String,
    },
    /// The plugin denied the release (an `error` diagnostic).
    #[error("plugin {plugin} denied the release: {}", join_errors(.diagnostics))]
    Denied {
        /// The plugin.
        plugin: PluginId,
        /// All diagnostics it returned (warnings included).
        diagnostics: Vec<Diagnostic>,
    },
    /// Setting up the store or instance failed for a host-side reason.
    #[error("plugin {plugin}: cannot instantiate")]
    InstantiatePlugin {
        /// The plugin.
        plugin: PluginId,
        /// Why.
        #[source]
        source: wasmtime::Error,
    },
    /// The wasmtime engine could not be configured.
    #[error("cannot create the WebAssembly engine")]
    CreateEngine(#[source] wasmtime::Error),
    /// The on-disk module cache could not be used.
    #[error("module cache at {path}: {detail}")]
    Cache {
        /// The cache directory or file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn join(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

fn join_config(diags: &[Diagnostic]) -> String {
    let one = |d: &Diagnostic| match &d.field {
        Some(field) => format!("config.{field}: {}", d.message),
        None => format!("config: {}", d.message),
    };
    diags.iter().map(one).collect::<Vec<_>>().join("; ")
}

fn join_errors(diags: &[Diagnostic]) -> String {
    join(
        &diags
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect::<Vec<_>>(),
    )
}

impl Error {
    /// Which resource limit the plugin hit, if that is why it failed: `timeout`, `memory`,
    /// `output`, `input` or `hostcall-fuel` (metric labels and operator dashboards).
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            Error::PluginTimedOut { .. } => Some("timeout"),
            Error::PluginMemoryLimit { .. } => Some("memory"),
            Error::PluginOutputTooLarge { .. } => Some("output"),
            Error::InputTooLarge { .. } => Some("input"),
            Error::PluginHostcallFuel { .. } => Some("hostcall-fuel"),
            _ => None,
        }
    }

    /// The plugin this error is about, if any.
    pub fn plugin(&self) -> Option<&PluginId> {
        match self {
            Error::NotAComponent { plugin }
            | Error::CompileModule { plugin, .. }
            | Error::WrongInterface { plugin, .. }
            | Error::InvalidLimits { plugin, .. }
            | Error::InputTooLarge { plugin, .. }
            | Error::PluginTimedOut { plugin, .. }
            | Error::PluginMemoryLimit { plugin, .. }
            | Error::PluginOutputTooLarge { plugin, .. }
            | Error::PluginTrapped { plugin, .. }
            | Error::PluginExited { plugin, .. }
            | Error::PluginOutputNotUtf8 { plugin, .. }
            | Error::PluginHostcallFuel { plugin, .. }
            | Error::BadConfig { plugin, .. }
            | Error::BadInput { plugin, .. }
            | Error::PluginFailed { plugin, .. }
            | Error::BadOutput { plugin, .. }
            | Error::Denied { plugin, .. }
            | Error::InstantiatePlugin { plugin, .. } => Some(plugin),
            Error::ReadModule { .. } | Error::CreateEngine(_) | Error::Cache { .. } => None,
        }
    }
}
