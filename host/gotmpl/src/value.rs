//! Go's value model as seen through `interface{}`: the handful of kinds Helm's data can hold, plus
//! host objects. Collections are behind `Arc` so passing `.Values` around never copies it.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt as stdfmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::func::{CallContext, FuncResult, Signature};

/// A Go value held in an `interface{}`.
///
/// Integers are one variant: Go's `int` and `int64` are not distinguished. Maps iterate in sorted key
/// order, as Go's `text/template` and `fmt` do.
#[derive(Clone, Default)]
pub enum Value {
    /// Go's `nil` (a nil `interface{}`, a missing map key under `missingkey=zero`).
    #[default]
    Nil,
    /// `bool`.
    Bool(bool),
    /// `int` / `int64`.
    Int(i64),
    /// `float64`.
    Float(f64),
    /// `string`.
    String(Arc<str>),
    /// `[]interface{}` (also stands for typed slices such as `[]string`).
    List(Arc<Vec<Value>>),
    /// `map[string]interface{}`: shared and mutable in place, like a Go map (Sprig's `set`,
    /// `unset` and `merge` change it for every holder).
    Map(Map),
    /// A host object with fields and methods (a Go struct or named type).
    Object(Arc<dyn Object>),
}

/// A host object: a Go struct or named type with fields and methods, e.g. Helm's `.Files` or
/// `.Capabilities`. Templates reach it through `.Field` and `.Method arg…`.
pub trait Object: Send + Sync + stdfmt::Debug {
    /// Go's type name used in error messages, e.g. `*chart.Metadata` or `chartutil.Files`.
    fn type_name(&self) -> &str;

    /// The value of field (or map key) `name`, if the object has one.
    fn field(&self, name: &str) -> Option<Value> {
        let _ = name;
        None
    }

    /// The signature of method `name`, if the object has such a method. Methods take precedence
    /// over fields, as in Go.
    fn method(&self, name: &str) -> Option<Signature> {
        let _ = name;
        None
    }

    /// Calls method `name` (only called when [`Object::method`] returned a signature); `args`
    /// have been converted to that signature.
    fn call_method(&self, name: &str, args: &[Value], cx: &mut CallContext<'_>) -> FuncResult {
        let _ = (args, cx);
        Err(format!("method {name} not implemented").into())
    }

    /// Writes the object as Go's `%v` would print it.
    fn format_go(&self, out: &mut String) {
        out.push_str("{}");
    }

    /// What `{{ . }}` prints when it differs from `%v`: text/template takes the address of an
    /// addressable struct whose pointer type has a `String` method (Helm's `KubeVersion`), while
    /// `%v` of the same struct passed to a function prints its fields. `None`: print as `%v`.
    fn template_string(&self) -> Option<String> {
        None
    }

