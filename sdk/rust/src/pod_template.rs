//! Finds the pod template inside every workload kind (a bare Pod, `spec.template` of Deployments,
//! StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers and Jobs, and
//! `spec.jobTemplate.spec.template` of CronJobs), so a transform that edits pods — injecting a
//! sidecar, rewriting images, checking security settings — is written once, and its diagnostics
//! carry the exact field path (`spec.jobTemplate.spec.template.spec.initContainers[0]`).

use serde_json::{Map, Value};

use crate::Object;
use crate::object::{ensure_map, entries_at, key_is, skip_value, top_level_entries};

/// Where a kind keeps its pod template: the JSON keys from the object root, and the same as a
/// dotted field path prefix (empty for a bare Pod, whose template is the object itself).
fn template_location(group: &str, kind: &str) -> Option<(&'static [&'static str], &'static str)> {
    const WORKLOAD: &[&str] = &["spec", "template"];
    const CRONJOB: &[&str] = &["spec", "jobTemplate", "spec", "template"];
    match (group, kind) {
        ("", "Pod") => Some((&[], "")),
        ("", "ReplicationController")
        | ("apps" | "extensions", "Deployment" | "DaemonSet" | "ReplicaSet")
        | ("apps", "StatefulSet")
        | ("batch", "Job") => Some((WORKLOAD, "spec.template.")),
        ("batch", "CronJob") => Some((CRONJOB, "spec.jobTemplate.spec.template.")),
        _ => None,
    }
}

/// True if objects of this API group and kind carry a pod template.
pub fn has_pod_template(group: &str, kind: &str) -> bool {
    template_location(group, kind).is_some()
}

/// Which list of a pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContainerKind {
    /// `containers`.
    Container,
    /// `initContainers`.
    InitContainer,
    /// `ephemeralContainers`.
    EphemeralContainer,
}

impl ContainerKind {
    /// All kinds, in the order they are visited.
    pub const ALL: [ContainerKind; 3] = [
        ContainerKind::Container,
        ContainerKind::InitContainer,
        ContainerKind::EphemeralContainer,
    ];

    /// The pod spec field holding this list.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::InitContainer => "initContainers",
            ContainerKind::EphemeralContainer => "ephemeralContainers",
        }
    }

    fn of_field(field: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.field() == field)
    }
}

/// One container of a pod template, mutable.
#[derive(Debug)]
pub struct ContainerMut<'a> {
    /// Which list it is in.
    pub kind: ContainerKind,
    /// Its index in that list.
    pub index: usize,
    /// Its field path, e.g. `spec.template.spec.initContainers[0]`.
    pub path: String,
    /// The container itself.
    pub container: &'a mut Map<String, Value>,
}

impl ContainerMut<'_> {
    /// `name` (empty if missing).
    pub fn name(&self) -> &str {
        str_field(self.container, "name")
    }

    /// `image`, if set.
    pub fn image(&self) -> Option<&str> {
        self.container.get("image").and_then(Value::as_str)
    }
}

/// One container of a pod template.
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'a> {
    /// Which list it is in.
    pub kind: ContainerKind,
    /// Its index in that list.
    pub index: usize,
    /// The container itself.
    pub container: &'a Map<String, Value>,
    prefix: &'static str,
}

impl ContainerRef<'_> {
    /// `name` (empty if missing).
    pub fn name(&self) -> &str {
        str_field(self.container, "name")
    }

    /// `image`, if set.
    pub fn image(&self) -> Option<&str> {
        self.container.get("image").and_then(Value::as_str)
    }

    /// Its field path, e.g. `spec.template.spec.containers[1]`.
    pub fn path(&self) -> String {
        format!("{}spec.{}[{}]", self.prefix, self.kind.field(), self.index)
    }
}

fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> &'a str {
    map.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The pod template of one object, mutable: its `metadata` and pod `spec`.
#[derive(Debug)]
pub struct PodTemplateMut<'a> {
    template: &'a mut Map<String, Value>,
    prefix: &'static str,
}

/// The pod template of one object.
#[derive(Debug, Clone, Copy)]
pub struct PodTemplateRef<'a> {
    template: &'a Map<String, Value>,
    prefix: &'static str,
}

/// The pod template of `object`, if its kind has one and it is present (a Deployment without
/// `spec.template` has none: nothing is invented).
pub fn pod_template(object: &Object) -> Option<PodTemplateRef<'_>> {
    let (keys, prefix) = template_location(object.group(), object.kind())?;
    let mut map: &Map<String, Value> = object;
    for key in keys {
        map = map.get(*key)?.as_object()?;
    }
    Some(PodTemplateRef {
        template: map,
        prefix,
    })
}

