//! One Kubernetes object as a JSON map, with typed access to the metadata every transform touches.
//! Objects stay untyped (`serde_json`) so a transform works on any kind, CRDs included, and
//! round-trips fields it does not know about.
//!
//! An object handed over by the host is parsed lazily (issue #12): on arrival only its head
//! (`apiVersion`, `kind`, `metadata`) is built, reading the text only as far as the last of
//! them (in the host's sorted text, `spec` and the rest are not even scanned); the rest is parsed
//! the first time a transform reads past the head, around the head already built. Until something
//! asks for the object mutably, it keeps the host's text, and that text is what goes back: an
//! object a transform only looked at (or never touched) costs no full parse, no re-encoding, and
//! the host, finding the same bytes it sent, keeps its own parsed copy. The host's text is
//! compact JSON with sorted keys — exactly what re-encoding the parsed map would give — so the
//! output bytes do not depend on whether an object was parsed. A transform that changes only
//! `metadata` (labels, annotations) before reading past the head gets the head's map to change,
//! and the object goes back as the host's text with only `metadata` encoded again in its place:
//! the body is never parsed or encoded (the same bytes as encoding the whole object).

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::ObjectRef;

/// One Kubernetes object (`apiVersion`, `kind`, `metadata`, …).
#[derive(Clone, Default)]
pub struct Object(Repr);

#[derive(Clone)]
enum Repr {
    /// Built or changed by the transform: the map is the object.
    Parsed(Map<String, Value>),
    /// Exactly as the host sent it.
    Received {
        /// The host's JSON text, returned as it is.
        text: String,
        /// `apiVersion`, `kind` and `metadata`, parsed on arrival.
        head: Map<String, Value>,
        /// The whole map, once something read past the head.
        full: OnceLock<Map<String, Value>>,
        /// `metadata` in `head` was handed out mutably before anything read past the head: the
        /// object goes back as `text` with that one entry re-encoded ([`splice`]).
        metadata_changed: bool,
        /// One map below the top level (a pod template's `metadata`) parsed alone and handed out
        /// mutably before anything read past the head ([`Object::inner_map_mut`]): the object
        /// goes back as `text` with that value re-encoded in place, and the body around it is
        /// never parsed.
        inner: Option<Box<Inner>>,
        /// Values below the head replaced before anything read past the head
        /// ([`Object::replace_received_values`]): their span in `text` and their new JSON text.
        values: Vec<(std::ops::Range<usize>, String)>,
    },
}

/// A map inside a received object's text, parsed alone ([`Object::inner_map_mut`]).
#[derive(Clone)]
struct Inner {
    /// The keys from the object's root to the map.
    path: Vec<&'static str>,
    /// Where its value is in the received text.
    span: std::ops::Range<usize>,
    map: Map<String, Value>,
}

/// Puts `inner` at `path` in `root`, where the whole object, once parsed, has it (every level
/// on the way is a map: the received text had one there).
fn put_inner(path: &[&'static str], root: &mut Map<String, Value>, inner: Map<String, Value>) {
    let (last, above) = path.split_last().expect("an inner map is below the root");
    let mut at = root;
    for key in above {
        at = at
            .get_mut(*key)
            .and_then(Value::as_object_mut)
            .expect("the received text has a map at every level above an inner map");
    }
    at.insert((*last).to_owned(), Value::Object(inner));
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Parsed(Map::new())
    }
}

/// The head of an object: the keys targeting and the metadata accessors read.
pub(crate) const HEAD_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn read_head(text: &str) -> Result<Map<String, Value>, ReceiveError> {
    match read_compact_head(text) {
        Some(head) => Ok(head),
        None => read_head_visiting(text),
    }
}

/// [`read_head`] by serde_json's reader, for any text.
fn read_head_visiting(text: &str) -> Result<Map<String, Value>, ReceiveError> {
    let mut head = Map::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let read = de::Deserializer::deserialize_map(&mut de, HeadVisitor { head: &mut head });
    match read {
        Ok(()) => de.end().map(|()| head).map_err(ReceiveError::NotJson),
        Err(_) if head.len() == HEAD_KEYS.len() => Ok(head),
        Err(e) => Err(match e.classify() {
            serde_json::error::Category::Data => ReceiveError::NotAnObject,
            _ => ReceiveError::NotJson(e),
        }),
    }
}

/// A JSON object key as a reader that skips most keys wants it: borrowed from the text unless
/// it has escapes. (The host's readers of objects use it too.)
#[derive(Debug)]
pub struct JsonKey<'de>(pub Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for JsonKey<'de> {
    fn deserialize<D: de::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_str(JsonKeyVisitor)
    }
}

struct JsonKeyVisitor;

impl<'de> Visitor<'de> for JsonKeyVisitor {
    type Value = JsonKey<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<JsonKey<'de>, E> {
        Ok(JsonKey(Cow::Borrowed(key)))
    }

    fn visit_str<E>(self, key: &str) -> Result<JsonKey<'de>, E> {
        Ok(JsonKey(Cow::Owned(key.to_owned())))
    }
}

/// Why a received text is not an object.
#[derive(Debug)]
pub(crate) enum ReceiveError {
    /// Not JSON at all.
    NotJson(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
}

/// Builds the head of an object, skipping (and checking) the other entries, until all of
/// [`HEAD_KEYS`] are read: then it stops, with an error that [`read_head`] takes as "done", and
/// the rest of the text (in the host's sorted text, `spec` and everything after `metadata`) is
/// not read at all. That rest is checked when the body is parsed, if it ever is; an object never
/// parsed goes back as the text it came as. The host sends only text it encoded itself or
/// checked to be one JSON object (`capstan_wasm::check_json_object`), so nothing goes unchecked.
struct HeadVisitor<'a> {
    head: &'a mut Map<String, Value>,
}

impl<'de> Visitor<'de> for HeadVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        while let Some(JsonKey(key)) = access.next_key()? {
            if HEAD_KEYS.contains(&key.as_ref()) && !self.head.contains_key(key.as_ref()) {
                let value: Value = access.next_value()?;
                self.head.insert(key.into_owned(), value);
                if self.head.len() == HEAD_KEYS.len() {
                    return Err(de::Error::custom("head read"));
                }
            } else {
                access.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl Object {
    /// Wraps a JSON map.
    pub fn new(map: Map<String, Value>) -> Self {
        Object(Repr::Parsed(map))
    }

    /// An object received as JSON text: the head is parsed (and so checked) now, the body when
    /// it is first needed ([`read_head`]).
    pub(crate) fn received(text: String) -> Result<Self, ReceiveError> {
        let head = read_head(&text)?;
        Ok(Object(Repr::Received {
            text,
            head,
            full: OnceLock::new(),
            metadata_changed: false,
            inner: None,
            values: Vec::new(),
        }))
    }

    /// The object as JSON text: the host's own text if the object was never changed.
    pub(crate) fn into_json(self) -> serde_json::Result<String> {
        match self.0 {
            Repr::Received {
                text,
                metadata_changed: false,
                inner: None,
                values,
                ..
            } if values.is_empty() => Ok(text),
            Repr::Received {
                text,
                head,
                full,
                metadata_changed,
                inner,
                values,
            } => match full.into_inner() {
                Some(map) => serde_json::to_string(&map),
                None => match splice(&text, &head, metadata_changed, inner.as_deref(), &values) {
                    Some(spliced) => spliced,
                    None => serde_json::to_string(&whole(
                        &text,
                        metadata_changed.then_some(head),
                        inner.map(|i| (i.path, i.map)),
                        &values,
                    )),
                },
            },
            Repr::Parsed(map) => serde_json::to_string(&map),
        }
    }

    /// Wraps a JSON value; `None` unless it is an object.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Object::new(map)),
            _ => None,
        }
    }

