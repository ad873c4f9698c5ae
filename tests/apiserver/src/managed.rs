//! `metadata.managedFields` bookkeeping and server-side apply.
//!
//! Follows the Kubernetes server-side apply design (KEP-555, "Server-Side Apply" in the API
//! docs): every manager (`fieldManager`, operation `Apply` or `Update`, optional subresource) owns
//! a FieldsV1 set. An `Update` (create, PUT, any non-apply PATCH, status/scale writes) takes
//! ownership of the fields it changed away from everyone else. An `Apply` merges the applied
//! configuration into the live object, and
//! - conflicts (409, reason `Conflict`, causes of type `FieldManagerConflict`) when it would change
//!   a field another manager owns, unless `force=true`, which moves ownership to the applier;
//! - removes fields the same manager applied before and no longer applies, when no other manager
//!   owns them;
//! - shares ownership of fields applied with the same value.
//!
//! Simplifications: no per-version field-set conversion; the applied configuration is not
//! validated against a schema beyond the list types of [`crate::fields`]; an explicit `null` in
//! an applied configuration is ignored; a client cannot rewrite `managedFields` directly.

use crate::error::ApiError;
use crate::fields::{FieldSet, Scope, display_path, fields_of, get_path, merge, remove_path};
use crate::registry::ResourceType;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Manager {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    fields: FieldSet,
}

