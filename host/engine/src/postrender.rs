//! The post-render pipeline: a manifest stream in, split into objects, through N post-renderers in
//! order, a stream out. All-or-nothing: any failure (a trap, a timeout, a denial, bad output) returns
//! an error and no objects, so a partial stream can never be applied. With an [`OutputGuard`]
//! every step's output is checked against its input before the next step runs.

use std::time::{Duration, Instant};

use capstan_sdk::{Context, Diagnostic, NativePlugin, TransformError};
use capstan_wasm::WasmPlugin;
use serde_json::Value;

use crate::guard::{
    Identity, OutputGuard, StepInput, Violation, identity_of, identity_of_head, identity_of_text,
};
use crate::par;

/// Objects per thread below which encoding, decoding or writing them stays on one thread.
const MIN_OBJECTS_PER_THREAD: usize = 64;

/// Bytes of YAML per thread below which a stream is read on one thread.
const MIN_YAML_BYTES_PER_THREAD: usize = 128 << 10;

/// A post-render pipeline failed; nothing should be applied.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input stream is not YAML.
    #[error("cannot parse the manifest stream")]
    ParseManifests(#[source] capstan_yaml::Error),
    /// A document is not a map (so not a Kubernetes object).
    #[error("document #{index} of the manifest stream is not a Kubernetes object (got {found})")]
    NotAnObject {
        /// 0-based document index (empty documents not counted).
        index: usize,
        /// What it was instead.
        found: &'static str,
    },
    /// A post-renderer's config was rejected before anything ran.
    #[error("post-renderer #{index} ({name}): invalid config")]
    ValidateConfig {
        /// 0-based position in the chain.
        index: usize,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: Box<capstan_wasm::Error>,
    },
    /// A Wasm post-renderer failed.
    #[error("post-renderer #{index} ({name})")]
    RunPostRenderer {
        /// 0-based position in the chain.
        index: usize,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: Box<capstan_wasm::Error>,
    },
    /// A native post-renderer failed.
    #[error("post-renderer #{index} ({name}): {source}")]
    RunNative {
        /// 0-based position in the chain.
        index: usize,
        /// Its name.
        name: String,
        /// Why.
        source: Box<TransformError>,
    },
    /// A native post-renderer denied the release.
    #[error("post-renderer #{index} ({name}) denied the release: {}", errors(.diagnostics))]
    DeniedNative {
        /// 0-based position in the chain.
        index: usize,
        /// Its name.
        name: String,
        /// Its findings.
        diagnostics: Vec<Diagnostic>,
    },
    /// A kustomize post-renderer failed (bad patch, failed merge).
    #[error("post-renderer #{index} ({name})")]
    RunKustomize {
        /// 0-based position in the chain.
        index: usize,
        /// Its name.
        name: String,
        /// Why, naming the patch entry and object.
        #[source]
        source: Box<capstan_kustomize::Error>,
    },
    /// A native post-renderer returned something that is not JSON objects.
    #[error("post-renderer #{index} ({name}) returned bad output: {message}")]
    BadNativeOutput {
        /// 0-based position in the chain.
        index: usize,
        /// Its name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A post-renderer returned objects the output guard refuses (see [`crate::guard`]).
    #[error(
        "post-renderer #{index} ({name}{}) returned output the release may not apply",
        plugin.as_ref().map(|p| format!(", plugin {p}")).unwrap_or_default()
    )]
    GuardOutput {
        /// 0-based position in the chain.
        index: usize,
        /// The step's name.
        name: String,
        /// `"name@sha256:…"` for a Wasm plugin.
        plugin: Option<String>,
        /// What it did: rule, object, field, found, accepted.
        #[source]
        source: Box<Violation>,
    },
}

fn errors(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The diagnostics of a denial, if this is one.
    pub fn denial(&self) -> Option<&[Diagnostic]> {
        match self {
            Error::RunPostRenderer { source, .. } => match source.as_ref() {
                capstan_wasm::Error::Denied { diagnostics, .. } => Some(diagnostics),
                _ => None,
            },
            Error::DeniedNative { diagnostics, .. } => Some(diagnostics),
            _ => None,
        }
    }

    /// What the output guard refused, if that is why the chain failed.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Error::GuardOutput { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a post-renderer runs.
#[derive(Debug, Clone)]
pub enum Transform {
    /// A sandboxed Wasm plugin.
    Wasm(WasmPlugin),
    /// A transform compiled into this binary (benchmarks, tests, built-ins).
    Native(NativePlugin),
    /// Flux's kustomize post-renderer (patches and images), run natively.
    Kustomize(Box<capstan_kustomize::Kustomize>),
}

/// One step of the chain: a transform plus its config.
#[derive(Debug, Clone)]
pub struct PostRenderer {
    /// The name it is referenced by.
    pub name: String,
    /// Its per-use config (`null` if none).
    pub config: Value,
    /// What runs.
    pub transform: Transform,
}

impl PostRenderer {
    /// A Wasm post-renderer.
    pub fn wasm(plugin: WasmPlugin, config: Value) -> Self {
        PostRenderer {
            name: plugin.id().name().to_owned(),
            config,
            transform: Transform::Wasm(plugin),
        }
    }

    /// A kustomize post-renderer (no config: the spec is the config).
    pub fn kustomize(name: impl Into<String>, spec: capstan_kustomize::Kustomize) -> Self {
        PostRenderer {
            name: name.into(),
            config: Value::Null,
            transform: Transform::Kustomize(Box::new(spec)),
        }
    }

    /// A native post-renderer.
    pub fn native(name: impl Into<String>, plugin: NativePlugin, config: Value) -> Self {
        PostRenderer {
            name: name.into(),
            config,
            transform: Transform::Native(plugin),
        }
    }
}

/// A finding from one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDiagnostic {
    /// The step's name.
    pub step: String,
    /// The finding.
    pub diagnostic: Diagnostic,
}

