//! Value computation exactly as Helm 3 does it: merging user value files and `--set` flags,
//! enabling subcharts by `condition`/`tags`, `import-values`, and coalescing user values with
//! chart defaults and `global` values (a user `null` deletes a default).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::chart::Chart;

/// A values tree (`map[string]interface{}`).
///
/// Numbers carry Helm's Go types through `serde_json`'s number kinds: an integer
/// [`serde_json::Number`] is a Go `int64` (what `--set` and Flux's `targetPath` produce through
/// strvals), a float one is a Go `float64` (what values files, `--set-json`, `valuesFrom` and Flux's
/// `spec.values` produce through `encoding/json`). Templates see exactly those types in `%T`,
/// `kindOf`, `typeOf` and `deepEqual`. Build numbers with [`go_int64`] and [`go_float64`], and
/// decode JSON documents with [`from_json_go`] so `1000000` stays a `float64` (`1e+06`). Go's
/// `int` never reaches Helm's values from any of these sources, so there is no constructor for it.
pub type Values = Map<String, Value>;

/// A Go `int64` value (strvals' typing of `--set a=5`).
pub fn go_int64(i: i64) -> Value {
    Value::from(i)
}

/// A Go `float64` value (`encoding/json`'s and sigs.k8s.io/yaml's typing of every number);
/// `null` for NaN and infinities, which JSON cannot hold.
pub fn go_float64(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A JSON document typed as Go's `json.Unmarshal` into `interface{}` types it: every number a
/// `float64` (Flux decodes `spec.values` this way).
pub fn from_json_go(v: &Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().map_or(Value::Null, go_float64),
        Value::Array(items) => Value::Array(items.iter().map(from_json_go).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), from_json_go(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

const GLOBAL_KEY: &str = "global";

// Helm's `mergeMaps` (between values files and `--set`): the one copy, shared with capstan-api
// (see the file's module docs).
#[path = "../../api/src/merge/maps.rs"]
mod maps;

pub use maps::merge_maps;

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Object(_))
}

/// `CoalesceValues`: user values over chart defaults, for the chart and all its subcharts.
pub fn coalesce_values(chart: &Chart, user: &Values) -> Result<Values, String> {
    let mut dest = user.clone();
    coalesce(chart, &mut dest, false)?;
    Ok(dest)
}

/// `MergeValues`: like [`coalesce_values`] but nulls are kept.
pub(crate) fn merge_values(chart: &Chart, user: &Values) -> Result<Values, String> {
    let mut dest = user.clone();
    coalesce(chart, &mut dest, true)?;
    Ok(dest)
}

fn coalesce(chart: &Chart, dest: &mut Values, merge: bool) -> Result<(), String> {
    coalesce_chart_values(chart, dest, merge);
    coalesce_deps(chart, dest, merge)
}

fn coalesce_deps(chart: &Chart, dest: &mut Values, merge: bool) -> Result<(), String> {
    for sub in &chart.dependencies {
        let name = sub.name().to_owned();
        // The subchart's table is taken out and put back (no copy), unless it is the globals
        // table that `coalesce_globals` reads from `dest`.
        let mut dv = match dest.get_mut(&name) {
            None => Map::new(),
            Some(Value::Object(m)) if name != GLOBAL_KEY => std::mem::take(m),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                return Err(format!("type mismatch on {name}: {}", go_percent_t(other)));
            }
        };
        coalesce_globals(&mut dv, dest);
        coalesce(sub, &mut dv, merge)?;
        dest.insert(name, Value::Object(dv));
    }
    Ok(())
}

/// Go's `%t` of a non-table value (Helm formats the offending value with it).
fn go_percent_t(v: &Value) -> String {
    let go_v = crate::funcs::json_to_value(v).to_go_string();
    match v {
        Value::Null => "%!t(<nil>)".to_owned(),
        Value::Bool(b) => b.to_string(),
        _ => format!("%!t({}={go_v})", go_type(v)),
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Array(_) => "[]interface {}",
        _ => "<nil>",
    }
}

fn coalesce_globals(dest: &mut Values, src: &Values) {
    let mut dg = match dest.get(GLOBAL_KEY) {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return,
    };
    let sg = match src.get(GLOBAL_KEY) {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return,
    };
    for (key, val) in sg {
        if let Value::Object(vm) = &val {
            let mut vv = vm.clone();
            match dg.get(&key) {
                None => {
                    dg.insert(key, Value::Object(vv));
                }
                Some(Value::Object(destv)) => {
                    coalesce_tables(&mut vv, destv, true);
                    dg.insert(key, Value::Object(vv));
                }
                Some(_) => {}
            }
        } else if dg.get(&key).is_some_and(is_table) {
            // A table in the subchart's globals wins over a scalar from the parent.
        } else {
            dg.insert(key, val);
        }
    }
    dest.insert(GLOBAL_KEY.to_owned(), Value::Object(dg));
}

