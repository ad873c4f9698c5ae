//! Turns rendered template text into `helm template`'s output: documents split on `---`, parsed
//! just enough to find kind, name and hook annotations, ordered by Helm's install order, hooks
//! after manifests, CRDs first with `--include-crds`, and `--show-only` filtering.

use crate::error::Error;
use crate::version::HelmVersion;
use crate::yaml;
use std::collections::BTreeMap;

/// Helm's `releaseutil.InstallOrder`.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// One rendered Kubernetes document and the template it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Template path, e.g. `mychart/templates/deployment.yaml`.
    pub name: String,
    /// The document text (trimmed, without `---`).
    pub content: String,
    /// `kind` of the document.
    pub kind: String,
}

/// A rendered document carrying a `helm.sh/hook` annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Template path.
    pub path: String,
    /// The document text.
    pub manifest: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// Hook events (`pre-install`, `test`, …), lowercased.
    pub events: Vec<String>,
    /// `helm.sh/hook-weight` (0 when absent or not a number).
    pub weight: i64,
}

impl Hook {
    /// Whether this is a test hook (`helm template --skip-tests` drops these).
    pub fn is_test(&self) -> bool {
        self.events
            .iter()
            .any(|e| e == "test" || e == "test-success")
    }
}

/// Go's `\s` (RE2): ASCII whitespace only.
fn is_go_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// The next match of Helm's separator regex `(?:^|\s*\n)---\s*` at or after `from`, with
/// RE2's leftmost-first semantics. Hand-written because the regex engine available here
/// (no DFA features) makes this hot path needlessly slow.
fn find_separator(s: &[u8], from: usize) -> Option<(usize, usize)> {
    let skip_ws = |mut i: usize| {
        while i < s.len() && is_go_space(s[i]) {
            i += 1;
        }
        i
    };
    if from == 0 && s.starts_with(b"---") {
        return Some((0, skip_ws(3)));
    }
    let mut p = from;
    while p < s.len() {
        if s[p] == b'\n' && s[p + 1..].starts_with(b"---") {
            let mut q = p;
            while q > from && is_go_space(s[q - 1]) {
                q -= 1;
            }
            return Some((q, skip_ws(p + 4)));
        }
        p += 1;
    }
    None
}

/// Helm's `releaseutil.SplitManifests`, in document order.
pub fn split_manifests(big: &str) -> Vec<String> {
    let text = big.trim();
    let bytes = text.as_bytes();
    let mut docs = Vec::new();
    let mut beg = 0;
    let mut from = 0;
    while let Some((start, end)) = find_separator(bytes, from) {
        docs.push(&text[beg..start]);
        beg = end;
        from = end.max(start + 1);
    }
    docs.push(&text[beg..]);
    docs.into_iter()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().to_owned())
        .collect()
}

fn kind_rank(kind: &str) -> Option<usize> {
    INSTALL_ORDER.iter().position(|k| *k == kind)
}