/// What the pipeline produced.
#[derive(Debug, Clone, Default)]
pub struct PipelineOutput {
    /// The final objects.
    pub objects: Vec<Value>,
    /// Non-fatal findings, in step order.
    pub diagnostics: Vec<StepDiagnostic>,
    /// How long each step took.
    pub timings: Vec<(String, Duration)>,
}

/// What the pipeline produced besides the objects, when they were written as a stream.
#[derive(Debug, Clone, Default)]
pub struct StreamOutput {
    /// Non-fatal findings, in step order.
    pub diagnostics: Vec<StepDiagnostic>,
    /// How long each step took.
    pub timings: Vec<(String, Duration)>,
}

/// An ordered chain of post-renderers.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    steps: Vec<PostRenderer>,
    guard: Option<OutputGuard>,
}

impl Pipeline {
    /// A chain of these steps, applied in order.
    pub fn new(steps: Vec<PostRenderer>) -> Self {
        Pipeline { steps, guard: None }
    }

    /// The same chain, with every step's output checked by `guard` against the step's input
    /// (CRDs in the chain's input are added to the guard's kind scopes).
    pub fn with_guard(mut self, guard: OutputGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// The steps.
    pub fn steps(&self) -> &[PostRenderer] {
        &self.steps
    }

    /// Checks every step's config before anything renders; returns the non-error findings.
    pub fn validate(&self) -> Result<Vec<StepDiagnostic>> {
        let mut out = Vec::new();
        for (index, step) in self.steps.iter().enumerate() {
            let diags = match &step.transform {
                Transform::Wasm(plugin) => {
                    plugin
                        .check_config(&step.config)
                        .map_err(|source| Error::ValidateConfig {
                            index,
                            name: step.name.clone(),
                            source: Box::new(source),
                        })?
                }
                Transform::Native(plugin) => {
                    let diags = (plugin.validate_config)(&step.config.to_string());
                    if diags.iter().any(Diagnostic::is_error) {
                        return Err(Error::RunNative {
                            index,
                            name: step.name.clone(),
                            source: Box::new(TransformError::BadConfig(diags)),
                        });
                    }
                    diags
                }
                // The spec was decoded and checked by the HelmRelease parser; patches are parsed
                // when they run, and their errors name the entry.
                Transform::Kustomize(_) => Vec::new(),
            };
            out.extend(diags.into_iter().map(|diagnostic| StepDiagnostic {
                step: step.name.clone(),
                diagnostic,
            }));
        }
        Ok(out)
    }

    /// Runs every step in order over the objects.
    ///
    /// Between steps each object is kept as JSON text, as a parsed value, or both — whichever
    /// the steps so far needed (see [`Item`]): Wasm and native steps take text, so a chain of
    /// them hands one step's output to the next without decoding and re-encoding it; an object
    /// a step returns byte for byte unchanged keeps its parsed value; values are built only for
    /// the objects that changed, once, at the end (or before a kustomize step).
    pub fn run(&self, ctx: &Context, objects: Vec<Value>) -> Result<PipelineOutput> {
        let items = objects.into_iter().map(Item::from_value).collect();
        let (mut items, output) = self.run_items(ctx, items, Values::Keep)?;
        Ok(PipelineOutput {
            objects: values(&mut items, &self.steps)?,
            diagnostics: output.diagnostics,
            timings: output.timings,
        })
    }

    /// [`Pipeline::run`], writing the final objects as a YAML stream ([`write_manifests`]'s
    /// bytes) instead of handing them back: an object the last steps returned as JSON text is
    /// written from that text ([`capstan_yaml::json_to_string`]) without building its value.
    pub fn run_to_stream(
        &self,
        ctx: &Context,
        objects: Vec<Value>,
    ) -> Result<(String, StreamOutput)> {
        self.items_to_stream(ctx, objects.into_iter().map(Item::from_value).collect())
    }

    /// [`Pipeline::run_to_stream`] over objects given as their JSON text, each exactly what
    /// `serde_json` writes for the object ([`parse_manifest_texts`] reads a stream so): a chain
    /// whose first step takes text ([`Pipeline::reads_text`]) then never builds the input's values.
    pub fn run_texts_to_stream(
        &self,
        ctx: &Context,
        objects: Vec<String>,
    ) -> Result<(String, StreamOutput)> {
        self.items_to_stream(
            ctx,
            objects.into_iter().map(Item::from_input_text).collect(),
        )
    }

    fn items_to_stream(&self, ctx: &Context, items: Vec<Item>) -> Result<(String, StreamOutput)> {
        let (mut items, output) = self.run_items(ctx, items, Values::Drop)?;
        Ok((write_items(&mut items, &self.steps)?, output))
    }

    /// Whether a stream is best read with [`parse_manifest_texts`] and run with
    /// [`Pipeline::run_texts_to_stream`]: the first step takes objects as JSON text (a Wasm or
    /// native plugin), or there is no step (text is written back as YAML without building
    /// values: ~1.5x faster than through values on 10,000 objects). A kustomize step takes values.
    pub fn reads_text(&self) -> bool {
        self.steps
            .first()
            .is_none_or(|step| matches!(step.transform, Transform::Wasm(_) | Transform::Native(_)))
    }

    /// The chain over the objects: each object as the last step left it (see [`Item`]).
    fn run_items(
        &self,
        ctx: &Context,
        mut items: Vec<Item>,
        keep: Values,
    ) -> Result<(Vec<Item>, StreamOutput)> {
        // CRDs among the input decide the scope of their kinds.
        let guard = self.guard.as_ref().map(|g| {
            let mut g = g.clone();
            let from_text = text_crds(&items);
            let values = items.iter().filter_map(|item| item.value.as_ref());
            g.kinds.add_crds(values.chain(&from_text));
            g
        });
        let mut output = StreamOutput::default();
        // The identities of the objects the next step is handed, and what the guard knows of them.
        let mut next_input = None;
        for (index, step) in self.steps.iter().enumerate() {
            let ctx = Context {
                plugin_name: step.name.clone(),
                ..ctx.clone()
            };
            let input = guard.as_ref().map(|_| {
                next_input
                    .take()
                    .unwrap_or_else(|| (identities(&mut items), StepInput::default()))
            });
            let started = Instant::now();
            let (next, diags) = match &step.transform {
                Transform::Wasm(plugin) => {
                    let texts = take_texts(&mut items, keep);
                    // With a guard, the identity of each changed object is read where the
                    // object is checked, on the thread that ran its part.
                    let read = |head: &capstan_wasm::ObjectHead<'_>| {
                        guard.is_some().then(|| identity_of_head(head))
                    };
                    let out = plugin
                        .transform_text_read(&ctx, &step.config.to_string(), &texts, &read)
                        .map_err(|source| Error::RunPostRenderer {
                            index,
                            name: step.name.clone(),
                            source: Box::new(source),
                        })?;
                    drop(texts);
                    let next = out
                        .objects
                        .into_iter()
                        .zip(out.unchanged)
                        .zip(out.read)
                        .enumerate()
                        .map(|(i, ((text, same), read))| match items.get_mut(i) {
                            Some(old) if same => old.keep(text),
                            _ => Item {
                                identity: read.flatten(),
                                ..Item::from_text(text, index)
                            },
                        })
                        .collect();
                    (next, out.diagnostics)
                }
                Transform::Native(plugin) => {
                    let texts = take_texts(&mut items, keep);
                    run_native(index, step, plugin, &ctx, &texts, &mut items)?
                }
                Transform::Kustomize(spec) => {
                    let objects = values(&mut items, &self.steps)?;
                    let rendered =
                        capstan_kustomize::post_render(spec, objects).map_err(|source| {
                            Error::RunKustomize {
                                index,
                                name: step.name.clone(),
                                source: Box::new(source),
                            }
                        })?;
                    let diags = rendered
                        .warnings
                        .iter()
                        .map(|w| Diagnostic::warning(w.to_string()))
                        .collect();
                    (
                        rendered.objects.into_iter().map(Item::from_value).collect(),
                        diags,
                    )
                }
            };
            items = next;
            output.timings.push((step.name.clone(), started.elapsed()));
            if let (Some(guard), Some((before, known))) = (&guard, input) {
                let after = identities(&mut items);
                let known = guard.check_step(known, &before, &after).map_err(|source| {
                    Error::GuardOutput {
                        index,
                        name: step.name.clone(),
                        plugin: match &step.transform {
                            Transform::Wasm(p) => Some(p.id().to_string()),
                            _ => None,
                        },
                        source: Box::new(source),
                    }
                })?;
                next_input = Some((after, known));
            }
            output
                .diagnostics
                .extend(diags.into_iter().map(|diagnostic| StepDiagnostic {
                    step: step.name.clone(),
                    diagnostic,
                }));
        }
        Ok((items, output))
    }