fn coalesce_chart_values(chart: &Chart, v: &mut Values, merge: bool) {
    coalesce_chart_values_of(chart, v, merge, None);
}

/// [`coalesce_chart_values`] of the chart's values under `keys` (all when `None`).
fn coalesce_chart_values_of(
    chart: &Chart,
    v: &mut Values,
    merge: bool,
    keys: Option<&BTreeSet<String>>,
) {
    for (key, val) in &chart.values {
        if keys.is_some_and(|keys| !keys.contains(key)) {
            continue;
        }
        match v.get_mut(key) {
            Some(Value::Null) if !merge => {
                v.remove(key);
            }
            Some(Value::Object(dest)) => {
                if let Value::Object(src) = val {
                    let merge = merge || chart.dependencies.iter().any(|d| d.name() == key);
                    coalesce_tables(dest, src, merge);
                }
            }
            Some(_) => {}
            None => {
                v.insert(key.clone(), val.clone());
            }
        }
    }
}

/// `coalesceTablesFullKey`: `src` under `dst` (`dst` wins), recursively.
pub(crate) fn coalesce_tables(dst: &mut Values, src: &Values, merge: bool) {
    for (key, val) in src {
        match dst.get_mut(key) {
            Some(Value::Null) if !merge => {
                dst.remove(key);
            }
            None => {
                dst.insert(key.clone(), val.clone());
            }
            Some(dv) => {
                if let Value::Object(vm) = val
                    && let Value::Object(dm) = dv
                {
                    coalesce_tables(dm, vm, merge);
                }
            }
        }
    }
}

/// Looks up a dotted path (`a.b.c`) in values; `None` when any step is missing or not a map.
pub(crate) fn path_value<'a>(vals: &'a Values, path: &str) -> Option<&'a Value> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop()?;
    let mut cur = vals;
    for p in parts {
        match cur.get(p) {
            Some(Value::Object(m)) => cur = m,
            _ => return None,
        }
    }
    match cur.get(last) {
        Some(v) if !v.is_object() => Some(v),
        _ => None,
    }
}

fn table<'a>(vals: &'a Values, path: &str) -> Option<&'a Values> {
    let mut cur = vals;
    for p in path.split('.') {
        match cur.get(p) {
            Some(Value::Object(m)) => cur = m,
            _ => return None,
        }
    }
    Some(cur)
}

/// `ProcessDependenciesWithMerge`: applies aliases, drops subcharts disabled by `condition` or
/// `tags`, and imports child values (`import-values`) into parents.
/// Subcharts match their `dependencies[].version` range by `helm`'s semver rules.
pub fn process_dependencies(
    chart: &mut Chart,
    user: &Values,
    helm: crate::HelmVersion,
) -> Result<(), String> {
    process_enabled(chart, user, "", helm.semver())?;
    process_import_values(chart)
}