    /// The object as `encoding/json` would marshal it.
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// The members `encoding/json` writes for a Go struct, in field declaration order (after
    /// `omitempty`); `None` to marshal [`Object::to_json`] with sorted keys, as for maps.
    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        None
    }

    /// Go truthiness (`if`): structs are always true, named maps/slices are true when non-empty.
    fn is_true(&self) -> bool {
        true
    }

    /// Length for `len`, when the object is a map, slice or string type.
    fn length(&self) -> Option<usize> {
        None
    }

    /// The object as a plain value (for objects that are named maps/slices, so `index`, `range`,
    /// `eq` and friends can work on them); `None` for struct-like objects.
    fn as_value(&self) -> Option<Value> {
        None
    }

    /// Downcasting support for host functions that receive their own objects back.
    fn as_any(&self) -> &dyn Any;
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<Arc<str>>) -> Value {
        Value::String(s.into())
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// A map value.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Map::from(entries))
    }

    /// An empty map value.
    pub fn empty_map() -> Value {
        Value::Map(Map::new())
    }

    /// A host object value.
    pub fn object(obj: impl Object + 'static) -> Value {
        Value::Object(Arc::new(obj))
    }

    /// Whether this is `nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Object(o) => o
                .as_any()
                .downcast_ref::<GoBytes>()
                .map(|b| b.lossy.as_str()),
            _ => None,
        }
    }

    /// A Go string from arbitrary bytes: a plain `String` when they are UTF-8, otherwise a
    /// [`GoBytes`] that keeps the exact bytes (what `.Files.Get` of a binary file or `b64dec`
    /// of binary data yields in Go).
    pub fn from_bytes(bytes: Vec<u8>) -> Value {
        match String::from_utf8(bytes) {
            Ok(s) => Value::string(s),
            Err(e) => {
                let bytes = e.into_bytes();
                let lossy = go_lossy(&bytes);
                Value::Object(Arc::new(GoBytes {
                    bytes: bytes.into(),
                    lossy,
                }))
            }
        }
    }

    /// [`Value::from_bytes`] of borrowed bytes: text is copied once, straight into the
    /// string's shared buffer (`from_bytes` of a copy copies twice: `.Files` texts of CRDs
    /// can be megabytes).
    pub fn from_byte_slice(bytes: &[u8]) -> Value {
        match std::str::from_utf8(bytes) {
            Ok(s) => Value::string(s),
            Err(_) => Value::from_bytes(bytes.to_vec()),
        }
    }

    /// A Go `[]byte` (`.Files.GetBytes`): a `[]uint8` slice that prints as numbers;
    /// `toString` turns it back into a string.
    pub fn byte_slice(bytes: &[u8]) -> Value {
        Value::Object(Arc::new(GoSlice {
            type_name: "[]uint8",
            items: Arc::new(bytes.iter().map(|b| Value::Int(i64::from(*b))).collect()),
        }))
    }

    /// The bytes of a Go `[]byte` made by [`Value::byte_slice`].
    pub fn byte_slice_bytes(&self) -> Option<Vec<u8>> {
        let Value::Object(o) = self else {
            return None;
        };
        let slice = o.as_any().downcast_ref::<GoSlice>()?;
        (slice.type_name == "[]uint8").then(|| {
            slice
                .items
                .iter()
                .map(|v| v.as_int().and_then(|i| u8::try_from(i).ok()).unwrap_or(0))
                .collect()
        })
    }

    /// The exact bytes of a Go string (`String` or [`GoBytes`]).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::String(s) => Some(s.as_bytes()),
            Value::Object(o) => o.as_any().downcast_ref::<GoBytes>().map(|b| &*b.bytes),
            _ => None,
        }
    }

    /// The integer, if this is an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The map, if this is a map.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The list, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Field or key lookup as a plain map; `None` when absent or not a map.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Go's truthiness as used by `if`, `with`, `and`, `or`, `not`.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(o) => o.is_true(),
        }
    }

    /// Go's dynamic type name, e.g. `string`, `float64`, `[]interface {}`,
    /// `map[string]interface {}`; `<nil>` for nil.
    pub fn type_name(&self) -> &str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(m) => m.go_type(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Go's `reflect.Kind` name, e.g. `string`, `int`, `float64`, `slice`, `map`, `struct`,
    /// `invalid` for nil.
    pub fn kind_name(&self) -> &str {
        match self {
            Value::Nil => "invalid",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "slice",
            Value::Map(_) => "map",
            Value::Object(o) => match o.as_value() {
                Some(Value::Int(_)) if o.type_name() == "int64" => "int64",
                Some(Value::List(_)) => "slice",
                Some(Value::Map(_)) => "map",
                Some(Value::String(_)) => "string",
                _ => "ptr",
            },
        }
    }

    /// The value formatted as Go's `fmt.Sprint` / `%v` formats it (nil prints `<nil>`).
    pub fn to_go_string(&self) -> String {
        let mut out = String::new();
        crate::fmt::write_v(&mut out, self, false);
        out
    }

    /// Converts to `serde_json::Value` following Go's `encoding/json.Marshal`: integral floats
    /// become integers, NaN/Inf become null (Go would fail), objects use [`Object::to_json`].
    pub fn to_json(&self) -> serde_json::Value {
        self.to_json_at(0)
    }

    fn to_json_at(&self, depth: usize) -> serde_json::Value {
        crate::fmt::with_stack(|| self.to_json_inner(depth))
    }

    fn to_json_inner(&self, depth: usize) -> serde_json::Value {
        use serde_json::Value as J;
        if depth > crate::fmt::MAX_NESTING {
            return J::Null;
        }
        match self {
            Value::Nil => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => {
                if f.fract() == 0.0 && f.abs() < 1e18 {
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "checked integral and in range"
                    )]
                    J::from(*f as i64)
                } else {
                    serde_json::Number::from_f64(*f).map_or(J::Null, J::Number)
                }
            }
            Value::String(s) => J::String(s.to_string()),
            Value::List(l) => J::Array(l.iter().map(|v| v.to_json_at(depth + 1)).collect()),
            Value::Map(m) => m.with(|m| {
                J::Object(
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.to_json_at(depth + 1)))
                        .collect(),
                )
            }),
            Value::Object(o) => o.to_json(),
        }
    }

    /// Converts JSON the way Go's `json.Unmarshal` into `interface{}` does: every number becomes a
    /// `float64` (this is how Helm's `.Values` hold numbers).
    pub fn from_json_go(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
            J::String(s) => Value::string(s.as_str()),
            J::Array(a) => Value::list(a.iter().map(Value::from_json_go).collect()),
            J::Object(o) => Value::map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json_go(v)))
                    .collect(),
            ),
        }
    }

    /// Writes Go's `encoding/json.Marshal` output for this value (sorted keys, HTML-safe escapes
    /// `\u003c \u003e \u0026`, Go float formatting).
    pub fn write_go_json(&self, out: &mut String) {
        crate::fmt::write_json(out, self);
    }
}