/// The mutable pod template of `object`, if its kind has one and it is present.
pub fn pod_template_mut(object: &mut Object) -> Option<PodTemplateMut<'_>> {
    let (keys, prefix) = template_location(object.group(), object.kind())?;
    let mut map: &mut Map<String, Value> = object;
    for key in keys {
        map = map.get_mut(*key)?.as_object_mut()?;
    }
    Some(PodTemplateMut {
        template: map,
        prefix,
    })
}

/// The `metadata` of `object`'s pod template, created if missing, if its kind has a template
/// and it is present: what [`pod_template_mut`]`(object)?.metadata_mut()` gives, for a
/// transform that changes only a template's labels or annotations. While the object is as the
/// host sent it, only that map is parsed, and on output only it is encoded again, in place: the
/// pod spec, most of a workload, is never parsed or encoded (issue #12).
pub fn pod_template_metadata_mut(object: &mut Object) -> Option<PodTemplateMetadataMut<'_>> {
    let (keys, prefix) = template_location(object.group(), object.kind())?;
    if keys.is_empty() {
        return Some(PodTemplateMetadataMut {
            metadata: object.metadata_mut(),
            prefix,
        });
    }
    let path: Vec<&'static str> = keys.iter().copied().chain(["metadata"]).collect();
    if object.inner_map_mut(&path).is_some() {
        return Some(PodTemplateMetadataMut {
            metadata: object
                .inner_map_mut(&path)
                .expect("the inner map was just found"),
            prefix,
        });
    }
    let template = pod_template_mut(object)?.template;
    Some(PodTemplateMetadataMut {
        metadata: ensure_map(template, "metadata"),
        prefix,
    })
}

/// A pod template's `metadata`, mutable ([`pod_template_metadata_mut`]); dereferences to the
/// map.
#[derive(Debug)]
pub struct PodTemplateMetadataMut<'a> {
    metadata: &'a mut Map<String, Value>,
    prefix: &'static str,
}

impl PodTemplateMetadataMut<'_> {
    /// Its field path (`spec.template.metadata`).
    pub fn path(&self) -> String {
        paths(self.prefix).0
    }
}

impl std::ops::Deref for PodTemplateMetadataMut<'_> {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        self.metadata
    }
}

impl std::ops::DerefMut for PodTemplateMetadataMut<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.metadata
    }
}

/// A container's `image` string as found in a received object's text ([`received_images`]).
pub(crate) struct ReceivedImage {
    pub(crate) kind: ContainerKind,
    pub(crate) index: usize,
    /// The span of the JSON string in the object's text.
    pub(crate) span: std::ops::Range<usize>,
    pub(crate) image: String,
}

/// The field path prefix of `object`'s pod template and, for each container whose `image` is a
/// string, in the order of [`PodTemplateMut::containers_mut`], where that string is in the
/// received text, found by skipping values, without parsing the object (issue #12). `None` where
/// the object is not as received past its head, has no pod template (or one that is not a
/// map), or its text is not as the host writes it on the way (a repeated or escaped key, not
/// compact): then the caller works on the parsed object.
pub(crate) fn received_images(object: &Object) -> Option<(&'static str, Vec<ReceivedImage>)> {
    let text = object.received_body()?;
    let (keys, prefix) = template_location(object.group(), object.kind())?;
    let path: Vec<&str> = keys.iter().copied().chain(["spec"]).collect();
    let (spec, entries) = entries_at(text, &path)?;
    let pod_spec = &text[spec.clone()];
    let mut lists: [Option<std::ops::Range<usize>>; 3] = [None, None, None];
    for (name, value) in entries {
        for (slot, kind) in lists.iter_mut().zip(ContainerKind::ALL) {
            if key_is(pod_spec, name, &value, kind.field())? {
                if slot.is_some() {
                    return None;
                }
                *slot = Some(value.clone());
            }
        }
    }
    let mut found = Vec::new();
    for (list, kind) in lists.into_iter().zip(ContainerKind::ALL) {
        let Some(list) = list else { continue };
        let list_text = &pod_spec[list.clone()];
        if !list_text.starts_with('[') {
            continue; // not a list: no containers there
        }
        // Each element is scanned once: a container's entries end where it does.
        let lb = list_text.as_bytes();
        if lb == b"[]" {
            continue;
        }
        let mut i = 1;
        let mut index = 0;
        loop {
            let end = if lb.get(i) == Some(&b'{') {
                let container = &list_text[i..];
                let mut image = None;
                let mut end = i + 2; // `{}`
                for entry in top_level_entries(container) {
                    let (name, value) = entry.ok()?;
                    end = i + value.end + 1;
                    if key_is(container, name, &value, "image")? {
                        if image.is_some() {
                            return None;
                        }
                        image = Some(value);
                    }
                }
                if let Some(span) = image
                    && let quoted = &container[span.clone()]
                    && quoted.starts_with('"')
                {
                    let image = if quoted.contains('\\') {
                        serde_json::from_str(quoted).ok()?
                    } else {
                        quoted[1..quoted.len() - 1].to_owned()
                    };
                    let at = spec.start + list.start + i;
                    found.push(ReceivedImage {
                        kind,
                        index,
                        span: at + span.start..at + span.end,
                        image,
                    });
                }
                end
            } else {
                // Not a map (not a container): skipped.
                skip_value(lb, i)?
            };
            index += 1;
            match lb.get(end)? {
                b',' => i = end + 1,
                b']' if end + 1 == lb.len() => break,
                _ => return None,
            }
        }
    }
    Some((prefix, found))
}

