//! One loaded plugin and its calls: a fresh store per call, limits applied, the guest's result
//! converted to SDK types, and every failure mapped to its named [`Error`].

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use capstan_sdk::serde::de;
use capstan_sdk::{Context, Diagnostic, JsonKey, ObjectRef, Severity};
use serde_json::Value;
use serde_json::value::RawValue;
use wasmtime::{Store, Trap};

use crate::runtime::EPOCH_TICK;
use crate::sandbox::StoreState;
use crate::{Error, Limits, Result, Runtime};

mod contract;
mod parts;

pub(crate) use contract::Pre;
use contract::wit;

/// A linked module, shared by every [`WasmPlugin`] of the same bytes.
pub(crate) struct Prepared {
    pre: Pre,
    /// `describe`'s answer, asked once.
    per_object: OnceLock<bool>,
}

impl Prepared {
    pub(crate) fn new(pre: Pre) -> Self {
        Prepared {
            pre,
            per_object: OnceLock::new(),
        }
    }
}

/// A plugin's identity: the name it was referenced by and the sha256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PluginId {
    name: String,
    digest: [u8; 32],
}

impl PluginId {
    /// An id from a name and a sha256 digest.
    pub fn new(name: impl Into<String>, digest: [u8; 32]) -> Self {
        PluginId {
            name: name.into(),
            digest,
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sha256 of the module bytes.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// `sha256:<hex>`.
    pub fn sha256(&self) -> String {
        format!("sha256:{}", hex::encode(self.digest))
    }
}

impl fmt::Display for PluginId {
    /// `"name@sha256:<hex>"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}@sha256:{}\"", self.name, hex::encode(self.digest))
    }
}

/// What a successful transform returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransformOutput {
    /// The new objects, in order.
    pub objects: Vec<Value>,
    /// Findings below `error` (an `error` makes the call fail with [`Error::Denied`]).
    pub diagnostics: Vec<Diagnostic>,
}

/// What a successful transform returns, as JSON text: each object is one JSON object (checked),
/// and `unchanged[i]` says that output `i` is byte for byte the input object `i` it was handed,
/// so a caller can keep what it already knows about that object (its parsed value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextOutput<T = ()> {
    /// The new objects, in order, one JSON object each.
    pub objects: Vec<String>,
    /// Per output object: the same bytes as the input object at the same position.
    pub unchanged: Vec<bool>,
    /// Findings below `error` (an `error` makes the call fail with [`Error::Denied`]).
    pub diagnostics: Vec<Diagnostic>,
    /// The guest's linear memory at the end of the call, in bytes: its peak, since Wasm memory
    /// never shrinks (what [`crate::Limits::memory_bytes`] caps).
    pub memory_bytes: u64,
    /// Per output object: what the caller's reader made of it
    /// ([`WasmPlugin::transform_text_read`]), for every object that is not unchanged.
    pub read: Vec<Option<T>>,
}

/// Checks that `text` is one JSON object whose top-level keys are all different, without
/// building it. JSON allows a repeated key, but readers disagree on which value counts (the
/// first, the last), and a transform's SDK reads an object's head on arrival: an object that
/// says two things about its `metadata` or `kind` is refused, not guessed at.
pub fn check_json_object(text: &str) -> std::result::Result<(), String> {
    check_json_object_head(text).map(drop)
}

/// The top-level `apiVersion`, `kind` and `metadata` of an object [`check_json_object_head`]
/// passed, each as the JSON text of its value (`None` where the key is absent). They are
/// slices of the checked text: what a caller reads of an object's head (the output guard, its
/// identity) it reads from them, and the rest of the object is scanned once, by the check.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObjectHead<'a> {
    /// The value of `apiVersion`.
    pub api_version: Option<&'a RawValue>,
    /// The value of `kind`.
    pub kind: Option<&'a RawValue>,
    /// The value of `metadata`.
    pub metadata: Option<&'a RawValue>,
}