    /// Parses a stream, runs the chain, writes a stream ([`Pipeline::run_to_stream`]).
    pub fn run_stream(&self, ctx: &Context, manifests: &str) -> Result<(String, StreamOutput)> {
        if self.reads_text() {
            self.run_texts_to_stream(ctx, parse_manifest_texts(manifests)?)
        } else {
            self.run_to_stream(ctx, parse_manifests(manifests)?)
        }
    }
}

/// One object between two steps: its parsed value, its JSON text (compact, sorted keys: what
/// `serde_json` writes), or both, and its identity (what the output guard reads) once computed.
/// Text that came from a step and was never parsed remembers that step, so a value that cannot
/// be built is blamed on it.
#[derive(Debug, Default)]
struct Item {
    value: Option<Value>,
    text: Option<String>,
    identity: Option<Identity>,
    /// The step whose output this text is, while it has no value.
    from_step: Option<usize>,
}

impl Item {
    fn from_value(value: Value) -> Self {
        Item {
            value: Some(value),
            ..Item::default()
        }
    }

    /// An input object given as its JSON text (`serde_json`'s, so it always parses).
    fn from_input_text(text: String) -> Self {
        Item {
            text: Some(text),
            ..Item::default()
        }
    }

    /// Text a step returned (already checked to be one JSON object).
    fn from_text(text: String, step: usize) -> Self {
        Item {
            text: Some(text),
            from_step: Some(step),
            ..Item::default()
        }
    }