impl From<&serde_json::Value> for Value {
    /// JSON integers become `Int`, other numbers `Float`.
    fn from(j: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match j {
            J::Null => Value::Nil,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(0.0)),
            },
            J::String(s) => Value::string(s.as_str()),
            J::Array(a) => Value::list(a.iter().map(Value::from).collect()),
            J::Object(o) => {
                Value::map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(j: serde_json::Value) -> Value {
        Value::from(&j)
    }
}

impl From<&Value> for serde_json::Value {
    fn from(v: &Value) -> serde_json::Value {
        v.to_json()
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i64::from(i))
    }
}

impl From<usize> for Value {
    fn from(i: usize) -> Value {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::string(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::string(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Value {
        Value::list(l)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(m: BTreeMap<String, Value>) -> Value {
        Value::map(m)
    }
}

impl stdfmt::Debug for Value {
    fn fmt(&self, f: &mut stdfmt::Formatter<'_>) -> stdfmt::Result {
        match self {
            Value::Nil => f.write_str("Nil"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Float(x) => write!(f, "Float({x})"),
            Value::String(s) => write!(f, "String({s:?})"),
            Value::List(l) => f.debug_list().entries(l.iter()).finish(),
            Value::Map(m) => m.with(|m| f.debug_map().entries(m.iter()).finish()),
            Value::Object(o) => write!(f, "Object({o:?})"),
        }
    }
}

impl stdfmt::Display for Value {
    /// Go's `%v`.
    fn fmt(&self, f: &mut stdfmt::Formatter<'_>) -> stdfmt::Result {
        f.write_str(&self.to_go_string())
    }
}

impl PartialEq for Value {
    /// Structural equality (not Go's `eq`, which has its own rules).
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a.ptr_eq(b) || a.with(|x| b.with(|y| x == y)),
            (Value::Object(a), Value::Object(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.type_name() == b.type_name()
                        && a.as_value().is_some()
                        && a.as_value() == b.as_value())
            }
            _ => false,
        }
    }
}

/// A Go `map[string]interface{}`: a reference to one shared, mutable, key-sorted map. Cloning
/// the handle shares the map (as assigning a Go map does); [`Map::deep_copy`] copies it.
///
/// A map can carry a Go type other than `map[string]interface {}` (Helm's `.Values` is a
/// `chartutil.Values`; Sprig's `split` returns a `map[string]string` whose missing keys read as
/// `""`), which shows in `%T`, `typeOf` and type assertions such as `dig`'s.
#[derive(Clone, Default)]
pub struct Map(Arc<RwLock<BTreeMap<String, Value>>>, Option<Arc<MapType>>);

#[derive(Debug)]
struct MapType {
    name: String,
    zero: Value,
}

impl Map {
    /// An empty map.
    pub fn new() -> Map {
        Map::default()
    }

    /// The same map seen as the Go type `name` (e.g. `chartutil.Values`), whose missing keys
    /// read as `zero` (nil for interface-valued maps, `""` for `map[string]string`).
    pub fn with_go_type(self, name: &str, zero: Value) -> Map {
        Map(
            self.0,
            Some(Arc::new(MapType {
                name: name.to_owned(),
                zero,
            })),
        )
    }

    /// Go's type name of this map.
    pub fn go_type(&self) -> &str {
        self.1
            .as_ref()
            .map_or("map[string]interface {}", |t| t.name.as_str())
    }

    /// Whether this is a plain `map[string]interface{}` (what Go type assertions want).
    pub fn is_plain(&self) -> bool {
        self.1.is_none()
    }

    /// The value a missing key reads as (`missingkey=zero`).
    pub fn zero_value(&self) -> Value {
        self.1.as_ref().map_or(Value::Nil, |t| t.zero.clone())
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Value>> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Value>> {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` with read access (do not call back into template code from `f`).
    pub fn with<R>(&self, f: impl FnOnce(&BTreeMap<String, Value>) -> R) -> R {
        f(&self.read())
    }

    /// Runs `f` with write access.
    pub fn update<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Value>) -> R) -> R {
        f(&mut self.write())
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.read().get(key).cloned()
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read().contains_key(key)
    }

    /// Sets `key` (visible to every holder of this map).
    pub fn insert(&self, key: impl Into<String>, value: Value) -> Option<Value> {
        self.write().insert(key.into(), value)
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) -> Option<Value> {
        self.write().remove(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Sorted keys.
    pub fn keys(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// A snapshot of the entries in key order.
    pub fn entries(&self) -> Vec<(String, Value)> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// A snapshot copy of the underlying map (values still share nested maps).
    pub fn to_btree(&self) -> BTreeMap<String, Value> {
        self.read().clone()
    }

    /// Whether both handles refer to the same map.
    pub fn ptr_eq(&self, other: &Map) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A recursive copy sharing nothing mutable with `self`.
    pub fn deep_copy(&self) -> Map {
        Map::from(
            self.read()
                .iter()
                .map(|(k, v)| (k.clone(), v.deep_copy()))
                .collect::<BTreeMap<_, _>>(),
        )
    }
}

impl From<BTreeMap<String, Value>> for Map {
    fn from(m: BTreeMap<String, Value>) -> Map {
        Map(Arc::new(RwLock::new(m)), None)
    }
}

impl stdfmt::Debug for Map {
    fn fmt(&self, f: &mut stdfmt::Formatter<'_>) -> stdfmt::Result {
        self.with(|m| f.debug_map().entries(m.iter()).finish())
    }
}

impl Value {
    /// A recursive copy: maps are copied so mutating the copy leaves the original alone.
    pub fn deep_copy(&self) -> Value {
        self.deep_copy_at(0)
    }

    fn deep_copy_at(&self, depth: usize) -> Value {
        crate::fmt::with_stack(|| self.deep_copy_inner(depth))
    }

    fn deep_copy_inner(&self, depth: usize) -> Value {
        if depth > crate::fmt::MAX_NESTING {
            return Value::Nil;
        }
        match self {
            Value::Map(m) => Value::Map(Map::from(
                m.entries()
                    .into_iter()
                    .map(|(k, v)| (k, v.deep_copy_at(depth + 1)))
                    .collect::<BTreeMap<_, _>>(),
            )),
            Value::List(l) => Value::list(l.iter().map(|v| v.deep_copy_at(depth + 1)).collect()),
            other => other.clone(),
        }
    }
}

/// A Go `int64` (what Sprig's arithmetic returns), distinct from `int` only where Go shows the
/// difference: `%T`/`typeOf`/`kindOf` print `int64`, and an `int` parameter rejects it with Go's
/// `wrong type for value; expected int; got int64`. Everywhere else it acts as its integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoInt64(pub i64);

impl Object for GoInt64 {
    fn type_name(&self) -> &str {
        "int64"
    }

    fn format_go(&self, out: &mut String) {
        out.push_str(&self.0.to_string());
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::from(self.0)
    }

    fn is_true(&self) -> bool {
        self.0 != 0
    }

    fn as_value(&self) -> Option<Value> {
        Some(Value::Int(self.0))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Value {
    /// A Go `int64` value (see [`GoInt64`]).
    pub fn int64(i: i64) -> Value {
        Value::Object(Arc::new(GoInt64(i)))
    }

    /// The integer, for `Int` and Go `int64` values alike.
    pub fn to_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Object(o) => o.as_any().downcast_ref::<GoInt64>().map(|g| g.0),
            _ => None,
        }
    }
}

/// The first of the 256 code points (U+10FF00 + byte, the end of Supplementary Private Use
/// Area-B) that stand for raw bytes in template output.
const RAW_BYTE_BASE: u32 = 0x10_FF00;

/// Template output is text, but Go writes a string's bytes as they are. Where a printed string
/// holds bytes that are not UTF-8, each such byte is written as the code point U+10FF00 + byte,
/// so that the output stage can find them and fail as Helm's YAML reader does
/// ([`raw_output_bytes`] gives the bytes back).
pub(crate) fn escape_raw_bytes(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(
            chunk
                .invalid()
                .iter()
                .filter_map(|b| char::from_u32(RAW_BYTE_BASE + u32::from(*b))),
        );
    }
}

/// The bytes Go would have written for template output holding raw-byte code points (see
/// [`escape_raw_bytes`]); `None` when there are none.
pub fn raw_output_bytes(out: &str) -> Option<Vec<u8>> {
    let is_raw = |c: char| (RAW_BYTE_BASE..=RAW_BYTE_BASE + 0xFF).contains(&u32::from(c));
    if !out.chars().any(is_raw) {
        return None;
    }
    let mut bytes = Vec::with_capacity(out.len());
    for c in out.chars() {
        if is_raw(c) {
            bytes.push((u32::from(c) - RAW_BYTE_BASE) as u8);
        } else {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Some(bytes)
}

/// Text of bytes that are not all UTF-8 as Go decodes it (`for range`, `strings.Map`,
/// `encoding/json`): each byte of an invalid sequence is one U+FFFD (Rust's lossy conversion
/// replaces a whole truncated sequence with one).
pub(crate) fn go_lossy(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('\u{FFFD}', chunk.invalid().len()));
    }
    out
}

/// A Go `string` holding bytes that are not UTF-8. Byte-oriented functions (`b64enc`,
/// `sha256sum`, `len`…) see the exact bytes; everything else sees the text with invalid
/// sequences replaced (as Go's `encoding/json` does).
#[derive(Debug)]
pub struct GoBytes {
    bytes: Arc<[u8]>,
    lossy: String,
}

impl Object for GoBytes {
    fn type_name(&self) -> &str {
        "string"
    }

    fn format_go(&self, out: &mut String) {
        out.push_str(&self.lossy);
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.lossy.clone())
    }

    fn is_true(&self) -> bool {
        !self.bytes.is_empty()
    }

    fn length(&self) -> Option<usize> {
        Some(self.bytes.len())
    }

    fn as_value(&self) -> Option<Value> {
        Some(Value::string(self.lossy.as_str()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A Go slice of a concrete element type (`[]string`, `[]int`), as Sprig's `splitList`, `keys`,
/// `sortAlpha`, `until`… return. It behaves as a list everywhere except where Go shows the type:
/// `%T`/`typeOf`, and parameters of type `[]interface{}` (or anything else) reject it.
#[derive(Debug)]
pub struct GoSlice {
    type_name: &'static str,
    items: Arc<Vec<Value>>,
}

impl Object for GoSlice {
    fn type_name(&self) -> &str {
        self.type_name
    }

    fn format_go(&self, out: &mut String) {
        crate::fmt::write_v(out, &Value::List(self.items.clone()), false);
    }

    fn to_json(&self) -> serde_json::Value {
        Value::List(self.items.clone()).to_json()
    }

    fn is_true(&self) -> bool {
        !self.items.is_empty()
    }

    fn length(&self) -> Option<usize> {
        Some(self.items.len())
    }

    fn as_value(&self) -> Option<Value> {
        Some(Value::List(self.items.clone()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Value {
    /// A Go `[]string`.
    pub fn strings(items: Vec<String>) -> Value {
        Value::Object(Arc::new(GoSlice {
            type_name: "[]string",
            items: Arc::new(items.into_iter().map(Value::from).collect()),
        }))
    }

    /// A Go `[]string` of string values (which may hold bytes that are not UTF-8).
    pub fn strings_of(items: Vec<Value>) -> Value {
        Value::Object(Arc::new(GoSlice {
            type_name: "[]string",
            items: Arc::new(items),
        }))
    }

    /// A Go `[]int`.
    pub fn ints(items: Vec<i64>) -> Value {
        Value::Object(Arc::new(GoSlice {
            type_name: "[]int",
            items: Arc::new(items.into_iter().map(Value::Int).collect()),
        }))
    }

    /// The elements of any list: `[]interface{}` or a typed [`GoSlice`].
    pub fn list_items(&self) -> Option<Arc<Vec<Value>>> {
        match self {
            Value::List(l) => Some(l.clone()),
            Value::Object(o) => o
                .as_any()
                .downcast_ref::<GoSlice>()
                .map(|s| s.items.clone()),
            _ => None,
        }
    }
}