/// Appends to each pod spec list `field` of `object`'s pod template the given entries whose
/// `name` the list does not have yet ([`has_named`], against the list as it was), in order; a
/// list is created (or replaced, if it is not a list) only when something is added. Returns the
/// pod spec's field path (`spec.template.spec`) and how many entries each list got; `None` if
/// the object has no pod template.
///
/// On an object as the host sent it, the lists are found by skipping values and the entries
/// are put into its text (a new list where its key sorts), so the rest of the object is never
/// parsed or encoded (issue #12: injecting a sidecar into every workload). Text that is not as
/// the host writes it on the way (keys repeated, escaped or out of order, not compact) is
/// parsed instead.
pub fn append_missing_by_name(
    object: &mut Object,
    lists: &[(&str, &[Map<String, Value>])],
) -> Option<(String, Vec<usize>)> {
    if let Some(done) = append_in_received_text(object, lists) {
        return Some(done);
    }
    let mut template = pod_template_mut(object)?;
    let spec_path = template.spec_path();
    let added = lists
        .iter()
        .map(|(field, entries)| {
            let missing: Vec<&Map<String, Value>> = {
                let present = template
                    .as_ref()
                    .spec()
                    .and_then(|s| s.get(*field))
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice);
                entries
                    .iter()
                    .filter(|e| !has_named(present, entry_name(e)))
                    .collect()
            };
            if !missing.is_empty() {
                let list = template.list_mut(field);
                list.extend(missing.iter().map(|e| Value::Object((*e).clone())));
            }
            missing.len()
        })
        .collect();
    Some((spec_path, added))
}

/// The name an entry is matched by: its `name` string, or empty.
fn entry_name(entry: &Map<String, Value>) -> &str {
    entry.get("name").and_then(Value::as_str).unwrap_or("")
}