    /// The object as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.into_map())
    }

    /// The underlying map.
    pub fn into_map(self) -> Map<String, Value> {
        match self.0 {
            Repr::Parsed(map) => map,
            Repr::Received {
                text,
                head,
                full,
                metadata_changed,
                inner,
                values,
            } => full.into_inner().unwrap_or_else(|| {
                whole(
                    &text,
                    metadata_changed.then_some(head),
                    inner.map(|i| (i.path, i.map)),
                    &values,
                )
            }),
        }
    }

    /// The whole map (parsed now if only the head was).
    fn map(&self) -> &Map<String, Value> {
        match &self.0 {
            Repr::Parsed(map) => map,
            Repr::Received {
                text,
                full,
                head,
                metadata_changed,
                inner,
                values,
            } => full.get_or_init(|| {
                whole(
                    text,
                    metadata_changed.then(|| head.clone()),
                    inner.as_ref().map(|i| (i.path.clone(), i.map.clone())),
                    values,
                )
            }),
        }
    }

    /// The whole map, to change: from here on the object is the transform's, re-encoded on output.
    fn map_mut(&mut self) -> &mut Map<String, Value> {
        if let Repr::Received {
            text,
            head,
            full,
            metadata_changed,
            inner,
            values,
        } = &mut self.0
        {
            let map = full.take().unwrap_or_else(|| {
                whole(
                    text,
                    metadata_changed.then(|| std::mem::take(head)),
                    inner.take().map(|i| (i.path, i.map)),
                    values,
                )
            });
            self.0 = Repr::Parsed(map);
        }
        match &mut self.0 {
            Repr::Parsed(map) => map,
            Repr::Received { .. } => unreachable!("made parsed just above"),
        }
    }

    /// What the head accessors read: the head while the object is unchanged, else the map.
    fn head(&self) -> &Map<String, Value> {
        match &self.0 {
            Repr::Parsed(map) => map,
            Repr::Received { head, .. } => head,
        }
    }

    fn str_field(&self, key: &str) -> &str {
        self.head().get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn meta_str(&self, key: &str) -> Option<&str> {
        self.head().get("metadata")?.get(key)?.as_str()
    }

    /// `apiVersion` (empty if missing).
    pub fn api_version(&self) -> &str {
        self.str_field("apiVersion")
    }

    /// The API group: `apps` for `apps/v1`, empty for the core group (`v1`).
    pub fn group(&self) -> &str {
        match self.api_version().rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    /// The API version without the group: `v1` for `apps/v1`.
    pub fn version(&self) -> &str {
        match self.api_version().rsplit_once('/') {
            Some((_, version)) => version,
            None => self.api_version(),
        }
    }

    /// `kind` (empty if missing).
    pub fn kind(&self) -> &str {
        self.str_field("kind")
    }

    /// `metadata.name` (empty if missing).
    pub fn name(&self) -> &str {
        self.meta_str("name").unwrap_or("")
    }

    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.meta_str("namespace").filter(|ns| !ns.is_empty())
    }

    /// A reference naming this object, for diagnostics.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version().to_owned(),
            kind: self.kind().to_owned(),
            name: self.name().to_owned(),
            namespace: self.namespace().map(str::to_owned),
        }
    }

    /// `metadata`, created empty if missing (or replaced if not a map).
    ///
    /// An object received with a `metadata` map and not yet read past its head stays as
    /// received: the map handed out is the head's, and on output only that entry is encoded
    /// again and put in place of the old one in the host's text, so a transform that changes
    /// only metadata (labels, annotations) never parses or encodes the body.
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let in_head = matches!(&self.0, Repr::Received { head, full, .. }
            if full.get().is_none() && head.get("metadata").is_some_and(Value::is_object));
        if in_head {
            if let Repr::Received {
                head,
                metadata_changed,
                ..
            } = &mut self.0
                && let Some(Value::Object(metadata)) = head.get_mut("metadata")
            {
                *metadata_changed = true;
                return metadata;
            }
            unreachable!("a received object whose head has a metadata map");
        }
        ensure_map(self.map_mut(), "metadata")
    }

    /// The map at `path` (keys from the root, at least one), parsed alone from the received
    /// text, if the object is still as received past its head and the text holds a map there,
    /// reached through maps that each say their key once and spell every key plainly (compact
    /// text, as the host sends). `None` otherwise, and the caller takes the whole map
    /// ([`DerefMut`]). On output only that value is encoded again, in place, so a transform that
    /// changes only e.g. a pod template's labels never parses or encodes the pod spec (issue
    /// #12: set-labels spent most of its time on the bodies of workloads). One such map at a
    /// time: asking for another path first builds the whole object.
    pub(crate) fn inner_map_mut(
        &mut self,
        path: &[&'static str],
    ) -> Option<&mut Map<String, Value>> {
        let Repr::Received {
            text, full, inner, ..
        } = &mut self.0
        else {
            return None;
        };
        if full.get().is_some() || path.is_empty() {
            return None;
        }
        if inner.as_ref().is_some_and(|i| i.path != path) {
            return None;
        }
        if inner.is_none() {
            let span = value_at(text, path)?;
            let Ok(Value::Object(map)) = serde_json::from_str(text.get(span.clone())?) else {
                return None;
            };
            *inner = Some(Box::new(Inner {
                path: path.to_vec(),
                span,
                map,
            }));
        }
        inner.as_mut().map(|i| &mut i.map)
    }

    /// The received text, while the object is as received past its head (nothing read or
    /// changed there, no value replaced yet): where [`Object::replace_received_values`] finds
    /// what it replaces. Once values are replaced the text is no longer the object's, so a
    /// later change works on the parsed object.
    pub(crate) fn received_body(&self) -> Option<&str> {
        match &self.0 {
            Repr::Received {
                text, full, values, ..
            } if full.get().is_none() && values.is_empty() => Some(text),
            _ => None,
        }
    }

    /// Replaces values below the head, each given as its span in [`Object::received_body`] and
    /// its new JSON text, without parsing the object: on output they are put in place, and
    /// reading past the head parses the text with them in place. The spans must be whole
    /// values, apart from each other, the head's `metadata` and the inner map (issue #12:
    /// image-rewrite changes a workload's image strings and nothing else).
    pub(crate) fn replace_received_values(&mut self, new: Vec<(std::ops::Range<usize>, String)>) {
        match &mut self.0 {
            Repr::Received { full, values, .. } if full.get().is_none() => values.extend(new),
            _ => panic!("values are replaced only in an object as received"),
        }
    }

    /// `metadata.labels`, if present.
    pub fn labels(&self) -> Option<&Map<String, Value>> {
        self.head().get("metadata")?.get("labels")?.as_object()
    }

    /// `metadata.annotations`, if present.
    pub fn annotations(&self) -> Option<&Map<String, Value>> {
        self.head().get("metadata")?.get("annotations")?.as_object()
    }

    /// One label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels()?.get(key)?.as_str()
    }

    /// One annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations()?.get(key)?.as_str()
    }

    /// `metadata.labels`, created if missing.
    pub fn labels_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.metadata_mut(), "labels")
    }

    /// `metadata.annotations`, created if missing.
    pub fn annotations_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.metadata_mut(), "annotations")
    }

    /// Sets one label.
    pub fn set_label(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.labels_mut()
            .insert(key.into(), Value::String(value.into()));
    }

    /// Sets one annotation.
    pub fn set_annotation(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.annotations_mut()
            .insert(key.into(), Value::String(value.into()));
    }

    /// The value at a JSON pointer (`/spec/replicas`).
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return None;
        }
        let (first, rest) = split_pointer(pointer)?;
        let value = if HEAD_KEYS.contains(&first.as_str()) {
            self.head().get(&first)?
        } else {
            self.map().get(&first)?
        };
        if rest.is_empty() {
            Some(value)
        } else {
            value.pointer(rest)
        }
    }

    /// The mutable value at a JSON pointer (`/spec/replicas`).
    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        let (first, rest) = split_pointer(pointer)?;
        let value = self.map_mut().get_mut(&first)?;
        if rest.is_empty() {
            Some(value)
        } else {
            value.pointer_mut(rest)
        }
    }
}

