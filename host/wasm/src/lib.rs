//! The sandboxed runtime that runs post-render transforms.
//!
//! ```text
//!  .wasm bytes ──sha256──► compile once (or load from the signed on-disk cache)
//!                              │
//!                              ▼
//!          TransformPre of capstan:transform@0.2.0 or 0.1.0 (shared, per sha256)
//!                              │  per call: fresh Store + limits + epoch deadline
//!                              ▼
//!   context, config, objects ─► guest `transform` ─► objects, diagnostics
//! ```
//!
//! One [`Runtime`] (one wasmtime `Engine`) per process. Guests get no capabilities: no filesystem,
//! network or environment; a fixed wall clock, a frozen monotonic clock and fixed "random" bytes, so
//! output is a pure function of input. Every failure is its own [`Error`] variant naming the plugin
//! (name and sha256).

mod cache;
mod error;
mod limits;
mod plugin;
mod runtime;
mod sandbox;

pub use error::{Error, Result};
pub use limits::Limits;
pub use plugin::{
    MAX_DIAGNOSTICS, MAX_GUEST_TEXT, ObjectHead, PluginId, TextOutput, TransformOutput, WasmPlugin,
    check_json_object, check_json_object_head,
};
pub use runtime::{CacheStats, Runtime, RuntimeBuilder};