/// [`check_json_object`], keeping the object's head (issue #12: reading a changed object's
/// identity with a second scan of the whole text cost as much as the check).
pub fn check_json_object_head(text: &str) -> std::result::Result<ObjectHead<'_>, String> {
    let not_json = |e: serde_json::Error| format!("is not valid JSON: {e}");
    if !text.trim_start().starts_with('{') {
        serde_json::from_str::<de::IgnoredAny>(text).map_err(not_json)?;
        return Err("is not a JSON object".to_owned());
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let (repeated, head) = de::Deserializer::deserialize_map(&mut de, TopLevelKeys)
        .and_then(|read| de.end().map(|()| read))
        .map_err(not_json)?;
    match repeated {
        None => Ok(head),
        Some(key) => Err(format!(
            "has the top-level key {key:?} more than once (accepted: each key once)"
        )),
    }
}

/// Reads past a JSON object, noting a top-level key it repeats (the smallest) and keeping the
/// text of its head's values.
struct TopLevelKeys;

impl<'de> de::Visitor<'de> for TopLevelKeys {
    type Value = (Option<String>, ObjectHead<'de>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: de::MapAccess<'de>>(
        self,
        mut access: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        // In one pass while keys come in ascending order (as serde_json and the SDK write
        // them); otherwise sorted once: never a comparison of every key with every other
        // (a guest's object may have millions of keys).
        let mut keys: Vec<JsonKey<'de>> = Vec::new();
        let mut head = ObjectHead::default();
        let mut ascending = true;
        while let Some(key) = access.next_key::<JsonKey<'de>>()? {
            // Skipping a value and keeping its text scan it alike (serde_json's `ignore_value`
            // does both, with the same nesting limit), so keeping the head changes nothing
            // the check accepts.
            let slot = match key.0.as_ref() {
                "apiVersion" => Some(&mut head.api_version),
                "kind" => Some(&mut head.kind),
                "metadata" => Some(&mut head.metadata),
                _ => None,
            };
            match slot {
                Some(slot) => *slot = Some(access.next_value::<&'de RawValue>()?),
                None => {
                    access.next_value::<de::IgnoredAny>()?;
                }
            }
            ascending = ascending && keys.last().is_none_or(|last| last.0 < key.0);
            keys.push(key);
        }
        if ascending {
            return Ok((None, head));
        }
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let repeated = keys
            .windows(2)
            .find(|pair| pair[0].0 == pair[1].0)
            .map(|pair| pair[0].0.clone().into_owned());
        Ok((repeated, head))
    }
}

/// A loaded, linked plugin. Cheap to clone; calls may run concurrently.
#[derive(Clone)]
pub struct WasmPlugin {
    runtime: Runtime,
    id: PluginId,
    limits: Limits,
    pre: Arc<Prepared>,
    /// Never cut a call into parts (see [`WasmPlugin::in_one_call`]).
    one_call: bool,
}

impl fmt::Debug for WasmPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmPlugin")
            .field("id", &self.id)
            .field("limits", &self.limits)
            .finish()
    }
}

impl WasmPlugin {
    pub(crate) fn new(runtime: Runtime, id: PluginId, limits: Limits, pre: Arc<Prepared>) -> Self {
        WasmPlugin {
            runtime,
            id,
            limits,
            pre,
            one_call: false,
        }
    }

    /// The same plugin, always called with the whole list at once even if it is per-object
    /// (to measure what one call of a given size needs, e.g. its memory).
    #[must_use]
    pub fn in_one_call(mut self) -> Self {
        self.one_call = true;
        self
    }