/// Splits `/a/b/c` into the unescaped first token `a` and the rest `/b/c`.
fn split_pointer(pointer: &str) -> Option<(String, &str)> {
    let body = pointer.strip_prefix('/')?;
    let (first, rest) = match body.find('/') {
        Some(i) => (&body[..i], &body[i..]),
        None => (body, ""),
    };
    let first = if first.contains('~') {
        first.replace("~1", "/").replace("~0", "~")
    } else {
        first.to_owned()
    };
    Some((first, rest))
}

/// `map[key]` as a map, inserting (or replacing a non-map with) an empty one.
pub(crate) fn ensure_map<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("slot was just made an object"),
    }
}

/// `text` with the value of its top-level `metadata` replaced by `head`'s (if
/// `metadata_changed`) and the value at the inner map's span replaced by that map, each
/// encoded: the same bytes as encoding the whole object so changed when `text` is what
/// `serde_json` writes (compact, keys sorted), as the host's text is. `None` if `text` has no
/// top-level `metadata` map spelled plainly (then the caller parses and encodes the whole
/// object).
fn splice(
    text: &str,
    head: &Map<String, Value>,
    metadata_changed: bool,
    inner: Option<&Inner>,
    values: &[(std::ops::Range<usize>, String)],
) -> Option<serde_json::Result<String>> {
    let encode = |map: &Map<String, Value>| serde_json::to_string(map);
    let mut edits: Vec<(std::ops::Range<usize>, std::borrow::Cow<'_, str>)> = values
        .iter()
        .map(|(span, v)| (span.clone(), v.as_str().into()))
        .collect();
    if metadata_changed {
        let metadata = head.get("metadata")?.as_object()?;
        match encode(metadata) {
            Ok(m) => edits.push((top_level_value(text, "metadata")?, m.into())),
            Err(e) => return Some(Err(e)),
        }
    }
    if let Some(inner) = inner {
        match encode(&inner.map) {
            Ok(m) => edits.push((inner.span.clone(), m.into())),
            Err(e) => return Some(Err(e)),
        }
    }
    replace_spans(text, edits).map(Ok)
}

/// `text` with each span replaced by its new text; `None` if two spans overlap. Every span
/// starts and ends at ASCII bytes (a whole JSON value), so on char boundaries.
fn replace_spans(
    text: &str,
    mut edits: Vec<(std::ops::Range<usize>, std::borrow::Cow<'_, str>)>,
) -> Option<String> {
    edits.sort_by_key(|(span, _)| span.start);
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for (span, new) in edits {
        if span.start < at {
            return None; // nested or overlapping: not separate values
        }
        out.push_str(text.get(at..span.start)?);
        out.push_str(&new);
        at = span.end;
    }
    out.push_str(text.get(at..)?);
    Some(out)
}

/// The whole object from its received text, with what was changed before it was built: the
/// replaced values, the changed head's `metadata` (if given) and the inner map (if any).
fn whole(
    text: &str,
    changed_head: Option<Map<String, Value>>,
    inner: Option<(Vec<&'static str>, Map<String, Value>)>,
    values: &[(std::ops::Range<usize>, String)],
) -> Map<String, Value> {
    let edited;
    let text = if values.is_empty() {
        text
    } else {
        let edits = values
            .iter()
            .map(|(span, v)| (span.clone(), v.as_str().into()));
        edited = replace_spans(text, edits.collect())
            .expect("replaced values are separate values of the received text");
        &edited
    };
    let mut map = match changed_head {
        Some(head) => parse_around_head(text, head),
        None => parse(text),
    };
    if let Some((path, m)) = inner {
        put_inner(&path, &mut map, m);
    }
    map
}

/// Whether the entry `name` (as written, its value at `value` in `object`) has the key `key`;
/// `None` if it is `key` spelled with escapes (`t\u0065mplate`): not text serde_json writes, so
/// the caller parses the whole object instead. Keys serde_json escapes (quotes, backslashes,
/// control characters) are other keys.
pub(crate) fn key_is(
    object: &str,
    name: &[u8],
    value: &std::ops::Range<usize>,
    key: &str,
) -> Option<bool> {
    if !name.contains(&b'\\') {
        return Some(name == key.as_bytes());
    }
    // The key with its quotes ends just before the `:` that precedes the value.
    let quoted = object.get(value.start.checked_sub(name.len() + 3)?..value.start - 1)?;
    match serde_json::from_str::<String>(quoted).ok()? == key {
        true => None,
        false => Some(false),
    }
}

/// The byte range of the value at `path` in `text`, descending through compact objects in
/// which each key on the way is said once and written plainly (so the value found is the one a
/// parser keeps, serde_json keeping the last of a repeated key, and the text around it is as
/// serde_json writes it).
///
/// One pass (issue #12): the value of a key on the way is walked by the level below, which
/// finds where it ends, instead of being skipped first and walked again (a pod spec at
/// `spec.template.spec` was read four times before its own entries were).
pub(crate) fn value_at(text: &str, path: &[&str]) -> Option<std::ops::Range<usize>> {
    if path.is_empty() {
        return Some(0..text.len());
    }
    let mut skip = |start| {
        let end = skip_value(text.as_bytes(), start)?;
        Some((start..end, end))
    };
    object_at(text, 0, path, &mut skip).map(|(found, _)| found)
}

/// The entries of the object at `path` in `text` (found as [`value_at`] finds it), as
/// [`top_level_entries`] gives them, and the object's byte range: one pass over the text, its
/// entries read where the walk reaches them (issue #12: a pod spec's lists).
pub(crate) fn entries_at<'a>(
    text: &'a str,
    path: &[&str],
) -> Option<(std::ops::Range<usize>, Vec<Entry<'a>>)> {
    let mut entries = |start: usize| {
        let mut all = Vec::new();
        let mut end = start + 2; // `{}`
        for entry in top_level_entries(text.get(start..)?) {
            let (name, value) = entry.ok()?;
            end = start + value.end + 1;
            all.push((name, value));
        }
        Some(((start..end, all), end))
    };
    object_at(text, 0, path, &mut entries).map(|(found, _)| found)
}

/// An entry of a compact object: its key as written and the byte range of its value.
pub(crate) type Entry<'a> = (&'a [u8], std::ops::Range<usize>);

/// In the object starting at `text[start]`, what `last` makes of the value at `path` (from
/// where that value starts, with where it ends), and where the object ends. Each key on the
/// way must be said once, plainly, and lead to an object; the entries around it are skipped.
fn object_at<T>(
    text: &str,
    start: usize,
    path: &[&str],
    last: &mut impl FnMut(usize) -> Option<(T, usize)>,
) -> Option<(T, usize)> {
    let b = text.as_bytes();
    let (key, rest) = path.split_first()?;
    if b.get(start) != Some(&b'{') || b.get(start + 1) == Some(&b'}') {
        return None;
    }
    let mut found = None;
    let mut i = start + 1;
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip_string(b, i)?;
        if b.get(key_end) != Some(&b':') {
            return None;
        }
        let name = &b[i + 1..key_end - 1];
        let value_start = key_end + 1;
        // `key_is` reads an escaped key back from before its value's start.
        let value_end = if key_is(text, name, &(value_start..value_start), key)? {
            if found.is_some() || b.get(value_start) != Some(&b'{') {
                return None;
            }
            let (value, end) = if rest.is_empty() {
                last(value_start)?
            } else {
                object_at(text, value_start, rest, last)?
            };
            found = Some(value);
            end
        } else {
            skip_value(b, value_start)?
        };
        match b.get(value_end) {
            Some(b',') => i = value_end + 1,
            Some(b'}') => return Some((found?, value_end + 1)),
            _ => return None,
        }
    }
}

