//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`) for the few kinds real
//! clients only ever send that way.
//!
//! client-go forces protobuf for the generated clients of built-in types, so `kubectl create
//! namespace|configmap|secret|serviceaccount` and Helm's release storage (Secrets) send protobuf,
//! with no fallback to JSON on 415 (the fallback exists only for CBOR). This module decodes the
//! `k8s\0` + `runtime.Unknown` envelope (API concept "Protobuf encoding") and the messages of
//! Namespace, ConfigMap, Secret, ServiceAccount, DeleteOptions and the access reviews of
//! `kubectl auth can-i` (field numbers from the `generated.proto` files of `k8s.io/api` and
//! `k8s.io/apimachinery`) into the JSON the rest of the server works on. Zero values are dropped, as Go's `omitempty` would. Any other kind answers
//! 415 naming the kinds that are supported — such requests (e.g. `kubectl create deployment`)
//! must be sent as JSON (`kubectl apply`, `kubectl create -f`). Responses are always JSON, which
//! every client accepts.

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// How a field's value is written in JSON.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    Time,
    Msg(&'static str),
    RepStr,
    RepMsg(&'static str),
    MapStr,
    MapBytes,
}

fn fields(message: &str) -> &'static [(u32, &'static str, Kind)] {
    use Kind::*;
    match message {
        "ObjectMeta" => &[
            (1, "name", Str),
            (2, "generateName", Str),
            (3, "namespace", Str),
            (5, "uid", Str),
            (6, "resourceVersion", Str),
            (7, "generation", Int),
            (8, "creationTimestamp", Time),
            (11, "labels", MapStr),
            (12, "annotations", MapStr),
            (13, "ownerReferences", RepMsg("OwnerReference")),
            (14, "finalizers", RepStr),
        ],
        "OwnerReference" => &[
            (1, "kind", Str),
            (3, "name", Str),
            (4, "uid", Str),
            (5, "apiVersion", Str),
            (6, "controller", Bool),
            (7, "blockOwnerDeletion", Bool),
        ],
        "Namespace" => &[
            (1, "metadata", Msg("ObjectMeta")),
            (2, "spec", Msg("NamespaceSpec")),
        ],
        "NamespaceSpec" => &[(1, "finalizers", RepStr)],
        "ConfigMap" => &[
            (1, "metadata", Msg("ObjectMeta")),
            (2, "data", MapStr),
            (3, "binaryData", MapBytes),
            (4, "immutable", Bool),
        ],
        "Secret" => &[
            (1, "metadata", Msg("ObjectMeta")),
            (2, "data", MapBytes),
            (3, "type", Str),
            (4, "stringData", MapStr),
            (5, "immutable", Bool),
        ],
        "ServiceAccount" => &[
            (1, "metadata", Msg("ObjectMeta")),
            (2, "secrets", RepMsg("ObjectReference")),
            (3, "imagePullSecrets", RepMsg("LocalObjectReference")),
            (4, "automountServiceAccountToken", Bool),
        ],
        "ObjectReference" => &[
            (1, "kind", Str),
            (2, "namespace", Str),
            (3, "name", Str),
            (4, "uid", Str),
            (5, "apiVersion", Str),
        ],
        "LocalObjectReference" => &[(1, "name", Str)],
        "DeleteOptions" => &[
            (1, "gracePeriodSeconds", Int),
            (2, "preconditions", Msg("Preconditions")),
            (3, "orphanDependents", Bool),
            (4, "propagationPolicy", Str),
            (5, "dryRun", RepStr),
        ],
        "Preconditions" => &[(1, "uid", Str), (2, "resourceVersion", Str)],
        "SelfSubjectAccessReview" => &[
            (1, "metadata", Msg("ObjectMeta")),
            (2, "spec", Msg("SelfSubjectAccessReviewSpec")),
        ],
        "SelfSubjectAccessReviewSpec" => &[(1, "resourceAttributes", Msg("ResourceAttributes"))],
        "SubjectAccessReview" => &[
            (1, "metadata", Msg("ObjectMeta")),
            (2, "spec", Msg("SubjectAccessReviewSpec")),
        ],
        "SubjectAccessReviewSpec" => &[
            (1, "resourceAttributes", Msg("ResourceAttributes")),
            (3, "user", Str),
            (4, "groups", RepStr),
        ],
        "ResourceAttributes" => &[
            (1, "namespace", Str),
            (2, "verb", Str),
            (3, "group", Str),
            (4, "version", Str),
            (5, "resource", Str),
            (6, "subresource", Str),
            (7, "name", Str),
        ],
        _ => &[],
    }
}

/// The kinds whose protobuf bodies are understood, with their apiVersions.
pub(crate) const SUPPORTED: &[(&str, &[&str])] = &[
    ("Namespace", &["v1"]),
    ("ConfigMap", &["v1"]),
    ("Secret", &["v1"]),
    ("ServiceAccount", &["v1"]),
    ("DeleteOptions", &["v1", "meta.k8s.io/v1"]),
    ("SelfSubjectAccessReview", &["authorization.k8s.io/v1"]),
    ("SubjectAccessReview", &["authorization.k8s.io/v1"]),
];

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    /// The next (field number, wire value).
    fn next(&mut self) -> Result<Option<(u32, Wire<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            2 => {
                let len = self.varint()? as usize;
                let end = self
                    .pos
                    .checked_add(len)
                    .filter(|e| *e <= self.buf.len())
                    .ok_or("truncated field")?;
                let bytes = &self.buf[self.pos..end];
                self.pos = end;
                Wire::Bytes(bytes)
            }
            1 => {
                self.pos += 8;
                Wire::Varint(0)
            }
            5 => {
                self.pos += 4;
                Wire::Varint(0)
            }
            t => return Err(format!("unsupported wire type {t}")),
        };
        Ok(Some((field, wire)))
    }
}

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "string field is not UTF-8".to_string())
}