fn process_enabled(
    c: &mut Chart,
    v: &Values,
    path: &str,
    semver: capstan_semver::Compat,
) -> Result<(), String> {
    // `IsCompatibleRange`; an empty range matches any version here.
    let compatible = |range: &str, version: &str| {
        range.is_empty() || capstan_semver::is_compatible_range(range, version, semver)
    };
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    // Charts in charts/ not listed in Chart.yaml stay; listed ones are matched (and aliased).
    // A chart listed more than once (under several aliases) is copied; otherwise it is moved.
    let mut existing: Vec<Option<Chart>> = std::mem::take(&mut c.dependencies)
        .into_iter()
        .map(Some)
        .collect();
    let found: Vec<Option<usize>> = c
        .metadata
        .dependencies
        .iter()
        .map(|req| {
            existing.iter().position(|ch| {
                ch.as_ref().is_some_and(|ch| {
                    ch.name() == req.name && compatible(&req.version, &ch.metadata.version)
                })
            })
        })
        .collect();
    let mut uses = vec![0usize; existing.len()];
    for i in found.iter().flatten() {
        uses[*i] += 1;
    }
    let mut deps: Vec<Chart> = Vec::with_capacity(existing.len() + found.len());
    for (i, ch) in existing.iter_mut().enumerate() {
        if uses[i] == 0
            && let Some(ch) = ch.take()
        {
            deps.push(ch);
        }
    }
    for (req, found) in c.metadata.dependencies.iter_mut().zip(found) {
        if let Some(i) = found {
            uses[i] -= 1;
            let dep = if uses[i] == 0 {
                existing[i].take()
            } else {
                existing[i].clone()
            };
            if let Some(mut dep) = dep {
                if !req.alias.is_empty() {
                    dep.unaliased_name = Some(dep.metadata.name.clone());
                    dep.metadata.name = req.alias.clone();
                }
                deps.push(dep);
            }
        }
        if !req.alias.is_empty() {
            req.name = req.alias.clone();
        }
        req.enabled = true;
    }
    c.dependencies = deps;
    // Only the top-level keys this chart and its subcharts read are coalesced: the rest of
    // `v` (every other subchart's values, for a subchart of an umbrella chart) is not copied.
    let mut keys = BTreeSet::new();
    keys_read(c, path, &mut keys);
    let cvals = coalesce_values_of(c, v, &keys)?;
    // Tags, then conditions (conditions win).
    if let Some(tags) = table(&cvals, "tags") {
        for req in &mut c.metadata.dependencies {
            let (mut has_true, mut has_false) = (false, false);
            for t in &req.tags {
                match tags.get(t) {
                    Some(Value::Bool(true)) => has_true = true,
                    Some(Value::Bool(false)) => has_false = true,
                    _ => {}
                }
            }
            if !has_true && has_false {
                req.enabled = false;
            } else if has_true || !has_false {
                req.enabled = true;
            }
        }
    }
    for req in &mut c.metadata.dependencies {
        for cond in req.condition.trim().split(',') {
            let cond = cond.trim_start();
            if cond.is_empty() {
                continue;
            }
            if let Some(Value::Bool(b)) = path_value(&cvals, &format!("{path}{cond}")) {
                req.enabled = *b;
                break;
            }
        }
    }
    let disabled: Vec<String> = c
        .metadata
        .dependencies
        .iter()
        .filter(|r| !r.enabled)
        .map(|r| r.name.clone())
        .collect();
    c.dependencies
        .retain(|d| !disabled.contains(&d.metadata.name));
    c.metadata
        .dependencies
        .retain(|r| !disabled.contains(&r.name));
    for sub in &mut c.dependencies {
        let subpath = format!("{path}{}.", sub.metadata.name);
        process_enabled(sub, &cvals, &subpath, semver)?;
    }
    Ok(())
}

/// The top-level keys of the values [`process_enabled`] reads for `c` at `path` and for the
/// subcharts below it: `global` and `tags`, every dependency name and alias (where coalescing
/// looks, and may fail), and the first step of every `condition` path.
fn keys_read(c: &Chart, path: &str, keys: &mut BTreeSet<String>) {
    keys.insert(GLOBAL_KEY.to_owned());
    keys.insert("tags".to_owned());
    for req in &c.metadata.dependencies {
        keys.insert(req.name.clone());
        keys.insert(req.alias.clone());
        for cond in req.condition.trim().split(',') {
            let cond = cond.trim_start();
            if !cond.is_empty() {
                let full = format!("{path}{cond}");
                keys.insert(full.split('.').next().unwrap_or_default().to_owned());
            }
        }
    }
    for sub in &c.dependencies {
        keys.insert(sub.name().to_owned());
        keys_read(sub, &format!("{path}{}.", sub.name()), keys);
    }
}