/// [`append_missing_by_name`] in a received object's text; `None` where it cannot be done so.
fn append_in_received_text(
    object: &mut Object,
    lists: &[(&str, &[Map<String, Value>])],
) -> Option<(String, Vec<usize>)> {
    // Each list once: a list given twice must see what the first time added.
    if lists
        .iter()
        .enumerate()
        .any(|(i, (field, _))| lists[..i].iter().any(|(f, _)| f == field))
    {
        return None;
    }
    let text = object.received_body()?;
    let (keys, prefix) = template_location(object.group(), object.kind())?;
    let path: Vec<&str> = keys.iter().copied().chain(["spec"]).collect();
    let (spec, present) = entries_at(text, &path)?;
    let pod_spec = &text[spec.clone()];
    // The pod spec's entries, keys plain and ascending: where a new key goes is then known.
    if present.iter().any(|(name, _)| name.contains(&b'\\'))
        || present.windows(2).any(|pair| pair[0].0 >= pair[1].0)
    {
        return None;
    }
    let mut added = Vec::with_capacity(lists.len());
    // (position in the text, key for new lists, text to insert there)
    let mut inserts: Vec<(usize, &str, String)> = Vec::new();
    for (field, entries) in lists {
        let list = present.iter().find(|(name, _)| *name == field.as_bytes());
        let names = match list {
            Some((_, value)) => element_names(&pod_spec[value.clone()])?,
            None => Vec::new(),
        };
        let missing: Vec<&Map<String, Value>> = entries
            .iter()
            .filter(|e| !names.iter().any(|n| n.as_deref() == Some(entry_name(e))))
            .collect();
        added.push(missing.len());
        if missing.is_empty() {
            continue;
        }
        let mut encoded = String::new();
        for (i, entry) in missing.iter().enumerate() {
            if i > 0 {
                encoded.push(',');
            }
            encoded.push_str(&serde_json::to_string(entry).ok()?);
        }
        match list {
            Some((_, value)) => {
                let close = spec.start + value.end - 1;
                let comma = if value.len() > 2 { "," } else { "" };
                inserts.push((close, "", format!("{comma}{encoded}")));
            }
            None => {
                let entry = format!("{}:[{encoded}]", serde_json::to_string(field).ok()?);
                match present.iter().find(|(name, _)| *name > field.as_bytes()) {
                    Some((name, value)) => {
                        let key_start = spec.start + value.start - name.len() - 3;
                        inserts.push((key_start, field, format!("{entry},")));
                    }
                    None => {
                        let comma = if present.is_empty() { "" } else { "," };
                        inserts.push((spec.end - 1, field, format!("{comma}{entry}")));
                    }
                }
            }
        }
    }
    // Two new lists at one place go in key order; in an empty pod spec they would need a comma
    // between them (rare: parsed instead).
    if present.is_empty() && inserts.len() > 1 {
        return None;
    }
    inserts.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    if !inserts.is_empty() {
        object.replace_received_values(
            inserts
                .into_iter()
                .map(|(at, _, new)| (at..at, new))
                .collect(),
        );
    }
    Some((format!("{prefix}spec"), added))
}

/// The `name` of each element of a compact JSON array (`None` for an element that is not a
/// map or whose `name` is not a string); `None` if a name is not plain to find (repeated,
/// escaped key) or the text is not a compact array.
fn element_names(list: &str) -> Option<Vec<Option<String>>> {
    let b = list.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut names = Vec::new();
    if b == b"[]" {
        return Some(names);
    }
    let mut i = 1;
    loop {
        let end = if b.get(i) == Some(&b'{') {
            let element = &list[i..];
            let mut name = None;
            let mut end = i + 2; // `{}`
            for entry in top_level_entries(element) {
                let (key, value) = entry.ok()?;
                end = i + value.end + 1;
                if key_is(element, key, &value, "name")? {
                    if name.is_some() {
                        return None;
                    }
                    name = Some(value);
                }
            }
            names.push(match name.map(|v| &element[v]) {
                Some(quoted) if quoted.starts_with('"') => Some(serde_json::from_str(quoted).ok()?),
                _ => None,
            });
            end
        } else {
            names.push(None);
            skip_value(b, i)?
        };
        match b.get(end)? {
            b',' => i = end + 1,
            b']' if end + 1 == b.len() => return Some(names),
            _ => return None,
        }
    }
}

/// Every pod template in `objects`, with its object index, for transforms that edit pods.
pub fn pod_templates_mut(
    objects: &mut [Object],
) -> impl Iterator<Item = (usize, PodTemplateMut<'_>)> {
    objects
        .iter_mut()
        .enumerate()
        .filter_map(|(i, o)| pod_template_mut(o).map(|t| (i, t)))
}

fn paths(prefix: &str) -> (String, String) {
    (format!("{prefix}metadata"), format!("{prefix}spec"))
}

impl<'a> PodTemplateRef<'a> {
    /// The template's field path (`spec.template`; empty for a bare Pod).
    pub fn path(&self) -> &'static str {
        self.prefix.strip_suffix('.').unwrap_or(self.prefix)
    }

    /// Field path of the template's metadata (`spec.template.metadata`).
    pub fn metadata_path(&self) -> String {
        paths(self.prefix).0
    }

    /// Field path of the pod spec (`spec.template.spec`).
    pub fn spec_path(&self) -> String {
        paths(self.prefix).1
    }

    /// The template's `metadata`, if present.
    pub fn metadata(&self) -> Option<&'a Map<String, Value>> {
        self.template.get("metadata")?.as_object()
    }

    /// The pod `spec`, if present.
    pub fn spec(&self) -> Option<&'a Map<String, Value>> {
        self.template.get("spec")?.as_object()
    }

    /// Every container (`containers`, then `initContainers`, then `ephemeralContainers`), skipping
    /// list entries that are not maps.
    pub fn containers(&self) -> Vec<ContainerRef<'a>> {
        let Some(spec) = self.spec() else {
            return Vec::new();
        };
        let prefix = self.prefix;
        ContainerKind::ALL
            .into_iter()
            .filter_map(|kind| Some((kind, spec.get(kind.field())?.as_array()?)))
            .flat_map(|(kind, list)| {
                list.iter().enumerate().filter_map(move |(index, c)| {
                    Some(ContainerRef {
                        kind,
                        index,
                        container: c.as_object()?,
                        prefix,
                    })
                })
            })
            .collect()
    }
}