    /// This object again, returned unchanged as `text` by a step.
    fn keep(&mut self, text: String) -> Item {
        Item {
            value: self.value.take(),
            text: Some(text),
            identity: self.identity.take(),
            from_step: self.from_step,
        }
    }

    fn text(&mut self) -> String {
        match self.text.take() {
            Some(text) => text,
            None => self
                .value
                .as_ref()
                .map_or_else(|| "{}".to_owned(), Value::to_string),
        }
    }
}

/// Whether a chain keeps each object's parsed value while a step has its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Values {
    /// Kept: an object the step returns unchanged needs no parsing at the end
    /// ([`Pipeline::run`] hands back values).
    Keep,
    /// Dropped as the text is made, on the threads that make it: the stream is written from
    /// text anyway ([`Pipeline::run_to_stream`]), and dropping ~1,000 values one step later
    /// on one thread was ~4 % of a `capstan transform` process (issue #12).
    Drop,
}

/// Every object's text, for a step (moved out: the step's output brings each one back).
fn take_texts(items: &mut [Item], values: Values) -> Vec<String> {
    par::map_mut(items, MIN_OBJECTS_PER_THREAD, |item| {
        let text = item.text();
        if values == Values::Drop {
            item.value = None;
        }
        text
    })
}

/// The CustomResourceDefinitions among objects given only as text, parsed.
fn text_crds(items: &[Item]) -> Vec<Value> {
    items
        .iter()
        .filter(|item| item.value.is_none())
        .filter_map(|item| item.text.as_deref())
        .filter(|text| text.contains("CustomResourceDefinition"))
        .filter_map(|text| serde_json::from_str(text).ok())
        .collect()
}

/// The identity of every object ([`crate::guard::identity_of`]): all the output guard reads.
/// Each is worked out once, then kept with its object, and shared with the step's input while
/// the guard compares the two.
fn identities(items: &mut [Item]) -> Vec<Identity> {
    par::map_mut(items, MIN_OBJECTS_PER_THREAD, |item| {
        if item.identity.is_none() {
            item.identity = Some(match (&item.value, &item.text) {
                (Some(value), _) => identity_of(value),
                (None, Some(text)) => identity_of_text(text),
                (None, None) => Identity::default(),
            });
        }
    });
    items
        .iter()
        .map(|item| item.identity.clone().unwrap_or_default())
        .collect()
}

/// Every object's value, building those that only have text.
fn values(items: &mut Vec<Item>, steps: &[PostRenderer]) -> Result<Vec<Value>> {
    each_object(
        items,
        steps,
        |value| value,
        |text| serde_json::from_str(text),
    )
}

/// Every object as a YAML stream: [`write_manifests`] of [`values`], without building the
/// values of objects that are only text (each is written from its text).
fn write_items(items: &mut Vec<Item>, steps: &[PostRenderer]) -> Result<String> {
    let docs = each_object(
        items,
        steps,
        |value| capstan_yaml::to_string(&value),
        capstan_yaml::json_to_string,
    )?;
    Ok(capstan_yaml::join_stream(&docs))
}