    /// The `capstan:transform` version the module implements (`0.2.0` or `0.1.0`).
    pub fn contract_version(&self) -> &'static str {
        self.pre.pre.version()
    }

    /// A fresh instance of the module in `store`, or the named error of why there is none.
    fn instantiate(&self, store: &mut Store<StoreState>) -> Result<contract::Instance> {
        self.pre
            .pre
            .instantiate(store)
            .map_err(|e| self.call_error(store, e))
    }

    /// What the module's `describe` says: it handles every object on its own, so a large list
    /// may be cut into parts that run in parallel (`false` for a 0.1.0 module). Asked once per
    /// module, in an instance of its own.
    pub fn per_object(&self) -> Result<bool> {
        if let Some(&answer) = self.pre.per_object.get() {
            return Ok(answer);
        }
        let mut store = self.store();
        let instance = self.instantiate(&mut store)?;
        let answer = match instance.call_per_object(&mut store) {
            Ok(a) => a,
            Err(e) => return Err(self.call_error(&store, e)),
        };
        Ok(*self.pre.per_object.get_or_init(|| answer))
    }

    /// Name and digest.
    pub fn id(&self) -> &PluginId {
        &self.id
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A store with this plugin's limits and a deadline.
    fn store(&self) -> Store<StoreState> {
        let mut store = Store::new(
            self.runtime.engine(),
            StoreState::new(self.limits.memory_bytes, self.limits.timeout),
        );
        store.limiter(|s| &mut s.limiter);
        let ticks = self
            .limits
            .timeout
            .as_nanos()
            .div_ceil(EPOCH_TICK.as_nanos())
            .max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1));
        store
    }

    /// Maps a wasmtime failure during instantiation or a call to the right named error.
    fn call_error(&self, store: &Store<StoreState>, err: wasmtime::Error) -> Error {
        let plugin = self.id.clone();
        if store.data().watchdog_fired {
            return Error::PluginTimedOut {
                plugin,
                limit: self.limits.timeout,
            };
        }
        if store.data().limiter.hit {
            return Error::PluginMemoryLimit {
                plugin,
                limit: self.limits.memory_bytes,
            };
        }
        if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return Error::PluginExited {
                plugin,
                code: exit.0,
            };
        }
        if err.chain().any(|e| e.is::<std::str::Utf8Error>()) {
            return Error::PluginOutputNotUtf8 {
                plugin,
                source: err,
            };
        }
        // wasmtime's fuel error type is private; its text is the only handle on it.
        if err.chain().any(|e| {
            e.to_string()
                .contains("fuel allocated for hostcalls has been exhausted")
        }) {
            return Error::PluginHostcallFuel {
                plugin,
                limit: store.hostcall_fuel(),
            };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Error::PluginTimedOut {
                plugin,
                limit: self.limits.timeout,
            },
            Some(trap) => {
                let stderr = store.data().stderr_text();
                let message = panic_message(&stderr)
                    .map(|m| guest_text(&m))
                    .unwrap_or_else(|| trap.to_string());
                Error::PluginTrapped {
                    plugin,
                    message,
                    source: err,
                }
            }
            None => Error::InstantiatePlugin {
                plugin,
                source: err,
            },
        }
    }

    /// Runs the guest's `validate-config` on a JSON config.
    pub fn validate_config(&self, config: &Value) -> Result<Vec<Diagnostic>> {
        let config_json = config.to_string();
        self.check_input(config_json.len() as u64)?;
        let mut store = self.store();
        let instance = self.instantiate(&mut store)?;
        let diags = match instance.call_validate_config(&mut store, &config_json) {
            Ok(d) => d,
            Err(e) => return Err(self.call_error(&store, e)),
        };
        Ok(diagnostics(diags))
    }

    /// Validates a config and fails with [`Error::BadConfig`] if the plugin rejects it.
    pub fn check_config(&self, config: &Value) -> Result<Vec<Diagnostic>> {
        let diags = self.validate_config(config)?;
        if diags.iter().any(Diagnostic::is_error) {
            return Err(Error::BadConfig {
                plugin: self.id.clone(),
                diagnostics: diags,
            });
        }
        Ok(diags)
    }

    fn check_input(&self, size: u64) -> Result<()> {
        if size > self.limits.max_input_bytes {
            return Err(Error::InputTooLarge {
                plugin: self.id.clone(),
                size,
                limit: self.limits.max_input_bytes,
            });
        }
        Ok(())
    }

    /// Runs the transform on JSON objects. Fails with [`Error::Denied`] if any diagnostic is an
    /// error; never returns partial output.
    pub fn transform(
        &self,
        ctx: &Context,
        config: &Value,
        objects: &[Value],
    ) -> Result<TransformOutput> {
        let encoded: Vec<String> = objects.iter().map(Value::to_string).collect();
        self.transform_json(ctx, &config.to_string(), &encoded)
    }

    /// Runs the transform on already JSON-encoded objects.
    pub fn transform_json(
        &self,
        ctx: &Context,
        config: &str,
        objects: &[String],
    ) -> Result<TransformOutput> {
        let output = self.transform_text(ctx, config, objects)?;
        let mut values = Vec::with_capacity(output.objects.len());
        for (i, text) in output.objects.iter().enumerate() {
            let value: Value = serde_json::from_str(text).map_err(|e| Error::BadOutput {
                plugin: self.id.clone(),
                message: format!("object #{i} is not valid JSON: {e}"),
            })?;
            values.push(value);
        }
        Ok(TransformOutput {
            objects: values,
            diagnostics: output.diagnostics,
        })
    }

    /// Runs the transform on JSON-encoded objects and returns JSON text: every returned object
    /// is checked to be one JSON object, except those that are byte for byte the input object at
    /// the same position (the host made those), which are only marked unchanged.
    ///
    /// A per-object transform ([`WasmPlugin::per_object`]) on a large list runs as consecutive
    /// parts (cut by the objects alone, so always the same parts for the same list), each in
    /// its own fresh instance under the plugin's limits, on as many cores as the process has
    /// (within the runtime's slots kept for parts); the outputs are joined in order and checked
    /// as one. If parts fail, the first of them in list order is the call's error.
    pub fn transform_text(
        &self,
        ctx: &Context,
        config: &str,
        objects: &[String],
    ) -> Result<TextOutput> {
        self.transform_text_read(ctx, config, objects, &|_| ())
    }

    /// [`WasmPlugin::transform_text`], also reading each returned object that is not unchanged
    /// with `read` once it is checked, from its head as the check found it ([`ObjectHead`]),
    /// on the thread that ran its part (what the caller would
    /// otherwise read from every changed object after the call, on one thread or with a
    /// second pass over all of them: the output guard reads identities so). `read` may run
    /// more than once for an object: when a part returns more or fewer objects than it was
    /// handed, the joined output is compared and read again, as one list.
    pub fn transform_text_read<T: Send + Sync>(
        &self,
        ctx: &Context,
        config: &str,
        objects: &[String],
        read: &(dyn Fn(&ObjectHead<'_>) -> T + Sync),
    ) -> Result<TextOutput<T>> {
        let input_size = objects.iter().map(|o| o.len() as u64).sum::<u64>() + config.len() as u64;
        self.check_input(input_size)?;
        let plugin = || self.id.clone();
        let wit_ctx = wit::ReleaseContext {
            release_name: ctx.release_name.clone(),
            release_namespace: ctx.release_namespace.clone(),
            chart_name: ctx.chart_name.clone(),
            chart_version: ctx.chart_version.clone(),
            plugin_name: if ctx.plugin_name.is_empty() {
                self.id.name().to_owned()
            } else {
                ctx.plugin_name.clone()
            },
        };
        let cut =
            !self.one_call && objects.len() >= 2 * parts::PART_OBJECTS && self.per_object()?;
        let parts = if cut {
            parts::plan(objects)
        } else {
            Vec::new()
        };
        let (output, memory_bytes, returned) = if parts.len() > 1 {
            self.call_parts(&wit_ctx, config, objects, &parts, read)?
        } else {
            let (output, memory_bytes) = self.call_transform(&wit_ctx, config, objects)?;
            (output, memory_bytes, None)
        };
        let size = output.objects.iter().map(|o| o.len() as u64).sum::<u64>();
        if size > self.limits.max_output_bytes {
            return Err(Error::PluginOutputTooLarge {
                plugin: plugin(),
                size,
                limit: self.limits.max_output_bytes,
            });
        }
        let diagnostics: Vec<Diagnostic> = diagnostics(output.diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(Error::Denied {
                plugin: plugin(),
                diagnostics,
            });
        }
        let returned = returned.unwrap_or_else(|| Returned::of(objects, &output.objects, 0, read));
        if let Some((i, why)) = returned.first_bad {
            return Err(Error::BadOutput {
                plugin: plugin(),
                message: format!("object #{i} {why}"),
            });
        }
        Ok(TextOutput {
            objects: output.objects,
            unchanged: returned.unchanged,
            diagnostics,
            memory_bytes,
            read: returned.read,
        })
    }

    /// One `transform` call in a fresh instance: the guest's output and the memory it used.
    fn call_transform(
        &self,
        wit_ctx: &wit::ReleaseContext,
        config: &str,
        objects: &[String],
    ) -> Result<(wit::TransformOutput, u64)> {
        let plugin = || self.id.clone();
        let mut store = self.store();
        let instance = self.instantiate(&mut store)?;
        let result = match instance.call_transform(&mut store, wit_ctx, config, objects) {
            Ok(r) => r,
            Err(e) => return Err(self.call_error(&store, e)),
        };
        let memory_bytes = store.data().limiter.peak as u64;
        drop(store);
        match result {
            Ok(out) => Ok((out, memory_bytes)),
            Err(wit::TransformError::BadConfig(d)) => Err(Error::BadConfig {
                plugin: plugin(),
                diagnostics: diagnostics(d),
            }),
            Err(wit::TransformError::BadInput(message)) => Err(Error::BadInput {
                plugin: plugin(),
                message: guest_text(&message),
            }),
            Err(wit::TransformError::Failed(message)) => Err(Error::PluginFailed {
                plugin: plugin(),
                message: guest_text(&message),
            }),
        }
    }

    /// The parts of one call, on the caller's thread and as many extra threads as the runtime
    /// grants, taken in list order; once a part fails no later part starts, and the first
    /// failed part in list order is the error (every part before it has run by then).
    fn call_parts<T: Send + Sync>(
        &self,
        wit_ctx: &wit::ReleaseContext,
        config: &str,
        objects: &[String],
        parts: &[Range<usize>],
        read: &(dyn Fn(&ObjectHead<'_>) -> T + Sync),
    ) -> Result<(wit::TransformOutput, u64, Option<Returned<T>>)> {
        let threads = self.runtime.part_threads(parts.len() - 1);
        let next = AtomicUsize::new(0);
        let first_failed = AtomicUsize::new(usize::MAX);
        type Part<T> = (wit::TransformOutput, u64, Returned<T>);
        let results: Vec<OnceLock<Result<Part<T>>>> =
            parts.iter().map(|_| OnceLock::new()).collect();
        let work = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= parts.len() || i > first_failed.load(Ordering::Relaxed) {
                    break;
                }
                let part = parts[i].clone();
                // What came back is compared and checked here, on the part's own thread.
                let result = self
                    .call_transform(wit_ctx, config, &objects[part.clone()])
                    .map(|(out, memory)| {
                        let returned =
                            Returned::of(&objects[part.clone()], &out.objects, part.start, read);
                        (out, memory, returned)
                    })
                    .map_err(|e| in_part(e, &part));
                if result.is_err() {
                    first_failed.fetch_min(i, Ordering::Relaxed);
                }
                let _ = results[i].set(result);
            }
        };
        std::thread::scope(|s| {
            for _ in 0..threads.count() {
                s.spawn(work);
            }
            work();
        });
        drop(threads);
        let mut joined = wit::TransformOutput {
            objects: Vec::with_capacity(objects.len()),
            diagnostics: Vec::new(),
        };
        let mut memory_bytes = 0;
        // Positions in a part are positions in the list while every part returned as many
        // objects as it got; else what came back is compared again, as one list.
        let mut returned = Some(Returned::default());
        for (result, part) in results.into_iter().zip(parts) {
            let (out, memory, part_returned) = result
                .into_inner()
                .expect("every part before the first failed one has run")?;
            if out.objects.len() != part.len() {
                returned = None;
            }
            if let Some(all) = &mut returned {
                all.unchanged.extend(part_returned.unchanged);
                all.read.extend(part_returned.read);
                all.first_bad = all.first_bad.take().or(part_returned.first_bad);
            }
            joined.objects.extend(out.objects);
            joined.diagnostics.extend(out.diagnostics);
            memory_bytes = memory_bytes.max(memory);
        }
        Ok((joined, memory_bytes, returned))
    }
}

/// What a call returned, compared with what it was handed: which objects are byte for byte the
/// input at the same position, the first other one that is not one JSON object, and what the
/// caller's reader made of the others while none was bad.
#[derive(Debug)]
struct Returned<T> {
    unchanged: Vec<bool>,
    /// Its position (counted from `offset`) and what is wrong with it.
    first_bad: Option<(usize, String)>,
    read: Vec<Option<T>>,
}

impl<T> Default for Returned<T> {
    fn default() -> Self {
        Returned {
            unchanged: Vec::new(),
            first_bad: None,
            read: Vec::new(),
        }
    }
}

impl<T> Returned<T> {
    fn of(
        inputs: &[String],
        outputs: &[String],
        offset: usize,
        read: &(dyn Fn(&ObjectHead<'_>) -> T + Sync),
    ) -> Returned<T> {
        let mut returned = Returned {
            unchanged: Vec::with_capacity(outputs.len()),
            first_bad: None,
            read: Vec::with_capacity(outputs.len()),
        };
        for (i, text) in outputs.iter().enumerate() {
            let same = inputs.get(i).is_some_and(|input| input == text);
            let mut made = None;
            if !same && returned.first_bad.is_none() {
                match check_json_object_head(text) {
                    Ok(head) => made = Some(read(&head)),
                    Err(why) => returned.first_bad = Some((offset + i, why)),
                }
            }
            returned.unchanged.push(same);
            returned.read.push(made);
        }
        returned
    }
}

/// A part's failure as the call's: the guest counted objects from the part's first one, so a
/// message about "object #i" says which part it means.
fn in_part(err: Error, part: &Range<usize>) -> Error {
    match err {
        Error::BadInput { plugin, message } => Error::BadInput {
            plugin,
            message: format!(
                "{message} (in objects #{}..#{}, run as one part of a per-object transform: its object numbers count from #{})",
                part.start,
                part.end - 1,
                part.start
            ),
        },
        other => other,
    }
}

/// Rust guests print `panicked at src/lib.rs:3:5:\nmessage`; keep the message (and where).
fn panic_message(stderr: &str) -> Option<String> {
    if stderr.is_empty() {
        return None;
    }
    let start = stderr.find("panicked at ").unwrap_or(0);
    let text = &stderr[start..];
    let text = text
        .split("\nnote: run with `RUST_BACKTRACE")
        .next()
        .unwrap_or(text);
    Some(text.replace('\n', " ").trim().to_owned())
}

/// Most diagnostics kept from one call; the rest are counted in a final warning.
pub const MAX_DIAGNOSTICS: usize = 100;

/// Most characters kept of any one text a guest hands the host (a message, a field path, a name
/// in a diagnostic, a panic message).
pub const MAX_GUEST_TEXT: usize = 4096;

/// Guest text made safe to print and log: control characters (and Unicode line and paragraph
/// separators) escaped, so a guest cannot forge log lines or terminal output, and cut at
/// [`MAX_GUEST_TEXT`] characters.
pub(crate) fn guest_text(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX_GUEST_TEXT {
            out.push_str("…(truncated)");
            break;
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A guest's diagnostics, bounded: at most [`MAX_DIAGNOSTICS`] kept (errors first, so a denial
/// is never lost), every text escaped and cut by [`guest_text`].
fn diagnostics(list: Vec<wit::Diagnostic>) -> Vec<Diagnostic> {
    let total = list.len();
    let mut out: Vec<Diagnostic> = list.into_iter().map(diagnostic).collect();
    if total > MAX_DIAGNOSTICS {
        out.sort_by_key(|d| !d.is_error());
        out.truncate(MAX_DIAGNOSTICS);
        out.push(Diagnostic::new(
            Severity::Warning,
            format!(
                "{} more diagnostics dropped (at most {MAX_DIAGNOSTICS} are kept)",
                total - MAX_DIAGNOSTICS
            ),
        ));
    }
    out
}

fn diagnostic(d: wit::Diagnostic) -> Diagnostic {
    Diagnostic {
        severity: match d.severity {
            wit::Severity::Info => Severity::Info,
            wit::Severity::Warning => Severity::Warning,
            wit::Severity::Error => Severity::Error,
        },
        message: guest_text(&d.message),
        object: d.object.map(|o| ObjectRef {
            api_version: guest_text(&o.api_version),
            kind: guest_text(&o.kind),
            name: guest_text(&o.name),
            namespace: o.namespace.as_deref().map(guest_text),
        }),
        field: d.field.as_deref().map(guest_text),
    }
}

#[cfg(test)]
mod tests {
    use super::{check_json_object, check_json_object_head};

    #[test]
    fn returned_text_is_one_json_object_saying_each_top_level_key_once() {
        assert_eq!(
            check_json_object(r#" {"a":{"b":1,"b":2},"c":[1]} "#),
            Ok(())
        );
        assert_eq!(
            check_json_object(r#"{"kind":"A","metadata":{},"spec":1,"metadata":{"name":"x"}}"#),
            Err(
                r#"has the top-level key "metadata" more than once (accepted: each key once)"#
                    .to_owned()
            )
        );
        // Many keys, in any order: checked without comparing each with every other.
        let many: Vec<String> = (0..200_000).rev().map(|i| format!(r#""k{i}":0"#)).collect();
        assert_eq!(
            check_json_object(&format!("{{{}}}", many.join(","))),
            Ok(())
        );
        let repeated = format!(r#"{{{},"k7":1}}"#, many.join(","));
        assert_eq!(
            check_json_object(&repeated),
            Err(
                r#"has the top-level key "k7" more than once (accepted: each key once)"#.to_owned()
            )
        );
        // Spelled differently, the same key.
        assert!(check_json_object(r#"{"kind":"A","k\u0069nd":"B"}"#).is_err());
        for not_object in ["[1]", "1", "\"a\"", "null", "true"] {
            assert_eq!(
                check_json_object(not_object),
                Err("is not a JSON object".to_owned())
            );
        }
        for bad in ["{", r#"{"a":1} {}"#, r#"{"a":}"#] {
            let why = check_json_object(bad).expect_err(bad);
            assert!(why.starts_with("is not valid JSON: "), "{why}");
        }
    }

    #[test]
    fn the_check_keeps_the_text_of_the_head_and_refuses_what_it_refused() {
        let text = r#"{"spec":{"kind":"x"}, "k\u0069nd" : "Pod","metadata":{"name":"a","labels":{"b":"c"}},"z":1}"#;
        let head = check_json_object_head(text).expect("one object");
        assert_eq!(head.api_version.map(|v| v.get()), None);
        assert_eq!(head.kind.map(|v| v.get()), Some(r#""Pod""#));
        assert_eq!(
            head.metadata.map(|v| v.get()),
            Some(r#"{"name":"a","labels":{"b":"c"}}"#)
        );
        // Values of any type, nested as deep as they are: skipping a value and keeping its text
        // are one scan in serde_json, without its nesting limit (what is skipped is checked
        // when the object is built or written).
        let head = check_json_object_head(r#"{"apiVersion":[1],"metadata":null}"#).expect("object");
        assert_eq!(head.api_version.map(|v| v.get()), Some("[1]"));
        assert_eq!(head.metadata.map(|v| v.get()), Some("null"));
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        for key in ["metadata", "spec"] {
            let text = format!(r#"{{"{key}":{deep}}}"#);
            assert_eq!(check_json_object(&text), Ok(()), "{key}");
            let head = check_json_object_head(&text).expect(key);
            assert_eq!(head.metadata.is_some(), key == "metadata");
        }
        assert!(check_json_object_head(r#"{"metadata":{},"metadata":{}}"#).is_err());
    }
}
