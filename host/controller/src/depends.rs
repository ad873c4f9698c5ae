//! `dependsOn`: a release is installed or upgraded only once every HelmRelease it lists is
//! Ready for its current generation (Flux's rule); until then it is `Ready=False`
//! (`DependencyNotReady`) and re-queued. A dependency cycle can never resolve, so it is an
//! error naming the cycle, found by walking the `dependsOn` graph from the release.

use std::collections::{BTreeMap, BTreeSet};

use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use serde_json::Value;

/// Why a release may not proceed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// A dependency is missing or not Ready.
    NotReady(String),
    /// The graph has a cycle through the release (`a -> b -> a`).
    Cycle(Vec<String>),
}

impl Blocked {
    /// For status messages.
    pub fn message(&self) -> String {
        match self {
            Blocked::NotReady(m) => m.clone(),
            Blocked::Cycle(path) => format!("dependency cycle: {}", path.join(" -> ")),
        }
    }
}

/// `namespace/name` of a `dependsOn` entry (namespace defaults to the release's).
pub fn dependency_key(own_namespace: &str, name: &str, namespace: Option<&str>) -> String {
    format!("{}/{name}", namespace.unwrap_or(own_namespace))
}

/// Whether a dependency (the HelmRelease's JSON) is Ready for its current generation.
pub fn dependency_ready(key: &str, dep: Option<&Value>) -> Result<(), String> {
    let Some(dep) = dep else {
        return Err(format!("dependency '{key}' does not exist"));
    };
    let generation = dep.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = dep
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    let ready = dep
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        })
        .and_then(|c| c.get("status").and_then(Value::as_str))
        == Some("True");
    if ready && (generation.is_none() || generation == observed) {
        Ok(())
    } else {
        Err(format!("dependency '{key}' is not ready"))
    }
}

/// A cycle reachable from `start` in `edges` (`release -> its dependencies`), as the path
/// `start … x -> … -> x`, if any.
pub fn find_cycle(start: &str, edges: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    visit(start, edges, &mut Vec::new(), &mut BTreeSet::new())
}

/// How many HelmReleases a cycle search reads at most.
const MAX_GRAPH: usize = 256;

fn depends_on(own_namespace: &str, hr: &Value) -> Vec<String> {
    hr.pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let name = d.get("name").and_then(Value::as_str)?;
            Some(dependency_key(
                own_namespace,
                name,
                d.get("namespace").and_then(Value::as_str),
            ))
        })
        .collect()
}

/// Checks the dependencies of the HelmRelease `release` (its JSON; `kind` is its resource):
/// `None` when all are Ready.
pub async fn check(
    client: &kube::Client,
    kind: &ApiResource,
    release: &Value,
) -> Result<Option<Blocked>, kube::Error> {
    let ns = release
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let name = release
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let start = format!("{ns}/{name}");
    let direct = depends_on(ns, release);
    if direct.is_empty() {
        return Ok(None);
    }
    // Read the graph reachable from the release (bounded), then decide.
    let mut objects: BTreeMap<String, Option<Value>> = BTreeMap::new();
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    edges.insert(start.clone(), direct.clone());
    let mut queue: Vec<String> = direct.clone();
    while let Some(key) = queue.pop() {
        if objects.contains_key(&key) || key == start || objects.len() >= MAX_GRAPH {
            continue;
        }
        let (dns, dname) = key.split_once('/').unwrap_or(("", key.as_str()));
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), dns, kind);
        let found = api
            .get_opt(dname)
            .await?
            .map(|o| serde_json::to_value(o).unwrap_or(Value::Null));
        if let Some(v) = &found {
            let next = depends_on(dns, v);
            queue.extend(next.iter().cloned());
            edges.insert(key.clone(), next);
        }
        objects.insert(key, found);
    }
    if let Some(cycle) = find_cycle(&start, &edges) {
        return Ok(Some(Blocked::Cycle(cycle)));
    }
    for key in &direct {
        if let Err(m) = dependency_ready(key, objects.get(key).and_then(Option::as_ref)) {
            return Ok(Some(Blocked::NotReady(m)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_edges(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    fn mk_dep(ready: &str, generation: i64, observed: i64) -> Value {
        json!({"metadata": {"name": "db", "generation": generation},
               "status": {"observedGeneration": observed,
                          "conditions": [{"type": "Ready", "status": ready}]}})
    }

    #[test]
    fn a_dependency_is_ready_for_its_current_generation_only() {
        assert_eq!(
            dependency_ready("a/db", Some(&mk_dep("True", 2, 2))),
            Ok(())
        );
        assert!(dependency_ready("a/db", Some(&mk_dep("True", 3, 2))).is_err());
        assert!(dependency_ready("a/db", Some(&mk_dep("False", 2, 2))).is_err());
        let missing = dependency_ready("a/db", None).expect_err("missing");
        assert!(missing.contains("'a/db' does not exist"), "{missing}");
    }

    #[test]
    fn cycles_are_found_and_named() {
        let edges = mk_edges(&[
            ("a/web", &["a/api"]),
            ("a/api", &["a/db"]),
            ("a/db", &["a/web"]),
        ]);
        assert_eq!(
            find_cycle("a/web", &edges),
            Some(vec![
                "a/web".into(),
                "a/api".into(),
                "a/db".into(),
                "a/web".into()
            ])
        );
        let dag = mk_edges(&[
            ("a/web", &["a/api", "a/db"]),
            ("a/api", &["a/db"]),
            ("a/db", &[]),
        ]);
        assert_eq!(find_cycle("a/web", &dag), None);
        let self_loop = mk_edges(&[("a/web", &["a/web"])]);
        assert_eq!(
            Blocked::Cycle(find_cycle("a/web", &self_loop).unwrap_or_default()).message(),
            "dependency cycle: a/web -> a/web"
        );
    }

    #[test]
    fn dependency_keys_default_to_the_release_namespace() {
        assert_eq!(dependency_key("apps", "db", None), "apps/db");
        assert_eq!(dependency_key("apps", "db", Some("data")), "data/db");
    }
}