/// Helm's `lessByKind`.
fn less_by_kind(a: &str, b: &str) -> bool {
    match (kind_rank(a), kind_rank(b)) {
        (None, None) => a < b,
        (None, Some(_)) => false,
        (Some(_), None) => true,
        (Some(x), Some(y)) => x < y,
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Head {
    kind: String,
    name: String,
    annotations: Option<BTreeMap<String, String>>,
}

/// sigs.k8s.io/yaml turns scalars into strings where `SimpleHead` has string fields
/// (`apiVersion`, `kind`, `metadata.name`, annotation values), so `hook-weight: 5` is fine.
fn coerce_head_strings(node: &yaml::Node) -> yaml::Node {
    use yaml::Node;
    fn map_entries(n: &Node, f: &dyn Fn(&str, &Node) -> Node) -> Node {
        match n {
            Node::Map(entries) => Node::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = if let Node::Str(s) = k { s.as_str() } else { "" };
                        (k.clone(), f(key, v))
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    map_entries(node, &|key, v| match key {
        "apiVersion" | "kind" => yaml::scalar_to_string(v),
        "metadata" => map_entries(v, &|k, x| match k {
            "name" => yaml::scalar_to_string(x),
            "annotations" => map_entries(x, &|_, a| yaml::scalar_to_string(a)),
            _ => x.clone(),
        }),
        _ => v.clone(),
    })
}

/// The document as sigs.k8s.io/yaml hands it to `json.Unmarshal` into a `SimpleHead`: the head's
/// scalars made strings first, then the whole converted.
fn head_json_exact(doc: &str) -> Result<serde_json::Value, yaml::YamlError> {
    yaml::parse_node(doc)
        .map(|n| coerce_head_strings(&n))
        .and_then(|n| yaml::node_to_json(&n))
}

/// Whether the fields [`coerce_head_strings`] would turn into strings are strings (or absent,
/// or null) already.
fn head_is_strings(v: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    let text = |f: Option<&J>| matches!(f, None | Some(J::Null | J::String(_)));
    let J::Object(o) = v else {
        return true;
    };
    if !text(o.get("apiVersion")) || !text(o.get("kind")) {
        return false;
    }
    let Some(J::Object(md)) = o.get("metadata") else {
        return true;
    };
    text(md.get("name"))
        && match md.get("annotations") {
            Some(J::Object(a)) => a.values().all(|v| text(Some(v))),
            _ => true,
        }
}

/// go-yaml's reader (`yaml_parser_update_buffer`) on bytes a template wrote that are not
/// UTF-8: the first problem it reports, unless a control character comes first (the YAML
/// parser reports that one).
fn utf8_problem(bytes: &[u8]) -> Option<&'static str> {
    let mut i = 0;
    while i < bytes.len() {
        let lead = bytes[i];
        let width = match lead {
            b if b & 0x80 == 0 => 1,
            b if b & 0xE0 == 0xC0 => 2,
            b if b & 0xF0 == 0xE0 => 3,
            b if b & 0xF8 == 0xF0 => 4,
            _ => return Some("invalid leading UTF-8 octet"),
        };
        if i + width > bytes.len() {
            return Some("incomplete UTF-8 octet sequence");
        }
        let mut value = u32::from(match width {
            1 => lead & 0x7F,
            2 => lead & 0x1F,
            3 => lead & 0x0F,
            _ => lead & 0x07,
        });
        for &b in &bytes[i + 1..i + width] {
            if b & 0xC0 != 0x80 {
                return Some("invalid trailing UTF-8 octet");
            }
            value = (value << 6) | u32::from(b & 0x3F);
        }
        let shortest = match width {
            1 => true,
            2 => value >= 0x80,
            3 => value >= 0x800,
            _ => value >= 0x10000,
        };
        if !shortest {
            return Some("invalid length of a UTF-8 sequence");
        }
        if (0xD800..=0xDFFF).contains(&value) || value > 0x10_FFFF {
            return Some("invalid Unicode character");
        }
        let printable = matches!(value, 0x09 | 0x0A | 0x0D | 0x85)
            || (0x20..=0x7E).contains(&value)
            || (0xA0..=0xD7FF).contains(&value)
            || (0xE000..=0xFFFD).contains(&value) && value != 0xFEFF
            || (0x10000..=0x10_FFFF).contains(&value);
        if !printable {
            return None;
        }
        i += width;
    }
    None
}

fn parse_head(path: &str, doc: &str, helm: HelmVersion) -> Result<Head, Error> {
    let wrap = |m: String| Error::ParseManifest(format!("YAML parse error on {path}: {m}"));
    if let Some(problem) = capstan_gotmpl::raw_output_bytes(doc).and_then(|b| utf8_problem(&b)) {
        return Err(wrap(format!(
            "error converting YAML to JSON: yaml: {problem}"
        )));
    }
    // libyaml (YAML 1.1) breaks lines at NEL, LS and PS too; saphyr does not. Heads only need
    // the document's structure, so normalise them to find the same errors as Helm.
    let normalised;
    let doc = if doc.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        normalised = doc.replace(['\u{85}', '\u{2028}', '\u{2029}'], "\n");
        normalised.as_str()
    } else {
        doc
    };
    // Three levels (`metadata.annotations.*`) are all the head reads: the rest of the document
    // is checked but not built.
    let v = match yaml::manifest_head_to_json(doc, 3) {
        // The usual document: read straight into JSON (no node tree, no copy of it), which
        // gives what the exact path below gives whenever the head's fields are strings
        // already (coercion changes nothing, and the two number rules raise the same errors).
        Ok(v) if head_is_strings(&v) => v,
        // Numbers or booleans in the head, or an error (a head field such as `kind: .inf` is
        // fine once it is a string): sigs.k8s.io/yaml's exact order, coercion first.
        _ => {
            head_json_exact(doc).map_err(|e| wrap(format!("error converting YAML to JSON: {e}")))?
        }
    };
    head_of(path, v, helm)
}

/// The head of a document read as JSON (`json.Unmarshal` into Helm's `SimpleHead`).
fn head_of(path: &str, v: serde_json::Value, helm: HelmVersion) -> Result<Head, Error> {
    let wrap = |m: String| Error::ParseManifest(format!("YAML parse error on {path}: {m}"));
    let obj = match v {
        serde_json::Value::Null => {
            return Ok(Head {
                kind: String::new(),
                name: String::new(),
                annotations: None,
            });
        }
        serde_json::Value::Object(o) => o,
        other => {
            return Err(wrap(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type {}.SimpleHead",
                match other {
                    serde_json::Value::Array(_) => "array",
                    serde_json::Value::String(_) => "string",
                    serde_json::Value::Number(_) => "number",
                    _ => "bool",
                },
                match helm {
                    HelmVersion::V3 => "releaseutil",
                    HelmVersion::V4 => "util",
                }
            )));
        }
    };
    let str_field = |v: Option<&serde_json::Value>, field: &str| -> Result<String, Error> {
        match v {
            None | Some(serde_json::Value::Null) => Ok(String::new()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(wrap(format!(
                "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go struct field {field} of type string",
                if other.is_number() {
                    "number"
                } else if other.is_boolean() {
                    "bool"
                } else if other.is_array() {
                    "array"
                } else {
                    "object"
                }
            ))),
        }
    };
    str_field(obj.get("apiVersion"), "SimpleHead.apiVersion")?;
    let kind = str_field(obj.get("kind"), "SimpleHead.kind")?;
    let (name, annotations) = match obj.get("metadata") {
        Some(serde_json::Value::Object(md)) => {
            let name = str_field(md.get("name"), "SimpleHead.metadata.name")?;
            let ann = match md.get("annotations") {
                Some(serde_json::Value::Object(a)) => {
                    let mut out = BTreeMap::new();
                    for (k, v) in a {
                        out.insert(
                            k.clone(),
                            str_field(Some(v), "SimpleHead.metadata.annotations")?,
                        );
                    }
                    Some(out)
                }
                _ => None,
            };
            (name, ann)
        }
        _ => (String::new(), None),
    };
    Ok(Head {
        kind,
        name,
        annotations,
    })
}

/// Helm's `releaseutil.SortManifests`: hooks and plain manifests, each sorted by install order.
pub fn sort_manifests(
    files: &BTreeMap<String, String>,
) -> Result<(Vec<Hook>, Vec<Manifest>), Error> {
    sort_manifests_for(files, HelmVersion::V3)
}

/// [`sort_manifests`] with that Helm version's error wording.
pub(crate) fn sort_manifests_for(
    files: &BTreeMap<String, String>,
    helm: HelmVersion,
) -> Result<(Vec<Hook>, Vec<Manifest>), Error> {
    let mut hooks = Vec::new();
    let mut generic = Vec::new();
    for (path, content) in files {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') || content.trim().is_empty() {
            continue;
        }
        for doc in split_manifests(content) {
            let head = parse_head(path, &doc, helm)?;
            let hook_types = head
                .annotations
                .as_ref()
                .and_then(|a| a.get("helm.sh/hook"))
                .cloned();
            let Some(hook_types) = hook_types else {
                generic.push(Manifest {
                    name: path.clone(),
                    content: doc,
                    kind: head.kind,
                });
                continue;
            };
            let weight = head
                .annotations
                .as_ref()
                .and_then(|a| a.get("helm.sh/hook-weight"))
                .and_then(|w| w.parse::<i64>().ok())
                .unwrap_or(0);
            let mut events = Vec::new();
            let mut unknown = false;
            for t in hook_types.split(',') {
                let t = t.trim().to_lowercase();
                if !HOOK_EVENTS.contains(&t.as_str()) {
                    unknown = true;
                    break;
                }
                events.push(t);
            }
            if unknown {
                continue;
            }
            hooks.push(Hook {
                path: path.clone(),
                manifest: doc,
                kind: head.kind,
                name: head.name,
                events,
                weight,
            });
        }
    }
    let generic = sorted_by_kind(generic, |m| m.kind.clone());
    let hooks = sorted_by_kind(hooks, |h| h.kind.clone());
    Ok((hooks, generic))
}

fn sorted_by_kind<T>(items: Vec<T>, kind: impl Fn(&T) -> String) -> Vec<T> {
    let mut keyed: Vec<(usize, String, T)> = items
        .into_iter()
        .enumerate()
        .map(|(i, t)| (i, kind(&t), t))
        .collect();
    keyed.sort_by(|a, b| {
        if less_by_kind(&a.1, &b.1) {
            std::cmp::Ordering::Less
        } else if less_by_kind(&b.1, &a.1) {
            std::cmp::Ordering::Greater
        } else {
            a.0.cmp(&b.0)
        }
    });
    keyed.into_iter().map(|(_, _, t)| t).collect()
}

/// `helm template --show-only`: keeps the documents whose template path (after the chart name)
/// matches each pattern, in the order of the patterns.
pub(crate) fn show_only(manifests: &str, patterns: &[String]) -> Result<String, Error> {
    let docs = split_manifests(manifests);
    let mut out = String::new();
    for pat in patterns {
        let pat = pat.replace('\\', "/");
        let mut missing = true;
        for doc in &docs {
            let Some(name) = source_name(doc) else {
                continue;
            };
            if !crate::chart::go_match(&pat, name) {
                continue;
            }
            out.push_str("---\n");
            out.push_str(doc);
            out.push('\n');
            missing = false;
        }
        if missing {
            return Err(Error::ShowOnly(format!(
                "could not find template {pat} in chart"
            )));
        }
    }
    Ok(out)
}

/// The part of `# Source: chart/path` after the first path segment (Helm's
/// `# Source: [^/]+/(.+)` match).
fn source_name(doc: &str) -> Option<&str> {
    let idx = doc.find("# Source: ")?;
    let rest = &doc[idx + "# Source: ".len()..];
    let slash = rest.find('/')?;
    if rest[..slash].contains('\n') || slash == 0 {
        return None;
    }
    let tail = &rest[slash + 1..];
    let end = tail.find('\n').unwrap_or(tail.len());
    let name = &tail[..end];
    if name.is_empty() { None } else { Some(name) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct reading gives the head the exact reading gives, errors included.
    #[test]
    fn head_fast_path_agrees_with_coercion() {
        let docs = [
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    x: y\ndata:\n  n: 1\n",
            "apiVersion: 1\nkind: 2.5\nmetadata:\n  name: 16777217\n  annotations:\n    w: 5\n    t: yes\n",
            "kind: .inf\nmetadata:\n  name: .nan\n",
            "kind: K\nspec:\n  x: .inf\n",
            "kind: K\nmetadata: &m\n  name: 7\nother:\n  <<: *m\n",
            "kind: K\nmetadata:\n  <<: {name: 7}\n",
            "kind: K\nkind: 5\n",
            "kind: 5\nkind: K\n",
            "metadata: x\nkind: true\n",
            "- a\n- b\n",
            "5\n",
            "",
            "kind: [a\n",
            "~: x\n",
        ];
        let text = |r: Result<Head, Error>| r.map_err(|e| e.to_string());
        for doc in docs {
            let exact = head_json_exact(doc)
                .map_err(|e| {
                    Error::ParseManifest(format!(
                        "YAML parse error on t.yaml: error converting YAML to JSON: {e}"
                    ))
                })
                .and_then(|v| head_of("t.yaml", v, HelmVersion::V3));
            assert_eq!(
                text(parse_head("t.yaml", doc, HelmVersion::V3)),
                text(exact),
                "{doc:?}"
            );
        }
    }

    #[test]
    fn split_like_helm() {
        // The separator regex eats the blank line, so a `---` right after it stays in the
        // document: exactly what Helm's `SplitManifests` does.
        let docs = split_manifests("---\na: 1\n---\n\n---\nb: 2\n  ---\n");
        assert_eq!(docs, ["a: 1", "---\nb: 2\n  ---"]);
        assert_eq!(split_manifests("a: 1\n---\nb: 2\n"), ["a: 1", "b: 2"]);
        assert_eq!(
            split_manifests("a: 1  \n\n--- \n \nb: 2\n---"),
            ["a: 1", "b: 2"]
        );
        assert_eq!(split_manifests("---\n---\na"), ["---\na"]);
        assert_eq!(split_manifests("x ---y\n---z"), ["x ---y", "z"]);
    }

    #[test]
    fn sorts_by_install_order_then_file_order() -> Result<(), Error> {
        let mut files = BTreeMap::new();
        files.insert(
            "c/templates/a.yaml".to_owned(),
            "kind: Deployment\nmetadata: {name: d}\n---\nkind: Service\n".to_owned(),
        );
        files.insert(
            "c/templates/b.yaml".to_owned(),
            "kind: Zeta\n---\nkind: Alpha\n---\nkind: ConfigMap\n".to_owned(),
        );
        files.insert(
            "c/templates/h.yaml".to_owned(),
            "kind: Pod\nmetadata:\n  annotations:\n    helm.sh/hook: test\n".to_owned(),
        );
        let (hooks, m) = sort_manifests(&files)?;
        let kinds: Vec<&str> = m.iter().map(|x| x.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["ConfigMap", "Service", "Deployment", "Alpha", "Zeta"]
        );
        assert_eq!(hooks.len(), 1);
        assert!(hooks[0].is_test());
        Ok(())
    }
}