/// The byte range of the value of top-level key `key` (compared as written, escapes and all) in
/// `text`, one compact JSON object (no whitespace outside strings: what `serde_json` writes, and
/// what the host sends); found by skipping values, not parsing them. `None` if it is not there
/// or the text is not compact.
fn top_level_value(text: &str, key: &str) -> Option<std::ops::Range<usize>> {
    top_level_entries(text)
        .map_while(Result::ok)
        .find(|(name, _)| *name == key.as_bytes())
        .map(|(_, value)| value)
}

/// The entries of `text`, one compact JSON object, in order: each key as written (escapes and
/// all) and the byte range of its value, found by skipping values, not parsing them. An `Err`
/// ends them where the text is not that (whitespace outside strings, not an object).
pub(crate) fn top_level_entries(
    text: &str,
) -> impl Iterator<Item = Result<(&[u8], std::ops::Range<usize>), ()>> {
    let b = text.as_bytes();
    // Where the next entry starts (past the end for what is not an object: an `Err`); `None`
    // once they ended.
    let mut next = match b {
        [b'{', b'}', ..] => None,
        [b'{', ..] => Some(1),
        _ => Some(usize::MAX),
    };
    std::iter::from_fn(move || {
        let i = next.take()?;
        let entry = (|| {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let key_end = skip_string(b, i)?;
            if b.get(key_end) != Some(&b':') {
                return None;
            }
            let start = key_end + 1;
            let end = skip_value(b, start)?;
            match b.get(end) {
                Some(b',') => next = Some(end + 1),
                Some(b'}') => {}
                _ => return None,
            }
            Some((&b[i + 1..key_end - 1], start..end))
        })();
        Some(entry.ok_or(()))
    })
}

/// [`read_head`] of a compact object (the host's text: no whitespace outside strings, no escapes
/// in keys), finding each head entry by skipping the values before it and parsing only the head's
/// values. The visitor stops reading once it has the head by returning an error, and serde_json
/// works out a line and column for every error by scanning the text up to there (issue #12:
/// set-labels, which reads every head and changes only `metadata` on most objects, is ~5 %
/// faster per call). `None` for anything else, which the visitor reads and checks: not compact,
/// an escaped key, a head value that is not JSON, or an object without all of the head (read to
/// its end). The values skipped on the way are not checked here, as the visitor does not check
/// what comes after the head: the host sends only text it wrote or checked, and the body is
/// checked when it is parsed (text the host should not have sent then fails the call there,
/// as a trap, where the visitor would have reported `BadInput`).
fn read_compact_head(text: &str) -> Option<Map<String, Value>> {
    let mut head = Map::new();
    for entry in top_level_entries(text) {
        let (name, value) = entry.ok()?;
        if name.contains(&b'\\') {
            return None;
        }
        // The first of a repeated key counts, as the visitor reads it.
        if let Some(key) = HEAD_KEYS.iter().find(|k| k.as_bytes() == name)
            && !head.contains_key(*key)
        {
            // A whole value between ASCII bytes, so on char boundaries.
            let value: Value = serde_json::from_str(text.get(value)?).ok()?;
            head.insert((*key).to_owned(), value);
            if head.len() == HEAD_KEYS.len() {
                return Some(head);
            }
        }
    }
    None
}

/// Past the string starting at `b[i]` (a `"`), eight bytes at a time: the first quote or
/// backslash in a word is found from its bits, so a short key costs one word and a long value
/// (a config file in a ConfigMap, an `env` value) one step per eight bytes.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    /// The high bit of the first byte of `w` (in memory order) equal to `c` is set, and no bit
    /// below it; bits above it may be set too.
    const fn bytes_equal(w: u64, c: u8) -> u64 {
        let x = w ^ (ONES * c as u64);
        x.wrapping_sub(ONES) & !x & (ONES << 7)
    }
    let mut j = i + 1;
    loop {
        match b.get(j..j + 8) {
            Some(chunk) => {
                let w = u64::from_le_bytes(<[u8; 8]>::try_from(chunk).ok()?);
                let special = bytes_equal(w, b'"') | bytes_equal(w, b'\\');
                if special == 0 {
                    j += 8;
                    continue;
                }
                j += (special.trailing_zeros() / 8) as usize;
            }
            None => {
                while b.get(j).is_some_and(|c| !matches!(c, b'"' | b'\\')) {
                    j += 1;
                }
            }
        }
        match b.get(j)? {
            b'"' => return Some(j + 1),
            _ => j += 2, // a backslash and the character it escapes
        }
    }
}

/// Past the compact value starting at `b[i]`; `None` at whitespace outside strings.
pub(crate) fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    loop {
        match b.get(j)? {
            b'"' => {
                j = skip_string(b, j)?;
                if depth == 0 {
                    return Some(j);
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' | b',' if depth == 0 => return (j > i).then_some(j),
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => return None,
            _ => {}
        }
        j += 1;
    }
}

/// Parses a received text whole. Its head was checked on arrival; the rest was checked by the
/// host before it was sent (see [`HeadVisitor`]), so failing here means the host broke that.
fn parse(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{NOT_AN_OBJECT}: {e}"))
}

const NOT_AN_OBJECT: &str = "the host sent an object whose text is not one JSON object";

/// [`parse`], taking the head's entries from `head` (already built) instead of building them
/// again: an object a transform changes is read once, not twice.
fn parse_around_head(text: &str, head: Map<String, Value>) -> Map<String, Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    de::Deserializer::deserialize_map(&mut de, AroundHeadVisitor { head })
        .and_then(|map| de.end().map(|()| map))
        .unwrap_or_else(|e| panic!("{NOT_AN_OBJECT}: {e}"))
}

/// Builds a whole object, skipping the head's entries and moving them in from the head.
struct AroundHeadVisitor {
    head: Map<String, Value>,
}

impl<'de> Visitor<'de> for AroundHeadVisitor {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match self.head.remove(&key) {
                Some(value) => {
                    access.next_value::<IgnoredAny>()?;
                    map.insert(key, value);
                }
                None => {
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
            }
        }
        Ok(map)
    }
}

impl Deref for Object {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        self.map()
    }
}

impl DerefMut for Object {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.map_mut()
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.map() == other.map()
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Object").field(self.map()).finish()
    }
}

impl From<Map<String, Value>> for Object {
    fn from(map: Map<String, Value>) -> Self {
        Object::new(map)
    }
}

impl From<Object> for Value {
    fn from(obj: Object) -> Self {
        obj.into_value()
    }
}

impl TryFrom<Value> for Object {
    type Error = Value;
    fn try_from(value: Value) -> std::result::Result<Self, Value> {
        match value {
            Value::Object(map) => Ok(Object::new(map)),
            other => Err(other),
        }
    }
}