impl PodTemplateMut<'_> {
    /// A read-only view of the same template.
    pub fn as_ref(&self) -> PodTemplateRef<'_> {
        PodTemplateRef {
            template: self.template,
            prefix: self.prefix,
        }
    }

    /// The template's field path (`spec.template`; empty for a bare Pod).
    pub fn path(&self) -> &'static str {
        self.prefix.strip_suffix('.').unwrap_or(self.prefix)
    }

    /// Field path of the template's metadata (`spec.template.metadata`).
    pub fn metadata_path(&self) -> String {
        paths(self.prefix).0
    }

    /// Field path of the pod spec (`spec.template.spec`).
    pub fn spec_path(&self) -> String {
        paths(self.prefix).1
    }

    /// The template's `metadata`, created if missing.
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.template, "metadata")
    }

    /// The pod `spec`, created if missing.
    pub fn spec_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.template, "spec")
    }

    /// The template's `metadata.labels`, created if missing.
    pub fn labels_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.metadata_mut(), "labels")
    }

    /// The template's `metadata.annotations`, created if missing.
    pub fn annotations_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.metadata_mut(), "annotations")
    }

    /// The pod spec list `field` (`containers`, `volumes`, …), created empty if missing (or
    /// replaced if not a list).
    pub fn list_mut(&mut self, field: &str) -> &mut Vec<Value> {
        let slot = self
            .spec_mut()
            .entry(field.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        match slot {
            Value::Array(list) => list,
            _ => unreachable!("slot was just made an array"),
        }
    }

    /// Every container, mutable, in the order of [`PodTemplateRef::containers`].
    pub fn containers_mut(&mut self) -> Vec<ContainerMut<'_>> {
        let prefix = self.prefix;
        let Some(Value::Object(spec)) = self.template.get_mut("spec") else {
            return Vec::new();
        };
        let mut lists: Vec<(ContainerKind, &mut Vec<Value>)> = spec
            .iter_mut()
            .filter_map(|(k, v)| Some((ContainerKind::of_field(k)?, v.as_array_mut()?)))
            .collect();
        lists.sort_by_key(|(kind, _)| *kind);
        lists
            .into_iter()
            .flat_map(|(kind, list)| {
                list.iter_mut().enumerate().filter_map(move |(index, c)| {
                    Some(ContainerMut {
                        kind,
                        index,
                        path: format!("{prefix}spec.{}[{index}]", kind.field()),
                        container: c.as_object_mut()?,
                    })
                })
            })
            .collect()
    }
}