/// [`coalesce_values`] restricted to the top-level `keys`: what it gives under those keys, and
/// its errors, are [`coalesce_values`]'s, because coalescing reads and writes each top-level key
/// on its own (subcharts under their names, with `global`).
fn coalesce_values_of(
    chart: &Chart,
    user: &Values,
    keys: &BTreeSet<String>,
) -> Result<Values, String> {
    let mut dest: Values = user
        .iter()
        .filter(|(k, _)| keys.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    coalesce_chart_values_of(chart, &mut dest, false, Some(keys));
    coalesce_deps(chart, &mut dest, false).map(|()| dest)
}

fn path_to_map(path: &str, data: Values) -> Values {
    if path == "." {
        return data;
    }
    let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    let mut cur = data;
    for p in parts.iter().rev() {
        let mut m = Map::new();
        m.insert((*p).to_owned(), Value::Object(cur));
        cur = m;
    }
    cur
}

fn process_import_values(c: &mut Chart) -> Result<(), String> {
    for d in &mut c.dependencies {
        process_import_values(d)?;
    }
    if c.metadata.dependencies.is_empty() {
        return Ok(());
    }
    let cvals = merge_values(c, &Map::new())?;
    let mut b = Map::new();
    for r in &mut c.metadata.dependencies {
        let mut out = Vec::new();
        for riv in &r.import_values {
            match riv {
                Value::Object(iv) => {
                    let child = iv
                        .get("child")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let parent = iv
                        .get("parent")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    out.push(serde_json::json!({"child": child, "parent": parent}));
                    if let Some(vv) = table(&cvals, &format!("{}.{}", r.name, child)) {
                        b = merge_tables_into(b, path_to_map(&parent, vv.clone()));
                    }
                }
                Value::String(s) => {
                    let child = format!("exports.{s}");
                    out.push(serde_json::json!({"child": child, "parent": "."}));
                    if let Some(vm) = table(&cvals, &format!("{}.{}", r.name, child)) {
                        b = merge_tables_into(b, vm.clone());
                    }
                }
                _ => {}
            }
        }
        r.import_values = out;
    }
    // Imported values have lower priority than the parent's own values.
    c.values = merge_tables_into(cvals, b);
    Ok(())
}

/// `MergeTables(dst, src)` returning dst: `src` under `dst`.
fn merge_tables_into(mut dst: Values, src: Values) -> Values {
    coalesce_tables(&mut dst, &src, true);
    dst
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Values {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn null_deletes_default_and_maps_merge() -> Result<(), String> {
        let chart = Chart {
            values: obj(json!({"a": 1, "b": {"c": 2, "d": 3}, "e": "x"})),
            ..Chart::default()
        };
        let user = obj(json!({"a": null, "b": {"c": 5}, "f": null}));
        let out = coalesce_values(&chart, &user)?;
        assert_eq!(
            Value::Object(out),
            json!({"b": {"c": 5, "d": 3}, "e": "x", "f": null})
        );
        Ok(())
    }

    fn mk_chart(name: &str, values: Value, deps: Vec<Chart>) -> Chart {
        let mut c = Chart {
            values: obj(values),
            dependencies: deps,
            ..Chart::default()
        };
        c.metadata.name = name.to_owned();
        c.metadata.dependencies = c
            .dependencies
            .iter()
            .map(|d| crate::chart::Dependency {
                name: d.name().to_owned(),
                condition: format!("{}.enabled", d.name()),
                ..Default::default()
            })
            .collect();
        c
    }

    #[test]
    fn coalescing_only_the_keys_read_agrees_with_coalescing_all() {
        let deep = mk_chart("deep", json!({"d": 1, "global": {"gd": 1}}), vec![]);
        let sub = mk_chart(
            "sub",
            json!({"s": {"x": 1}, "deep": {"d": 2}, "tags": {"t": false}, "other": 3}),
            vec![deep],
        );
        let top = mk_chart(
            "top",
            json!({"sub": {"s": {"y": 2}}, "unread": {"big": [1, 2]}, "global": {"g": 1}}),
            vec![sub],
        );
        let users = [
            json!({}),
            json!({"sub": {"enabled": true, "deep": null}, "global": {"g": 2}, "tags": null}),
            json!({"deep": 5, "unread": null, "sub": {"deep": {"d": null}}}),
            json!({"sub": "not a table"}),
            json!({"sub": {"deep": "not a table"}}),
        ];
        for user in users {
            let user = obj(user);
            // As process_enabled reads them: the top chart with the user's values, and the
            // subchart with the top chart's coalesced values.
            for (chart, v, path) in [
                (&top, user.clone(), ""),
                (
                    &top.dependencies[0],
                    coalesce_values(&top, &user).unwrap_or_default(),
                    "sub.",
                ),
            ] {
                let mut keys = BTreeSet::new();
                keys_read(chart, path, &mut keys);
                let all = coalesce_values(chart, &v).map(|m| {
                    m.into_iter()
                        .filter(|(k, _)| keys.contains(k))
                        .collect::<Values>()
                });
                assert_eq!(coalesce_values_of(chart, &v, &keys), all, "{v:?}");
            }
        }
    }

    #[test]
    fn merge_maps_recurses() {
        let a = obj(json!({"x": {"y": 1, "z": 2}, "l": [1]}));
        let b = obj(json!({"x": {"y": 3}, "l": [2]}));
        assert_eq!(
            Value::Object(merge_maps(&a, &b)),
            json!({"x": {"y": 3, "z": 2}, "l": [2]})
        );
    }
}