fn decode_message(message: &str, buf: &[u8]) -> Result<Value, String> {
    let table = fields(message);
    let mut out = Map::new();
    let mut r = Reader { buf, pos: 0 };
    while let Some((num, wire)) = r.next()? {
        let Some(&(_, name, kind)) = table.iter().find(|(n, _, _)| *n == num) else {
            continue;
        };
        match (kind, wire) {
            (Kind::Str, Wire::Bytes(b)) => {
                if !b.is_empty() {
                    out.insert(name.into(), json!(text(b)?));
                }
            }
            (Kind::Int, Wire::Varint(v)) => {
                if v != 0 {
                    out.insert(name.into(), json!(v as i64));
                }
            }
            (Kind::Bool, Wire::Varint(v)) => {
                if v != 0 {
                    out.insert(name.into(), json!(true));
                }
            }
            (Kind::Time, Wire::Bytes(b)) => {
                let mut t = Reader { buf: b, pos: 0 };
                let mut secs = 0i64;
                while let Some((n, w)) = t.next()? {
                    if let (1, Wire::Varint(v)) = (n, w) {
                        secs = v as i64;
                    }
                }
                if secs != 0
                    && let Ok(ts) = jiff::Timestamp::from_second(secs)
                {
                    out.insert(
                        name.into(),
                        json!(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    );
                }
            }
            (Kind::Msg(m), Wire::Bytes(b)) => {
                let v = decode_message(m, b)?;
                if v.as_object().is_some_and(|o| !o.is_empty()) {
                    out.insert(name.into(), v);
                }
            }
            (Kind::RepStr, Wire::Bytes(b)) => {
                let entry = out.entry(name).or_insert_with(|| json!([]));
                if let Some(a) = entry.as_array_mut() {
                    a.push(json!(text(b)?));
                }
            }
            (Kind::RepMsg(m), Wire::Bytes(b)) => {
                let v = decode_message(m, b)?;
                let entry = out.entry(name).or_insert_with(|| json!([]));
                if let Some(a) = entry.as_array_mut() {
                    a.push(v);
                }
            }
            (Kind::MapStr | Kind::MapBytes, Wire::Bytes(b)) => {
                let mut e = Reader { buf: b, pos: 0 };
                let (mut key, mut value) = (String::new(), Value::String(String::new()));
                while let Some((n, w)) = e.next()? {
                    match (n, w) {
                        (1, Wire::Bytes(k)) => key = text(k)?,
                        (2, Wire::Bytes(v)) if matches!(kind, Kind::MapStr) => {
                            value = json!(text(v)?)
                        }
                        (2, Wire::Bytes(v)) => {
                            value = json!(base64::engine::general_purpose::STANDARD.encode(v))
                        }
                        _ => {}
                    }
                }
                if matches!(kind, Kind::MapBytes) && value == Value::String(String::new()) {
                    value = json!("");
                }
                let entry = out.entry(name).or_insert_with(|| json!({}));
                if let Some(m) = entry.as_object_mut() {
                    m.insert(key, value);
                }
            }
            _ => {
                return Err(format!(
                    "field {name} of {message} has an unexpected wire type"
                ));
            }
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a `k8s\0`-prefixed protobuf body into a JSON object.
pub(crate) fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(b"k8s\0")
        .ok_or("a protobuf body must start with the k8s\\0 magic")?;
    let mut r = Reader { buf: rest, pos: 0 };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Bytes(tm)) => {
                let mut t = Reader { buf: tm, pos: 0 };
                while let Some((n, w)) = t.next()? {
                    match (n, w) {
                        (1, Wire::Bytes(b)) => api_version = text(b)?,
                        (2, Wire::Bytes(b)) => kind = text(b)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    if !SUPPORTED
        .iter()
        .any(|(k, versions)| *k == kind && versions.contains(&api_version.as_str()))
    {
        let kinds: Vec<&str> = SUPPORTED.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "protobuf bodies are supported for {} only, not {api_version} {kind}; send this request as application/json",
            kinds.join(", ")
        ));
    }
    let mut obj = decode_message(&kind, raw)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u32, bytes: &[u8]) -> Vec<u8> {
        let mut v = vec![((n << 3) | 2) as u8, bytes.len() as u8];
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn decodes_a_configmap_like_kubectl_sends_it() {
        let meta = [
            field(1, b"c1"),
            field(2, b""),
            field(
                11,
                &[field(1, b"app").as_slice(), &field(2, b"web")].concat(),
            ),
        ]
        .concat();
        let data = field(2, &[field(1, b"a").as_slice(), &field(2, b"b")].concat());
        let raw = [field(1, &meta), data].concat();
        let tm = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [b"k8s\0".as_slice(), &field(1, &tm), &field(2, &raw)].concat();
        assert_eq!(
            decode(&body).expect("decodes"),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1", "labels": {"app": "web"}}, "data": {"a": "b"}})
        );
        let tm = [field(1, b"apps/v1"), field(2, b"Deployment")].concat();
        let body = [b"k8s\0".as_slice(), &field(1, &tm), &field(2, b"")].concat();
        assert!(
            decode(&body)
                .expect_err("unsupported")
                .contains("send this request as application/json")
        );
    }
}