/// True if the list holds a map whose `name` is `name`.
pub fn has_named(list: &[Value], name: &str) -> bool {
    list.iter()
        .any(|v| v.get("name").and_then(Value::as_str) == Some(name))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_obj(v: Value) -> Object {
        Object::from_value(v).expect("test object is a map")
    }

    fn mk_pod_spec() -> Value {
        json!({
            "containers": [{"name": "app", "image": "app:1"}, {"name": "side", "image": "side:1"}],
            "initContainers": [{"name": "init", "image": "init:1"}],
            "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
        })
    }

    fn mk_workload(api_version: &str, kind: &str) -> Object {
        let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": mk_pod_spec()});
        let spec = if kind == "CronJob" {
            json!({"jobTemplate": {"spec": {"template": template}}})
        } else {
            json!({"template": template, "selector": {"matchLabels": {"app": "x"}}})
        };
        mk_obj(
            json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}, "spec": spec}),
        )
    }

    #[test]
    fn finds_templates_of_every_workload_kind() {
        for (api, kind, path) in [
            ("apps/v1", "Deployment", "spec.template"),
            ("apps/v1", "StatefulSet", "spec.template"),
            ("apps/v1", "DaemonSet", "spec.template"),
            ("apps/v1", "ReplicaSet", "spec.template"),
            ("v1", "ReplicationController", "spec.template"),
            ("batch/v1", "Job", "spec.template"),
            ("batch/v1", "CronJob", "spec.jobTemplate.spec.template"),
        ] {
            let mut obj = mk_workload(api, kind);
            let t = pod_template(&obj).unwrap_or_else(|| panic!("{kind} has a template"));
            assert_eq!(t.path(), path);
            assert_eq!(t.spec_path(), format!("{path}.spec"));
            assert_eq!(t.containers().len(), 4, "{kind}");
            let mut t = pod_template_mut(&mut obj).expect("mutable template");
            t.labels_mut().insert("new".into(), json!("yes"));
            let labels = obj
                .pointer(&format!("/{}/metadata/labels/new", path.replace('.', "/")))
                .cloned();
            assert_eq!(labels, Some(json!("yes")), "{kind}");
        }
    }

    #[test]
    fn bare_pod_is_its_own_template() {
        let mut pod = mk_obj(json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": mk_pod_spec()
        }));
        let t = pod_template(&pod).expect("pod template");
        assert_eq!(t.path(), "");
        assert_eq!(t.spec_path(), "spec");
        assert_eq!(t.metadata_path(), "metadata");
        let paths: Vec<String> = t.containers().iter().map(ContainerRef::path).collect();
        assert_eq!(
            paths,
            [
                "spec.containers[0]",
                "spec.containers[1]",
                "spec.initContainers[0]",
                "spec.ephemeralContainers[0]"
            ]
        );
        let mut t = pod_template_mut(&mut pod).expect("mutable");
        t.labels_mut().insert("a".into(), json!("b"));
        assert_eq!(pod.label("a"), Some("b"));
    }

    #[test]
    fn other_kinds_and_missing_templates_have_none() {
        let svc = mk_obj(json!({"apiVersion": "v1", "kind": "Service", "spec": {"template": {}}}));
        assert!(pod_template(&svc).is_none());
        let crd = mk_obj(json!({"apiVersion": "example.com/v1", "kind": "Deployment",
            "spec": {"template": {"spec": {}}}}));
        assert!(pod_template(&crd).is_none());
        let mut bare = mk_obj(json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}));
        assert!(pod_template_mut(&mut bare).is_none());
        assert!(has_pod_template("batch", "CronJob"));
        assert!(!has_pod_template("", "ConfigMap"));
    }

    #[test]
    fn containers_mut_paths_and_edits() {
        let mut obj = mk_workload("batch/v1", "CronJob");
        let mut t = pod_template_mut(&mut obj).expect("template");
        let mut seen = Vec::new();
        for c in t.containers_mut() {
            seen.push((c.path.clone(), c.name().to_owned()));
            c.container.insert("image".into(), json!("rewritten"));
        }
        assert_eq!(
            seen[2],
            (
                "spec.jobTemplate.spec.template.spec.initContainers[0]".to_owned(),
                "init".to_owned()
            )
        );
        assert_eq!(seen.len(), 4);
        let t = pod_template(&obj).expect("template");
        assert!(
            t.containers()
                .iter()
                .all(|c| c.image() == Some("rewritten"))
        );
    }

    #[test]
    fn pod_templates_mut_visits_every_workload() {
        let cm = mk_obj(json!({"apiVersion": "v1", "kind": "ConfigMap"}));
        let mut objects = vec![
            mk_workload("apps/v1", "DaemonSet"),
            cm.clone(),
            mk_workload("batch/v1", "CronJob"),
        ];
        let mut seen = Vec::new();
        for (i, mut t) in pod_templates_mut(&mut objects) {
            seen.push((i, t.spec_path()));
            t.annotations_mut().insert("seen".into(), json!("yes"));
        }
        assert_eq!(
            seen,
            [
                (0, "spec.template.spec".to_owned()),
                (2, "spec.jobTemplate.spec.template.spec".to_owned())
            ]
        );
        assert_eq!(objects[1], cm);
        assert_eq!(
            objects[2].pointer("/spec/jobTemplate/spec/template/metadata/annotations/seen"),
            Some(&json!("yes"))
        );
    }

    #[test]
    fn list_mut_creates_lists() {
        let mut pod = mk_obj(json!({"apiVersion": "v1", "kind": "Pod", "spec": {"volumes": 3}}));
        let mut t = pod_template_mut(&mut pod).expect("template");
        t.list_mut("volumes").push(json!({"name": "v"}));
        assert!(has_named(t.list_mut("volumes"), "v"));
        assert!(!has_named(t.list_mut("initContainers"), "v"));
        assert_eq!(pod.pointer("/spec/initContainers"), Some(&json!([])));
    }
}