impl serde::Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.map().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Map::deserialize(d).map(Object::new)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// An object's text with keys in any order, repeated, escaped; values of every kind.
    fn mk_object_text(seed: &mut u64) -> String {
        fn next(seed: &mut u64, n: u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % n
        }
        const KEYS: &[&str] = &[
            "apiVersion",
            "kind",
            "metadata",
            "data",
            "spec",
            "zz",
            r#"k\u0069nd"#,
            "a",
        ];
        const VALUES: &[&str] = &[
            r#""v1""#,
            r#""Deploy\"ment""#,
            "3",
            "-1.5e3",
            "null",
            "true",
            "[]",
            "{}",
            r#"{"name":"web","labels":{"a":"b"}}"#,
            r#"[{"x":[1,{"y":"]}"}]},"}"]"#,
            r#"{"nested":{"deeper":[1,2,{"z":null}]}}"#,
        ];
        let entries: Vec<String> = (0..next(seed, 7))
            .map(|_| {
                let key = KEYS[next(seed, KEYS.len() as u64) as usize];
                let value = VALUES[next(seed, VALUES.len() as u64) as usize];
                let sep = if next(seed, 10) == 0 { ": " } else { ":" };
                format!(r#""{key}"{sep}{value}"#)
            })
            .collect();
        format!("{{{}}}", entries.join(","))
    }

    #[test]
    fn a_compact_head_is_read_as_the_visitor_reads_it() {
        let (mut fast, mut total) = (0, 0);
        for case in 1..20_000u64 {
            let mut seed = case.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let text = mk_object_text(&mut seed);
            let visited = read_head_visiting(&text);
            if let Some(head) = read_compact_head(&text) {
                fast += 1;
                assert_eq!(Some(&head), visited.as_ref().ok(), "case {case}: {text}");
            }
            total += 1;
        }
        // Objects with the whole head and no escaped key before it take the compact path
        // (363 of these 19,999); the rest fall back to the visitor.
        assert!(fast > 300, "{fast} of {total}");
    }

    fn mk_obj(v: Value) -> Object {
        Object::from_value(v).expect("test object is a map")
    }

    #[test]
    fn metadata_accessors() {
        let mut obj = mk_obj(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}}
        }));
        assert_eq!(obj.group(), "apps");
        assert_eq!(obj.version(), "v1");
        assert_eq!(obj.label("app"), Some("web"));
        assert_eq!(obj.object_ref().to_string(), "Deployment/prod/web");
        obj.set_annotation("a", "b");
        assert_eq!(obj.annotation("a"), Some("b"));
        assert_eq!(obj.pointer("/metadata/name"), Some(&json!("web")));
    }

    fn mk_received(text: &str) -> Object {
        Object::received(text.to_owned()).expect("a JSON object")
    }

    #[test]
    fn received_objects_read_their_head_without_the_body() {
        let text = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"labels":{"app":"w"},"name":"web","namespace":"prod"},"spec":{"replicas":2}}"#;
        let obj = mk_received(text);
        assert_eq!(obj.kind(), "Deployment");
        assert_eq!(obj.label("app"), Some("w"));
        assert_eq!(obj.pointer("/metadata/name"), Some(&json!("web")));
        match &obj.0 {
            Repr::Received { full, .. } => assert!(full.get().is_none(), "body not parsed"),
            Repr::Parsed(_) => panic!("still as received"),
        }
        assert_eq!(obj.pointer("/spec/replicas"), Some(&json!(2)));
        assert_eq!(
            obj.clone().into_json().expect("encodes"),
            text,
            "read only: same text"
        );
        let mut changed = obj.clone();
        changed.set_label("team", "a");
        assert_eq!(changed.label("team"), Some("a"));
        let mut expected: Value = serde_json::from_str(text).expect("json");
        expected["metadata"]["labels"]["team"] = json!("a");
        assert_eq!(changed.into_json().expect("encodes"), expected.to_string());
        assert_eq!(obj, mk_obj(serde_json::from_str(text).expect("json")));
    }

    /// The host's text of an object is what `serde_json` writes, so handing it back unparsed
    /// gives the same bytes as parsing and re-encoding it would (floats, escapes, Unicode,
    /// integers at the edges, nesting).
    #[test]
    fn an_untouched_object_is_what_re_encoding_would_give() {
        let value = json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "c", "annotations": {"z": "\u{2028}\"\\\n\t\u{1}", "a": "é😀"}},
            "data": {"f": 1e6, "g": 0.1, "h": -0.0, "i": u64::MAX, "j": i64::MIN, "k": 1.5e300,
                     "l": [null, true, {"b": 1, "a": [2.0, "x"]}]}
        });
        let text = value.to_string();
        let received = mk_received(&text);
        assert_eq!(received.clone().into_json().expect("encodes"), text);
        let reencoded = serde_json::to_string(&received.into_map()).expect("encodes");
        assert_eq!(reencoded, text);
    }

    #[test]
    fn received_text_must_be_one_json_object() {
        assert!(matches!(
            Object::received("[1]".into()),
            Err(ReceiveError::NotAnObject)
        ));
        assert!(matches!(
            Object::received(r#"{"kind": "A", "spec": {"x": }}"#.into()),
            Err(ReceiveError::NotJson(_))
        ));
        assert!(matches!(
            Object::received(r#"{"kind": "A"} {}"#.into()),
            Err(ReceiveError::NotJson(_))
        ));
        assert_eq!(
            read_head(r#"{"kind":"A","spec":{"big":[1,2,3]}}"#).ok(),
            json!({"kind": "A"}).as_object().cloned()
        );
    }

    #[test]
    fn reading_the_head_stops_after_its_last_key() {
        // Not JSON after `metadata`: never read on arrival, and handed back as it came.
        let text = r#"{"apiVersion":"v1","kind":"A","metadata":{"name":"a"},"spec":{"x": }}"#;
        let obj = mk_received(text);
        assert_eq!(obj.name(), "a");
        assert_eq!(obj.into_json().expect("encodes"), text);
        assert_eq!(
            read_head(r#"{"apiVersion":"v1","data":{"k":"v"},"kind":"A","metadata":{},"z":]"#).ok(),
            json!({"apiVersion": "v1", "kind": "A", "metadata": {}})
                .as_object()
                .cloned()
        );
        // Until the last head key, the text is checked as it is read.
        assert!(matches!(
            Object::received(
                r#"{"apiVersion":"v1","data":{"k": },"kind":"A","metadata":{}}"#.into()
            ),
            Err(ReceiveError::NotJson(_))
        ));
    }

    #[test]
    fn a_changed_object_is_parsed_around_its_head() {
        let text = r#"{"apiVersion":"v1","data":{"a":[1,2.5,null]},"kind":"ConfigMap","metadata":{"labels":{"x":"y"},"name":"c"},"z":{"q":true}}"#;
        let mut obj = mk_received(text);
        obj.set_annotation("n", "1");
        let mut expected: Value = serde_json::from_str(text).expect("json");
        expected["metadata"]["annotations"] = json!({"n": "1"});
        assert_eq!(obj.clone().into_value(), expected);
        assert_eq!(obj.into_json().expect("encodes"), expected.to_string());
        assert_eq!(
            mk_received(text).into_map(),
            serde_json::from_str::<Map<String, Value>>(text).expect("json")
        );
    }

    fn is_as_received(obj: &Object) -> bool {
        matches!(&obj.0, Repr::Received { full, .. } if full.get().is_none())
    }

    #[test]
    fn a_metadata_change_is_spliced_into_the_received_text() {
        // Strings with brackets, quotes and escapes before and after `metadata`.
        let value = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "data": {"a": "}]\"{[", "b": ["x", {"c": "\\"}], "n": -1.5e-7},
            "metadata": {"name": "c", "labels": {"x": "y"}, "annotations": {"q": "\u{2028}é"}},
            "z": [{"k": "metadata"}, true, null]
        });
        let text = value.to_string();
        let mut obj = mk_received(&text);
        obj.set_label("team", "a");
        assert!(is_as_received(&obj), "the body is not parsed");
        let mut expected = value.clone();
        expected["metadata"]["labels"]["team"] = json!("a");
        assert_eq!(
            obj.clone().into_json().expect("encodes"),
            expected.to_string()
        );

        // Reading past the head afterwards sees the change, and so does the output.
        let read = obj.clone();
        assert_eq!(read.pointer("/z/0/k"), Some(&json!("metadata")));
        assert_eq!(read.get("metadata"), expected.get("metadata"));
        assert_eq!(read.into_json().expect("encodes"), expected.to_string());

        // Changing the body afterwards keeps the metadata change.
        let mut both = obj;
        *both.pointer_mut("/data/n").expect("present") = json!(2);
        expected["data"]["n"] = json!(2);
        assert_eq!(both.into_json().expect("encodes"), expected.to_string());
    }

    #[test]
    fn a_metadata_change_without_a_plain_metadata_key_encodes_the_whole_object() {
        // An escaped key is `metadata` to JSON but not as written: parsed and encoded whole.
        let text = r#"{"apiVersion":"v1","kind":"A","metad\u0061ta":{"name":"a"},"spec":{"x":1}}"#;
        let mut obj = mk_received(text);
        obj.set_annotation("n", "1");
        let expected = json!({"apiVersion": "v1", "kind": "A",
            "metadata": {"name": "a", "annotations": {"n": "1"}}, "spec": {"x": 1}});
        assert_eq!(obj.into_json().expect("encodes"), expected.to_string());
        // No metadata at all: the map is made, the whole object encoded.
        let mut obj = mk_received(r#"{"apiVersion":"v1","kind":"A","spec":{}}"#);
        obj.set_label("x", "y");
        assert_eq!(
            obj.into_json().expect("encodes"),
            json!({"apiVersion": "v1", "kind": "A", "metadata": {"labels": {"x": "y"}}, "spec": {}})
                .to_string()
        );
    }

    #[test]
    fn top_level_values_are_found_by_skipping() {
        let text = r#"{"a":"x\"} ","b":[1,{"c":"]"}],"metadata":{"n":{}},"d":-2e5,"e":true}"#;
        let span = top_level_value(text, "metadata").expect("found");
        assert_eq!(&text[span], r#"{"n":{}}"#);
        let span = top_level_value(text, "d").expect("found");
        assert_eq!(&text[span], "-2e5");
        let span = top_level_value(text, "e").expect("found");
        assert_eq!(&text[span], "true");
        assert_eq!(top_level_value(text, "c"), None);
        // Whitespace outside strings: not the host's text, not spliced.
        assert_eq!(
            top_level_value(r#"{"a":1, "metadata":{}}"#, "metadata"),
            None
        );
        assert_eq!(
            top_level_value(r#"{"metadata":{"n": 1}}"#, "metadata"),
            None
        );
        assert_eq!(top_level_value("[1]", "a"), None);
        assert_eq!(top_level_value(r#"{"a":"unterminated"#, "a"), None);
    }

    #[test]
    fn core_group_and_missing_metadata() {
        let mut obj = mk_obj(json!({"apiVersion": "v1", "kind": "ConfigMap"}));
        assert_eq!(obj.group(), "");
        assert_eq!(obj.version(), "v1");
        assert_eq!(obj.name(), "");
        assert_eq!(obj.namespace(), None);
        obj.set_label("x", "y");
        assert_eq!(
            obj.into_value(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {"x": "y"}}})
        );
    }

    /// What set-labels does with `podTemplates: true`.
    fn label_with_template(obj: &mut Object) {
        use crate::{Metadata, pod_template_metadata_mut};
        obj.merge_labels([("team", "a")]);
        if let Some(mut metadata) = pod_template_metadata_mut(obj) {
            metadata.merge_labels([("team", "a")]);
            metadata.merge_annotations([("note", "}\"{")]);
        }
    }

    fn has_inner(obj: &Object) -> bool {
        matches!(&obj.0, Repr::Received { full, inner: Some(_), .. } if full.get().is_none())
    }

    #[test]
    fn a_pod_template_metadata_change_is_spliced_without_parsing_the_pod_spec() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "m", "image": "a:1",
                                           "env": [{"name": "X", "value": "]}\"{["}]}]}}}
        });
        let cronjob = json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
                "metadata": {"annotations": {"x": "metadata"}}, "spec": {"containers": []}}}}}
        });
        for value in [deployment, cronjob] {
            let mut obj = mk_received(&value.to_string());
            label_with_template(&mut obj);
            assert!(
                has_inner(&obj),
                "only the template's metadata is parsed: {value}"
            );
            let mut expected = Object::from_value(value.clone()).expect("a map");
            label_with_template(&mut expected);
            let expected = expected.into_json().expect("encodes");
            assert_eq!(obj.clone().into_json().expect("encodes"), expected);
            // Reading past the head afterwards sees the change; changing the pod spec then
            // keeps it.
            let path = if value["kind"] == "CronJob" {
                "/spec/jobTemplate/spec/template"
            } else {
                "/spec/template"
            };
            assert_eq!(
                obj.pointer(&format!("{path}/metadata/labels/team")),
                Some(&json!("a"))
            );
            let mut changed = obj.clone();
            *changed
                .pointer_mut(&format!("{path}/spec/containers"))
                .expect("present") = json!([]);
            let mut want: Value = serde_json::from_str(&expected).expect("JSON");
            *want
                .pointer_mut(&format!("{path}/spec/containers"))
                .expect("present") = json!([]);
            assert_eq!(changed.into_json().expect("encodes"), want.to_string());
            assert_eq!(
                obj.into_value(),
                serde_json::from_str::<Value>(&expected).expect("JSON")
            );
        }
    }

    #[test]
    fn a_pod_template_metadata_change_encodes_the_whole_object_where_the_text_is_not_plain() {
        let texts = [
            // No template metadata: it is made.
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{}}}}"#,
            // `template` said twice: the last one is the object's.
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"metadata":{"labels":{"a":"1"}}},"template":{"metadata":{"labels":{"b":"2"}},"spec":{}}}}"#,
            // An escaped key on the way.
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"t\u0065mplate":{"metadata":{}},"replicas":1}}"#,
            // Metadata that is not a map; whitespace; a Pod (its own metadata); no template.
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"metadata":null}}}"#,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec": {"template":{"metadata":{}}}}"#,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[]}}"#,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":1}}"#,
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":[]}"#,
        ];
        for text in texts {
            let mut obj = mk_received(text);
            label_with_template(&mut obj);
            let mut expected =
                Object::from_value(serde_json::from_str(text).expect("JSON")).expect("a map");
            label_with_template(&mut expected);
            assert_eq!(
                obj.into_json().expect("encodes"),
                expected.into_json().expect("encodes"),
                "{text}"
            );
        }
    }

    #[test]
    fn spliced_pod_template_metadata_encodes_as_the_whole_object_would() {
        // Random workloads and other objects, as the host writes them (serde_json's compact
        // text), labelled as set-labels labels them: received and spliced, or parsed whole.
        fn next(seed: &mut u64, n: u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % n
        }
        const KINDS: &[(&str, &str)] = &[
            ("apps/v1", "Deployment"),
            ("apps/v1", "StatefulSet"),
            ("batch/v1", "CronJob"),
            ("batch/v1", "Job"),
            ("v1", "Pod"),
            ("v1", "ConfigMap"),
        ];
        const SCALARS: &[&str] = &["1", "\"]}{[\\\"\"", "null", "[{\"a\":{}}]", "{}", "-2.5e-3"];
        let (mut spliced, mut total) = (0, 0);
        for case in 1..5_000u64 {
            let seed = std::cell::Cell::new(case.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let pick = |n: usize| {
                let mut s = seed.get();
                let picked = next(&mut s, n as u64) as usize;
                seed.set(s);
                picked
            };
            let (api_version, kind) = KINDS[pick(KINDS.len())];
            let extra = || {
                let mut map = Map::new();
                for i in 0..pick(4) {
                    let v: Value =
                        serde_json::from_str(SCALARS[pick(SCALARS.len())]).expect("JSON");
                    map.insert(format!("k{i}{}", ["", "}", "\""][pick(3)]), v);
                }
                map
            };
            let mut template = extra();
            if pick(4) > 0 {
                let mut metadata = extra();
                if pick(2) == 0 {
                    metadata.insert("labels".into(), json!({"team": "b", "z": "y"}));
                }
                template.insert("metadata".into(), Value::Object(metadata));
            }
            template.insert(
                "spec".into(),
                json!({"containers": [{"name": "m", "x": extra()}]}),
            );
            let mut spec = extra();
            match kind {
                "CronJob" => {
                    spec.insert(
                        "jobTemplate".into(),
                        json!({"spec": {"template": template}}),
                    );
                }
                "Pod" => spec = template,
                _ => {
                    spec.insert("template".into(), Value::Object(template));
                }
            }
            let mut value = json!({"apiVersion": api_version, "kind": kind,
                                   "metadata": {"name": "o"}, "spec": spec});
            if let Some(map) = value.as_object_mut() {
                map.extend(extra());
            }
            let text = value.to_string();
            let mut obj = mk_received(&text);
            label_with_template(&mut obj);
            total += 1;
            spliced += usize::from(has_inner(&obj));
            let mut expected = Object::from_value(value).expect("a map");
            label_with_template(&mut expected);
            assert_eq!(
                obj.into_json().expect("encodes"),
                expected.into_json().expect("encodes"),
                "case {case}: {text}"
            );
        }
        // Most workloads with template metadata take the splice.
        assert!(spliced > total / 3, "{spliced} of {total} spliced");
    }

    #[test]
    fn image_strings_are_replaced_in_the_received_text_as_in_the_parsed_object() {
        use crate::{ImageOverride, rewrite_object_images};
        fn next(seed: &mut u64, n: u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % n
        }
        let overrides: Vec<ImageOverride> = serde_json::from_value(json!([
            {"name": "nginx", "newName": "mirror.example.com/nginx", "newTag": "1.27"},
            {"name": "app", "newTag": "2"},
        ]))
        .expect("overrides");
        const IMAGES: &[&str] = &[
            r#""nginx:1.25""#,
            r#""app""#,
            r#""other/app:1""#,
            r#""ngin\u0078:1""#,
            r#""\"quoted\"""#,
            "null",
            "3",
            "[]",
        ];
        const KINDS: &[(&str, &str)] = &[
            ("apps/v1", "Deployment"),
            ("batch/v1", "CronJob"),
            ("v1", "Pod"),
            ("v1", "Service"),
        ];
        let (mut fast, mut total) = (0, 0);
        for case in 1..5_000u64 {
            let mut seed = case.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut lists = Vec::new();
            for field in [
                "containers",
                "initContainers",
                "ephemeralContainers",
                "volumes",
            ] {
                if next(&mut seed, 3) == 0 {
                    continue;
                }
                let elements: Vec<String> = (0..next(&mut seed, 4))
                    .map(|i| match next(&mut seed, 6) {
                        0 => "\"not a map\"".to_owned(),
                        1 => format!(r#"{{"name":"c{i}"}}"#),
                        _ => format!(
                            r#"{{"env":[{{"name":"image","value":"}}"}}],"image":{},"name":"c{i}"}}"#,
                            IMAGES[next(&mut seed, IMAGES.len() as u64) as usize]
                        ),
                    })
                    .collect();
                lists.push(format!(r#""{field}":[{}]"#, elements.join(",")));
            }
            let pod_spec = format!("{{{}}}", lists.join(","));
            let (api_version, kind) = KINDS[next(&mut seed, KINDS.len() as u64) as usize];
            let template = format!(r#"{{"metadata":{{"labels":{{"a":"b"}}}},"spec":{pod_spec}}}"#);
            let spec = match kind {
                "CronJob" => format!(r#"{{"jobTemplate":{{"spec":{{"template":{template}}}}}}}"#),
                "Pod" => pod_spec,
                _ => format!(r#"{{"replicas":1,"template":{template}}}"#),
            };
            let text = format!(
                r#"{{"apiVersion":"{api_version}","kind":"{kind}","metadata":{{"name":"o"}},"spec":{spec}}}"#
            );
            // What the host sends: serde_json's text of the object.
            let value: Value = serde_json::from_str(&text).expect("JSON");
            let text = value.to_string();
            let labelled = next(&mut seed, 2) == 0;
            let run = |mut obj: Object| {
                if labelled {
                    label_with_template(&mut obj);
                }
                let changes = rewrite_object_images(&mut obj, &overrides);
                (obj, changes)
            };
            let (obj, changes) = run(mk_received(&text));
            total += 1;
            fast += usize::from(is_as_received(&obj) && !changes.is_empty());
            let (expected, expected_changes) = run(Object::from_value(value).expect("a map"));
            assert_eq!(changes, expected_changes, "case {case}: {text}");
            assert_eq!(
                obj.clone().into_value(),
                expected.clone().into_value(),
                "case {case}"
            );
            assert_eq!(
                obj.into_json().expect("encodes"),
                expected.into_json().expect("encodes"),
                "case {case}: {text}"
            );
        }
        assert!(fast > total / 4, "{fast} of {total} replaced in the text");
    }

    #[test]
    fn strings_are_skipped_whatever_their_length_and_escapes() {
        for len in 0..40 {
            for escape in ["", r#"\""#, r"\\", r"\u0022", r#"\\\""#] {
                for at in 0..=len {
                    let mut body = "é".repeat(len / 2) + &"x".repeat(len - len / 2);
                    let at = body.char_indices().nth(at).map_or(body.len(), |(i, _)| i);
                    body.insert_str(at, escape);
                    let text = format!(r#""{body}",1"#);
                    let end = skip_string(text.as_bytes(), 0).expect("a string");
                    assert_eq!(&text[end..], ",1", "{text}");
                    serde_json::from_str::<String>(&text[..end]).expect("one JSON string");
                }
            }
        }
        assert_eq!(
            skip_string(br#""abcdefghijklmnop"#, 0),
            None,
            "unterminated"
        );
    }

    #[test]
    fn entries_are_appended_in_the_received_text_as_in_the_parsed_object() {
        use crate::append_missing_by_name;
        fn next(seed: &mut u64, n: u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % n
        }
        let entries = |names: &[&str]| -> Vec<Map<String, Value>> {
            names
                .iter()
                .map(
                    |n| match json!({"name": n, "image": "x:1", "z": {"q": "]}"}}) {
                        Value::Object(m) => m,
                        _ => unreachable!(),
                    },
                )
                .collect()
        };
        let (sidecar, inits, volumes) = (
            entries(&["log"]),
            entries(&["init", ""]),
            entries(&["logs", "tmp"]),
        );
        const ELEMENTS: &[&str] = &[
            r#"{"name":"log","image":"a"}"#,
            r#"{"name":"main"}"#,
            r#"{"image":"b"}"#,
            r#"{"name":1}"#,
            r#""logs""#,
            r#"{"name":"tmp","emptyDir":{}}"#,
            r#"{"name":"init","n\u0061me":"x"}"#,
            r#"{"name":"a","name":"logs"}"#,
            r#"{"name":"l\u006fgs"}"#,
        ];
        const FIELDS: &[&str] = &[
            "affinity",
            "containers",
            "initContainers",
            "v\u{0}",
            "volumes",
            "zz",
        ];
        let (mut fast, mut total) = (0, 0);
        for case in 1..5_000u64 {
            let mut seed = case.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut fields = Vec::new();
            for field in FIELDS {
                if next(&mut seed, 2) == 0 {
                    continue;
                }
                let value = match next(&mut seed, 5) {
                    0 => "{}".to_owned(),
                    _ => {
                        let elements: Vec<&str> = (0..next(&mut seed, 4))
                            .map(|_| ELEMENTS[next(&mut seed, ELEMENTS.len() as u64) as usize])
                            .collect();
                        format!("[{}]", elements.join(","))
                    }
                };
                fields.push(format!("{}:{value}", Value::from(*field)));
            }
            let pod_spec = format!("{{{}}}", fields.join(","));
            let (kind, spec) = match next(&mut seed, 3) {
                0 => ("Pod", pod_spec),
                1 => (
                    "Deployment",
                    format!(r#"{{"template":{{"spec":{pod_spec}}}}}"#),
                ),
                _ => ("Deployment", r#"{"replicas":1}"#.to_owned()),
            };
            let api_version = if kind == "Pod" { "v1" } else { "apps/v1" };
            let text = format!(
                r#"{{"apiVersion":"{api_version}","kind":"{kind}","metadata":{{"name":"o"}},"spec":{spec}}}"#
            );
            // As the host sends it (serde_json's text: escapes as it writes them, keys sorted,
            // the last of a repeated key), and now and then exactly as written above.
            let value: Value = serde_json::from_str(&text).expect("JSON");
            let text = if next(&mut seed, 4) == 0 {
                text
            } else {
                value.to_string()
            };
            let lists = [
                ("containers", &sidecar[..]),
                ("initContainers", &inits[..]),
                ("volumes", &volumes[..]),
            ];
            let mut obj = mk_received(&text);
            let done = append_missing_by_name(&mut obj, &lists);
            total += 1;
            fast += usize::from(
                is_as_received(&obj) && done.as_ref().is_some_and(|d| d.1.iter().any(|&n| n > 0)),
            );
            let mut expected = Object::from_value(value).expect("a map");
            let expected_done = append_missing_by_name(&mut expected, &lists);
            assert_eq!(done, expected_done, "case {case}: {text}");
            assert_eq!(
                obj.clone().into_value(),
                expected.clone().into_value(),
                "case {case}: {text}"
            );
            let canonical = serde_json::from_str::<Value>(&text)
                .expect("JSON")
                .to_string();
            if text == canonical {
                assert_eq!(
                    obj.into_json().expect("encodes"),
                    expected.into_json().expect("encodes"),
                    "case {case}: {text}"
                );
            }
        }
        // A third have no template; many of the rest repeat or escape a key on the way.
        assert!(fast > total / 5, "{fast} of {total} appended in the text");
    }

    #[test]
    fn a_second_change_in_the_text_sees_the_first() {
        use crate::{ImageOverride, append_missing_by_name, rewrite_object_images};
        // Found in review: the second of two text changes read the text as received.
        let text = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"metadata": {"labels": {"a": "b"}},
                     "spec": {"containers": [{"image": "nginx:1.25", "name": "main"}]}}}})
        .to_string();
        let rules = |v: Value| -> Vec<ImageOverride> { serde_json::from_value(v).expect("rules") };
        let log = json!({"name": "log", "image": "nginx:1"});
        let log = log.as_object().expect("a map");
        type Op = Box<dyn Fn(&mut Object) -> String>;
        let rewrite = |r: Value| -> Op {
            let r = rules(r);
            Box::new(move |o: &mut Object| format!("{:?}", rewrite_object_images(o, &r)))
        };
        let append = |lists: Vec<(&'static str, Vec<Map<String, Value>>)>| -> Op {
            Box::new(move |o: &mut Object| {
                let lists: Vec<(&str, &[Map<String, Value>])> =
                    lists.iter().map(|(f, e)| (*f, &e[..])).collect();
                format!("{:?}", append_missing_by_name(o, &lists))
            })
        };
        let sequences: Vec<Vec<Op>> = vec![
            vec![
                rewrite(json!([{"name": "nginx", "newName": "mirror/nginx"}])),
                rewrite(json!([{"name": "nginx", "newName": "mirror/nginx"}])),
            ],
            vec![
                rewrite(json!([{"name": "nginx", "newName": "foo"}])),
                rewrite(json!([{"name": "foo", "newName": "bar"}])),
            ],
            vec![
                append(vec![("containers", vec![log.clone()])]),
                rewrite(json!([{"name": "nginx", "newTag": "9"}])),
            ],
            vec![
                append(vec![
                    ("containers", vec![log.clone()]),
                    ("volumes", vec![log.clone()]),
                ]),
                append(vec![
                    ("containers", vec![log.clone()]),
                    ("volumes", vec![log.clone()]),
                ]),
            ],
            vec![append(vec![
                (
                    "volumes",
                    vec![json!({"name": "a"}).as_object().expect("map").clone()],
                ),
                (
                    "volumes",
                    vec![json!({"name": "b"}).as_object().expect("map").clone()],
                ),
            ])],
        ];
        for (i, ops) in sequences.iter().enumerate() {
            let mut received = mk_received(&text);
            let mut parsed =
                Object::from_value(serde_json::from_str(&text).expect("JSON")).expect("a map");
            for op in ops {
                assert_eq!(op(&mut received), op(&mut parsed), "sequence {i}");
            }
            assert_eq!(
                received.clone().into_value(),
                parsed.clone().into_value(),
                "sequence {i}"
            );
            assert_eq!(
                received.into_json().expect("encodes"),
                parsed.into_json().expect("encodes"),
                "sequence {i}"
            );
        }
    }

    /// The single-pass `value_at` and `entries_at` find what descending level by level (each
    /// level's entries read from the text the level above skipped) finds, on texts with nested,
    /// repeated, escaped and missing keys, values of every kind, and whitespace.
    #[test]
    fn value_at_in_one_pass_agrees_with_level_by_level() {
        fn by_levels(text: &str, path: &[&str]) -> Option<std::ops::Range<usize>> {
            let mut range = 0..text.len();
            for key in path {
                let object = text.get(range.clone())?;
                let mut found = None;
                for entry in top_level_entries(object) {
                    let (name, value) = entry.ok()?;
                    if key_is(object, name, &value, key)? {
                        if found.is_some() {
                            return None;
                        }
                        found = Some(value);
                    }
                }
                let value = found?;
                if object.as_bytes().get(value.start) != Some(&b'{') {
                    return None;
                }
                range = range.start + value.start..range.start + value.end;
            }
            Some(range)
        }
        fn next(seed: &mut u64, n: u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed % n
        }
        /// An object at `level` of `spec.template.spec`: usually with that level's key (its
        /// value the next level), among random entries.
        fn mk(seed: &mut u64, level: usize) -> String {
            const KEYS: &[&str] = &["spec", "template", "metadata", "a", r#"sp\u0065c"#, "t\"q"];
            const LEAVES: &[&str] = &[
                r#""v""#,
                "3",
                "null",
                "[]",
                "{}",
                r#"[{"x":"]}"}]"#,
                " 1",
                r#""a\"}""#,
            ];
            const PATH: &[&str] = &["spec", "template", "spec", "a"];
            let mut entries: Vec<String> = (0..next(seed, 4))
                .map(|_| {
                    let key = KEYS[next(seed, KEYS.len() as u64) as usize];
                    let value = if level < 4 && next(seed, 3) == 0 {
                        mk(seed, 4)
                    } else {
                        LEAVES[next(seed, LEAVES.len() as u64) as usize].to_owned()
                    };
                    format!(r#""{key}":{value}"#)
                })
                .collect();
            if level < PATH.len() && next(seed, 8) != 0 {
                let at = next(seed, entries.len() as u64 + 1) as usize;
                entries.insert(at, format!(r#""{}":{}"#, PATH[level], mk(seed, level + 1)));
            }
            let close = if next(seed, 60) == 0 { "" } else { "}" };
            format!("{{{}{close}", entries.join(","))
        }
        let paths: &[&[&str]] = &[
            &[],
            &["spec"],
            &["metadata"],
            &["spec", "template"],
            &["spec", "template", "spec"],
            &["spec", "template", "metadata"],
            &["spec", "template", "spec", "a"],
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let mut found = vec![0; paths.len()];
        for _ in 0..20_000 {
            let text = mk(&mut seed, 0);
            for (path, found) in paths.iter().zip(&mut found) {
                let want = by_levels(&text, path);
                *found += usize::from(want.is_some());
                assert_eq!(value_at(&text, path), want, "{path:?} in {text}");
                if !path.is_empty() {
                    let want_entries = want.and_then(|range| {
                        let entries: Option<Vec<_>> = top_level_entries(&text[range.clone()])
                            .map(Result::ok)
                            .collect();
                        Some((range, entries?))
                    });
                    assert_eq!(entries_at(&text, path), want_entries, "{path:?} in {text}");
                }
            }
        }
        // Every path is found in some texts, the deepest too.
        assert!(found.iter().all(|&n| n >= 50), "paths found: {found:?}");
    }
}