/// Every object made into a `T`, from its value if it has one, else from its text, on all
/// cores (a value is taken and dropped where it is made); the items are used up. The first
/// object whose text cannot be read is the one reported, however the work was split, and it is
/// blamed on the step that returned that text.
///
/// The texts (and identities) are freed afterwards, on this thread. A step's texts were
/// allocated on the threads that ran its parts, taking parts in turn, so each share of the items
/// holds blocks of both threads' allocator arenas; freed from both shares' threads at once, the
/// two threads contend for both arenas' locks and slow each other's own allocations too (issue
/// #12, the chain's 10,000 objects against the same objects read from YAML, in the same runs:
/// freeing took 7–10 ms of CPU against ~1 ms, and the conversion 32–35 ms of wall time against
/// 23–24 ms; freed here, 34–39 ms against 33–36 ms, and 2–3 ms more to free them).
fn each_object<T: Send>(
    items: &mut Vec<Item>,
    steps: &[PostRenderer],
    from_value: impl Fn(Value) -> T + Sync,
    from_text: impl Fn(&str) -> serde_json::Result<T> + Sync,
) -> Result<Vec<T>> {
    let made = par::map_mut(items, MIN_OBJECTS_PER_THREAD, |item| {
        match (item.value.take(), &item.text) {
            (Some(value), _) => Ok(from_value(value)),
            (None, Some(text)) => from_text(text).map_err(|e| (item.from_step, e)),
            (None, None) => Ok(from_value(Value::Null)),
        }
    });
    items.clear();
    made.into_iter()
        .enumerate()
        .map(|(i, made)| {
            made.map_err(|(step, e)| bad_output(steps, step, format!("object #{i}: {e}")))
        })
        .collect()
}

/// A step's output that was checked but still cannot be parsed (a number out of range, say).
fn bad_output(steps: &[PostRenderer], step: Option<usize>, message: String) -> Error {
    let index = step.unwrap_or(0);
    let name = steps.get(index).map(|s| s.name.clone()).unwrap_or_default();
    match steps.get(index).map(|s| &s.transform) {
        Some(Transform::Wasm(plugin)) => Error::RunPostRenderer {
            index,
            name,
            source: Box::new(capstan_wasm::Error::BadOutput {
                plugin: plugin.id().clone(),
                message,
            }),
        },
        _ => Error::BadNativeOutput {
            index,
            name,
            message,
        },
    }
}

fn run_native(
    index: usize,
    step: &PostRenderer,
    plugin: &NativePlugin,
    ctx: &Context,
    texts: &[String],
    items: &mut [Item],
) -> Result<(Vec<Item>, Vec<Diagnostic>)> {
    let raw = (plugin.transform)(ctx, &step.config.to_string(), texts).map_err(|source| {
        Error::RunNative {
            index,
            name: step.name.clone(),
            source: Box::new(source),
        }
    })?;
    if raw.diagnostics.iter().any(Diagnostic::is_error) {
        return Err(Error::DeniedNative {
            index,
            name: step.name.clone(),
            diagnostics: raw.diagnostics,
        });
    }
    let mut out = Vec::with_capacity(raw.objects.len());
    for (i, text) in raw.objects.into_iter().enumerate() {
        match items.get_mut(i) {
            Some(old) if texts.get(i) == Some(&text) => out.push(old.keep(text)),
            _ => {
                capstan_wasm::check_json_object(&text).map_err(|why| Error::BadNativeOutput {
                    index,
                    name: step.name.clone(),
                    message: format!("object #{i} {why}"),
                })?;
                out.push(Item::from_text(text, index));
            }
        }
    }
    Ok((out, raw.diagnostics))
}

/// Splits a YAML stream into Kubernetes objects (empty documents skipped).
///
/// A large stream is cut at document markers ([`capstan_yaml::split_stream`]) and the pieces
/// are read on all cores; if any piece fails, the whole stream is read again on one thread, so
/// the error (and its line number) is the one the whole stream gives.
pub fn parse_manifests(text: &str) -> Result<Vec<Value>> {
    read_stream(text, capstan_yaml::parse_stream, |doc| match doc {
        Value::Object(_) => b'{',
        Value::Array(_) => b'[',
        Value::String(_) => b'"',
        Value::Number(_) => b'0',
        Value::Bool(_) => b't',
        Value::Null => b'n',
    })
}

/// [`parse_manifests`] with each object as the compact JSON text `serde_json` writes for it
/// ([`capstan_yaml::parse_stream_texts`]): the same objects and errors, no values built.
pub fn parse_manifest_texts(text: &str) -> Result<Vec<String>> {
    read_stream(text, capstan_yaml::parse_stream_texts, |doc| {
        doc.as_bytes().first().copied().unwrap_or(b'n')
    })
}

/// The documents of a stream read by `parse` (see [`parse_manifests`]), each checked to be an
/// object by the first byte of its JSON text (`first_byte`).
fn read_stream<T: Send>(
    text: &str,
    parse: impl Fn(&str) -> capstan_yaml::Result<Vec<T>> + Sync,
    first_byte: impl Fn(&T) -> u8,
) -> Result<Vec<T>> {
    let parts = par::threads().min(text.len() / MIN_YAML_BYTES_PER_THREAD);
    let pieces = capstan_yaml::split_stream(text, parts);
    let read = if pieces.len() > 1 {
        par::map(&pieces, 1, |piece| parse(piece))
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .ok()
    } else {
        None
    };
    let docs = match read {
        Some(read) => read.into_iter().flatten().collect(),
        None => parse(text).map_err(Error::ParseManifests)?,
    };
    for (index, doc) in docs.iter().enumerate() {
        let found = match first_byte(doc) {
            b'{' => continue,
            b'[' => "a list",
            b'"' => "a string",
            b't' | b'f' => "a boolean",
            b'n' => "null",
            _ => "a number",
        };
        return Err(Error::NotAnObject { index, found });
    }
    Ok(docs)
}