impl Manager {
    fn same(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// As the API server prints a manager in conflict messages (`printManager`).
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

fn read(obj: Option<&Value>) -> Vec<Manager> {
    let Some(entries) = obj.and_then(|o| o["metadata"]["managedFields"].as_array()) else {
        return Vec::new();
    };
    entries
        .iter()
        .map(|e| Manager {
            manager: e["manager"].as_str().unwrap_or_default().into(),
            operation: e["operation"].as_str().unwrap_or_default().into(),
            api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
            time: e["time"].as_str().unwrap_or_default().into(),
            subresource: e["subresource"].as_str().unwrap_or_default().into(),
            fields: FieldSet::from_json(&e["fieldsV1"]),
        })
        .collect()
}

fn write(obj: &mut Value, managers: &[Manager]) {
    let entries: Vec<Value> = managers
        .iter()
        .filter(|m| !m.fields.is_empty())
        .map(|m| {
            let mut e = json!({
                "manager": m.manager,
                "operation": m.operation,
                "apiVersion": m.api_version,
                "time": m.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": m.fields.to_json(),
            });
            if !m.subresource.is_empty() {
                e["subresource"] = json!(m.subresource);
            }
            e
        })
        .collect();
    if let Some(meta) = obj["metadata"].as_object_mut() {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// Who is writing, for managedFields.
#[derive(Debug, Clone)]
pub(crate) struct Writer<'a> {
    pub(crate) manager: &'a str,
    pub(crate) subresource: &'a str,
    pub(crate) api_version: &'a str,
    pub(crate) now: &'a str,
}

/// Records an `Update` by `writer` that turned `old` (None: create) into `new`; `new`'s
/// managedFields are rewritten from `old`'s.
pub(crate) fn record_update(
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
    scope: Scope,
    writer: &Writer<'_>,
) {
    let mut managers = read(old);
    let old_fields = old.map(|o| fields_of(rt, o, scope)).unwrap_or_default();
    let new_fields = fields_of(rt, new, scope);
    let mut changed = Vec::new();
    for p in new_fields.paths() {
        let differs = if p.last().map(String::as_str) == Some(".") {
            !old_fields.contains(&p)
        } else {
            old.and_then(|o| get_path(o, &p)) != get_path(new, &p)
        };
        if differs {
            changed.push(p);
        }
    }
    let removed: Vec<Vec<String>> = old_fields
        .paths()
        .into_iter()
        .filter(|p| !new_fields.contains(p))
        .collect();
    if changed.is_empty() && removed.is_empty() && old.is_some() {
        write(new, &managers);
        return;
    }
    for m in &mut managers {
        for p in changed.iter().chain(&removed) {
            m.fields.remove(p);
        }
    }
    let idx = match managers
        .iter()
        .position(|m| m.same(writer.manager, "Update", writer.subresource))
    {
        Some(i) => i,
        None => {
            managers.push(Manager {
                manager: writer.manager.into(),
                operation: "Update".into(),
                api_version: writer.api_version.into(),
                time: String::new(),
                subresource: writer.subresource.into(),
                fields: FieldSet::default(),
            });
            managers.len() - 1
        }
    };
    let m = &mut managers[idx];
    for p in &changed {
        m.fields.insert(p);
    }
    m.time = writer.now.into();
    m.api_version = writer.api_version.into();
    write(new, &managers);
}

/// Server-side apply of `applied` by `writer` onto `live` (None: the object is created).
pub(crate) fn apply(
    rt: &ResourceType,
    live: Option<&Value>,
    applied: &Value,
    scope: Scope,
    force: bool,
    writer: &Writer<'_>,
    name: &str,
) -> Result<Value, ApiError> {
    let mut applied = applied.clone();
    if let Some(meta) = applied["metadata"].as_object_mut() {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    match scope {
        Scope::Main => {
            if let Some(m) = applied.as_object_mut() {
                m.remove("status");
            }
        }
        Scope::Status => {
            let status = applied.get("status").cloned();
            let mut only = json!({"apiVersion": applied["apiVersion"], "kind": applied["kind"], "metadata": {}});
            if let Some(s) = status {
                only["status"] = s;
            }
            applied = only;
        }
        Scope::All => {}
    }
    let new_set = fields_of(rt, &applied, scope);
    let mut managers = read(live);
    let Some(live) = live else {
        let mut obj = applied;
        managers.push(Manager {
            manager: writer.manager.into(),
            operation: "Apply".into(),
            api_version: writer.api_version.into(),
            time: writer.now.into(),
            subresource: writer.subresource.into(),
            fields: new_set,
        });
        write(&mut obj, &managers);
        return Ok(obj);
    };
    let me = managers
        .iter()
        .position(|m| m.same(writer.manager, "Apply", writer.subresource));
    // Conflicts: a field another manager owns whose value the apply would change.
    let mut conflicts: Vec<(usize, Vec<String>)> = Vec::new();
    for p in new_set.paths() {
        if p.last().map(String::as_str) == Some(".") {
            continue;
        }
        if get_path(live, &p) == get_path(&applied, &p) {
            continue;
        }
        for (i, m) in managers.iter().enumerate() {
            if Some(i) != me && m.fields.contains(&p) {
                conflicts.push((i, p.clone()));
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflict_error(rt, name, &managers, &conflicts));
        }
        for (i, p) in &conflicts {
            managers[*i].fields.remove(p);
        }
    }
    let mut merged = live.clone();
    merge(rt, &mut merged, &applied, &mut Vec::new());
    let old_set = me.map(|i| managers[i].fields.clone()).unwrap_or_default();
    for p in old_set.paths() {
        if new_set.contains(&p) {
            continue;
        }
        let owned_elsewhere = managers
            .iter()
            .enumerate()
            .any(|(i, m)| Some(i) != me && m.fields.touches(&p));
        if !owned_elsewhere {
            remove_path(&mut merged, &p);
        }
    }
    let changed_set = old_set != new_set;
    match me {
        Some(i) => {
            let m = &mut managers[i];
            if changed_set {
                m.time = writer.now.into();
            }
            m.fields = new_set;
            m.api_version = writer.api_version.into();
        }
        None => managers.push(Manager {
            manager: writer.manager.into(),
            operation: "Apply".into(),
            api_version: writer.api_version.into(),
            time: writer.now.into(),
            subresource: writer.subresource.into(),
            fields: new_set,
        }),
    }
    write(&mut merged, &managers);
    Ok(merged)
}

fn conflict_error(
    rt: &ResourceType,
    name: &str,
    managers: &[Manager],
    conflicts: &[(usize, Vec<String>)],
) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(i, p)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", managers[*i].describe()),
                "field": display_path(p),
            })
        })
        .collect();
    let message = if conflicts.len() == 1 {
        let (i, p) = &conflicts[0];
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            managers[*i].describe(),
            display_path(p)
        )
    } else {
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, p) in conflicts {
            by.entry(managers[*i].describe())
                .or_default()
                .push(display_path(p));
        }
        let mut lines = Vec::new();
        for (m, paths) in by {
            lines.push(format!("conflicts with {m}:"));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let mut err = ApiError::new(409, "Conflict", message);
    err.details = json!({"name": name, "kind": rt.plural, "causes": causes});
    if !rt.group.is_empty() {
        err.details["group"] = json!(rt.group);
    }
    err
}