/// Writes objects as a YAML stream ([`capstan_yaml::to_stream`]), a large one on all cores.
pub fn write_manifests(objects: &[Value]) -> String {
    par::map_chunks(objects, MIN_OBJECTS_PER_THREAD, capstan_yaml::to_stream).concat()
}

#[cfg(test)]
mod tests {
    use capstan_sdk::{Object, Output};
    use serde_json::json;

    use super::*;

    fn mk_stream() -> &'static str {
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n"
    }

    fn label_all(_: &Context, cfg: Value, mut objs: Vec<Object>) -> capstan_sdk::Result<Output> {
        for o in &mut objs {
            o.set_label("step", cfg["value"].as_str().unwrap_or("none"));
        }
        Ok(Output::new(objs))
    }

    fn deny_all(_: &Context, _: Value, objs: Vec<Object>) -> capstan_sdk::Result<Output> {
        let d = Diagnostic::error("no").on(&objs[0]).at("metadata.name");
        Ok(Output::new(objs).with_diagnostic(d))
    }

    const LABEL_ALL: NativePlugin = NativePlugin {
        transform: |c, cfg, o| capstan_sdk::run::<Value>(c, cfg, o, label_all),
        validate_config: |_| Vec::new(),
        per_object: false,
    };

    const DENY_ALL: NativePlugin = NativePlugin {
        transform: |c, cfg, o| capstan_sdk::run::<Value>(c, cfg, o, deny_all),
        validate_config: |_| Vec::new(),
        per_object: false,
    };

    #[test]
    fn steps_run_in_order() {
        let p = Pipeline::new(vec![
            PostRenderer::native("one", LABEL_ALL, json!({"value": "1"})),
            PostRenderer::native("two", LABEL_ALL, json!({"value": "2"})),
        ]);
        let (text, stream_out) = p
            .run_stream(&Context::default(), mk_stream())
            .expect("runs");
        let objects = parse_manifests(mk_stream()).expect("parses");
        let out = p.run(&Context::default(), objects).expect("runs");
        assert_eq!(out.objects.len(), 2);
        assert_eq!(out.objects[0]["metadata"]["labels"]["step"], "2");
        assert_eq!(out.timings.len(), 2);
        assert_eq!(stream_out.timings.len(), 2);
        assert_eq!(text, write_manifests(&out.objects));
        assert!(
            text.starts_with("---\napiVersion: v1\nkind: ConfigMap\n"),
            "{text}"
        );
    }

    /// Hands back, in place of each object, what the config's `texts` says (the input where
    /// it says nothing), then `add` if the config has it: JSON as any guest may write it.
    const RETURN_TEXTS: NativePlugin = NativePlugin {
        transform: |_, cfg, objects| {
            let cfg: Value = serde_json::from_str(cfg).expect("config");
            let mut objects: Vec<String> = objects
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    cfg["texts"][i]
                        .as_str()
                        .map_or_else(|| o.clone(), str::to_owned)
                })
                .collect();
            objects.extend(cfg["add"].as_str().map(str::to_owned));
            Ok(capstan_sdk::RawOutput {
                objects,
                diagnostics: Vec::new(),
            })
        },
        validate_config: |_| Vec::new(),
        per_object: false,
    };

    #[test]
    fn streams_written_from_returned_text_are_the_values_streams() {
        let texts = [
            r#"{"metadata":{"name":"a"},"kind":"ConfigMap","apiVersion":"v1","data":{"b":"x\ny\n","a":"yes","b":"on","c":1.50,"d":1e3,"e":"\u2028"}}"#,
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"b","labels":{}},"spec":{"ports":[{"port":80}],"x":[]}}"#,
        ];
        let p = Pipeline::new(vec![
            PostRenderer::native("one", LABEL_ALL, json!({"value": "1"})),
            PostRenderer::native("texts", RETURN_TEXTS, json!({"texts": texts})),
        ]);
        let (text, _) = p
            .run_stream(&Context::default(), mk_stream())
            .expect("runs");
        let out = p
            .run(
                &Context::default(),
                parse_manifests(mk_stream()).expect("parses"),
            )
            .expect("runs");
        assert_eq!(out.objects[0]["data"]["b"], "on");
        assert_eq!(text, write_manifests(&out.objects));
        // Text that is one JSON object but holds no value fails as building the value fails.
        let bad = Pipeline::new(vec![PostRenderer::native(
            "texts",
            RETURN_TEXTS,
            json!({"texts": [Value::Null, r#"{"a":1e999}"#]}),
        )]);
        let streamed = bad
            .run_stream(&Context::default(), mk_stream())
            .expect_err("out of range");
        let built = bad
            .run(
                &Context::default(),
                parse_manifests(mk_stream()).expect("parses"),
            )
            .expect_err("out of range");
        assert_eq!(streamed.to_string(), built.to_string());
        assert!(
            streamed
                .to_string()
                .contains("object #1: number out of range"),
            "{streamed}"
        );
    }

    #[test]
    fn streams_read_as_text_are_the_values_streams() {
        // Same objects, bytes and errors as through values, on one piece and on several.
        let large = mk_large_stream(300);
        for text in [mk_stream(), "a: yes\nb: [1, 2.50, ~]\n", &large] {
            let texts = parse_manifest_texts(text).expect("parses");
            let values = parse_manifests(text).expect("parses");
            let via_values: Vec<String> = values.iter().map(Value::to_string).collect();
            assert_eq!(texts, via_values);
        }
        let bad = format!("{large}---\na: b\n  c: d\n");
        assert_eq!(
            parse_manifest_texts(&bad).expect_err("bad").to_string(),
            parse_manifests(&bad).expect_err("bad").to_string()
        );
        for (text, found) in [
            ("a: 1\n---\n- x\n", "a list"),
            ("a: 1\n---\nx\n", "a string"),
            ("a: 1\n---\n-1.5\n", "a number"),
            ("a: 1\n---\noff\n", "a boolean"),
        ] {
            let err = parse_manifest_texts(text).expect_err("not an object");
            assert!(
                matches!(err, Error::NotAnObject { index: 1, found: f } if f == found),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                parse_manifests(text).expect_err("same").to_string()
            );
        }
        // A chain and no chain write the same stream either way.
        for steps in [
            Vec::new(),
            vec![PostRenderer::native(
                "one",
                LABEL_ALL,
                json!({"value": "1"}),
            )],
        ] {
            let p = Pipeline::new(steps);
            let (streamed, _) = p.run_stream(&Context::default(), &large).expect("runs");
            let texts = parse_manifest_texts(&large).expect("parses");
            let values = parse_manifests(&large).expect("parses");
            let (from_texts, _) = p
                .run_texts_to_stream(&Context::default(), texts)
                .expect("runs");
            let (from_values, _) = p.run_to_stream(&Context::default(), values).expect("runs");
            assert_eq!(streamed, from_values);
            assert_eq!(from_texts, from_values);
        }
    }

    #[test]
    fn crds_given_as_text_decide_their_kinds_scope() {
        let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Cluster\n  names: {kind: Widget, plural: widgets}\n";
        let widget = r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"team"}}"#;
        let p = Pipeline::new(vec![PostRenderer::native(
            "add",
            RETURN_TEXTS,
            json!({"add": widget}),
        )])
        .with_guard(OutputGuard::new(
            "team",
            "team",
            crate::GuardPolicy::default(),
        ));
        assert!(p.reads_text());
        let streamed = p
            .run_stream(&Context::default(), crd)
            .expect_err("a cluster-scoped Widget added");
        let built = p
            .run(&Context::default(), parse_manifests(crd).expect("parses"))
            .expect_err("a cluster-scoped Widget added");
        assert_eq!(streamed.to_string(), built.to_string());
        assert_eq!(
            streamed.violation().map(|v| v.rule),
            Some(crate::guard::Rule::ClusterScoped),
            "{streamed}"
        );
        // Without the CRD, a Widget is namespaced: adding one in the release's namespace is fine.
        let namespaced =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: team\n";
        p.run_stream(&Context::default(), namespaced)
            .expect("a namespaced Widget");
    }

    #[test]
    fn a_step_may_not_say_two_things_about_an_object() {
        // JSON allows a key twice. A repeated top-level key is refused (readers disagree on
        // which value counts); below it, what is applied is the last value (serde_json, the
        // YAML writer), so that is what the guard judges.
        let before = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: team\n";
        let run = |text: &str| {
            Pipeline::new(vec![PostRenderer::native(
                "texts",
                RETURN_TEXTS,
                json!({ "texts": [text] }),
            )])
            .with_guard(OutputGuard::new(
                "team",
                "team",
                crate::GuardPolicy::default(),
            ))
            .run_stream(&Context::default(), before)
            .expect_err(text)
        };
        for text in [
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"team"},"metadata":{"name":"c","namespace":"kube-system"}}"#,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"team"},"zz":1,"metadata":{"name":"c","namespace":"kube-system"}}"#,
        ] {
            let err = run(text);
            assert!(
                matches!(&err, Error::BadNativeOutput { message, .. }
                    if message.contains(r#"object #0 has the top-level key "metadata" more than once"#)),
                "{err}"
            );
        }
        for (text, rule) in [
            (
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"team","namespace":"kube-system"}}"#,
                crate::guard::Rule::Namespace,
            ),
            (
                r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"team","labels":{"capstan.dev/name":"web","capstan.dev/name":"other"}}}"#,
                crate::guard::Rule::Ownership,
            ),
        ] {
            let err = run(text);
            assert_eq!(err.violation().map(|v| v.rule), Some(rule), "{text}: {err}");
        }
    }

    #[test]
    fn a_denial_yields_no_output() {
        let p = Pipeline::new(vec![
            PostRenderer::native("one", LABEL_ALL, json!({"value": "1"})),
            PostRenderer::native("deny", DENY_ALL, Value::Null),
        ]);
        let err = p
            .run_stream(&Context::default(), mk_stream())
            .expect_err("denied");
        let diags = err.denial().expect("is a denial");
        assert_eq!(
            diags[0].to_string(),
            "error: ConfigMap/a: metadata.name: no"
        );
        assert!(
            err.to_string()
                .contains("post-renderer #1 (deny) denied the release"),
            "{err}"
        );
    }

    #[test]
    fn non_objects_are_rejected_with_their_index() {
        let err = parse_manifests("a: 1\n---\n- x\n").expect_err("list");
        assert_eq!(
            err.to_string(),
            "document #1 of the manifest stream is not a Kubernetes object (got a list)"
        );
    }

    /// A stream big enough to be read and written on every core.
    fn mk_large_stream(docs: usize) -> String {
        let filler = "x".repeat(2000);
        (0..docs)
            .map(|i| {
                format!(
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{i}\ndata:\n  on: yes\n  n: {i}\n  f: |\n    {filler}\n"
                )
            })
            .collect()
    }

    #[test]
    fn large_streams_read_and_write_as_on_one_thread() {
        let text = mk_large_stream(300);
        assert!(text.len() >= 2 * MIN_YAML_BYTES_PER_THREAD);
        let objects = parse_manifests(&text).expect("parses");
        assert_eq!(objects, capstan_yaml::parse_stream(&text).expect("parses"));
        assert_eq!(objects.len(), 300);
        assert_eq!(objects[299]["data"]["true"], true);
        assert_eq!(write_manifests(&objects), capstan_yaml::to_stream(&objects));
        // An error late in the stream is reported with the whole stream's line number.
        let bad = format!("{text}---\na: b\n  c: d\n");
        let err = parse_manifests(&bad).expect_err("bad indentation");
        assert_eq!(
            err.to_string(),
            Error::ParseManifests(capstan_yaml::parse_stream(&bad).expect_err("bad")).to_string()
        );
        let Error::ParseManifests(capstan_yaml::Error::Parse { line, .. }) = err else {
            panic!("{err:?}");
        };
        assert_eq!(line, Some(text.lines().count() + 3));
        let non_object = format!("{text}---\n- x\n");
        assert!(matches!(
            parse_manifests(&non_object),
            Err(Error::NotAnObject { index: 300, .. })
        ));
    }

    #[test]
    fn zero_steps_reserialize() {
        let (text, _) = Pipeline::default()
            .run_stream(&Context::default(), "b: 1\na: yes\n")
            .expect("runs");
        assert_eq!(text, "---\na: true\nb: 1\n");
    }

    #[test]
    fn kustomize_steps_patch_and_warn_about_unmatched_targets() {
        let spec: capstan_kustomize::Kustomize = serde_json::from_value(json!({
            "patches": [
                {"target": {"kind": "Service"},
                 "patch": "- op: add\n  path: /metadata/labels\n  value: {patched: \"yes\"}\n"},
                {"target": {"kind": "Deployment"},
                 "patch": "- op: add\n  path: /metadata/labels\n  value: {}\n"}
            ]
        }))
        .expect("kustomize spec");
        let p = Pipeline::new(vec![
            PostRenderer::kustomize("kustomize", spec),
            PostRenderer::native("two", LABEL_ALL, json!({"value": "2"})),
        ]);
        assert!(p.validate().expect("no config to check").is_empty());
        let objects = parse_manifests(mk_stream()).expect("parses");
        let out = p.run(&Context::default(), objects).expect("runs");
        assert_eq!(out.objects[1]["metadata"]["labels"]["patched"], "yes");
        assert_eq!(out.objects[1]["metadata"]["labels"]["step"], "2");
        assert_eq!(out.diagnostics.len(), 1, "{:?}", out.diagnostics);
        assert_eq!(out.diagnostics[0].step, "kustomize");
        assert!(
            out.diagnostics[0]
                .diagnostic
                .to_string()
                .contains("patches[1]"),
            "{}",
            out.diagnostics[0].diagnostic
        );
    }

    #[test]
    fn a_failing_kustomize_patch_names_the_step() {
        let spec: capstan_kustomize::Kustomize = serde_json::from_value(json!({
            "patches": [{"target": {"kind": "Service"},
                         "patch": "- op: replace\n  path: /spec/nothing/here\n  value: 1\n"}]
        }))
        .expect("kustomize spec");
        let p = Pipeline::new(vec![PostRenderer::kustomize("kustomize", spec)]);
        let err = p
            .run_stream(&Context::default(), mk_stream())
            .expect_err("patch fails");
        assert!(
            matches!(err, Error::RunKustomize { index: 0, .. }),
            "{err:?}"
        );
        assert!(err.denial().is_none());
    }
}
