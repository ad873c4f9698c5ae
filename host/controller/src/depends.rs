//! `dependsOn`: a release is installed or upgraded only once every HelmRelease it lists is
//! Ready for its current generation (Flux's rule) — or, for an entry with a `readyExpr`, once
//! that CEL expression over `dep` and `self` (the two HelmReleases) is true, which replaces the
//! built-in rule as in Flux. Until then it is `Ready=False` (`DependencyNotReady`) and
//! re-queued. A dependency cycle can never resolve, so it is an error naming the cycle, found
//! by walking the `dependsOn` graph from the release.

use std::collections::{BTreeMap, BTreeSet};

use capstan_api::HelmReleaseSpec;

use crate::cel::{CompileError, Expr};

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

/// The status of a HelmRelease's `Ready` condition (`True`, `False`, `Unknown`), if it has one.
pub fn ready_status(hr: &Value) -> Option<&str> {
    hr.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))?
        .get("status")?
        .as_str()
}

/// The `readyExpr`s of a release's `dependsOn`, compiled, by dependency key.
pub fn ready_exprs(
    own_namespace: &str,
    spec: &HelmReleaseSpec,
) -> Result<BTreeMap<String, Expr>, CompileError> {
    spec.depends_on
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let source = d.ready_expr.as_deref()?;
            let key = dependency_key(own_namespace, &d.name, d.namespace.as_deref());
            Some(Expr::compile(format!("spec.dependsOn[{i}].readyExpr"), source).map(|e| (key, e)))
        })
        .collect()
}

/// Whether a dependency (the HelmRelease's JSON) is ready: its `readyExpr` over `dep` and
/// `self` (the dependent release's JSON) when it has one, else Ready for its current
/// generation.
pub fn dependency_ready(
    key: &str,
    dep: Option<&Value>,
    this: &Value,
    ready_expr: Option<&Expr>,
) -> Result<(), String> {
    let Some(dep) = dep else {
        return Err(format!("dependency '{key}' does not exist"));
    };
    if let Some(expr) = ready_expr {
        return match expr.eval_with(&[("dep", dep), ("self", this)]) {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "dependency '{key}' is not ready: {} `{}` is false",
                expr.field(),
                expr.source()
            )),
            Err(e) => Err(format!(
                "dependency '{key}' is not ready: {} `{}` cannot be evaluated: {e}",
                expr.field(),
                expr.source()
            )),
        };
    }
    let generation = dep.pointer("/metadata/generation").and_then(Value::as_i64);
    let observed = dep
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    let ready = ready_status(dep) == Some("True");
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

/// Checks the dependencies of the HelmRelease `release` (its JSON; `kind` is its resource;
/// `ready` its compiled `readyExpr`s from [`ready_exprs`]): `None` when all are ready.
pub async fn check(
    client: &kube::Client,
    kind: &ApiResource,
    release: &Value,
    ready: &BTreeMap<String, Expr>,
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
        if let Err(m) = dependency_ready(
            key,
            objects.get(key).and_then(Option::as_ref),
            release,
            ready.get(key),
        ) {
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
        let this = json!({});
        let ready = |dep: &Value| dependency_ready("a/db", Some(dep), &this, None);
        assert_eq!(ready(&mk_dep("True", 2, 2)), Ok(()));
        assert!(ready(&mk_dep("True", 3, 2)).is_err());
        assert!(ready(&mk_dep("False", 2, 2)).is_err());
        let missing = dependency_ready("a/db", None, &this, None).expect_err("missing");
        assert!(missing.contains("'a/db' does not exist"), "{missing}");
    }

    fn mk_spec(depends_on: Value) -> HelmReleaseSpec {
        serde_json::from_value(json!({"interval": "1m", "dependsOn": depends_on})).expect("spec")
    }

    #[test]
    fn a_ready_expr_replaces_the_built_in_rule() {
        let spec = mk_spec(json!([
            {"name": "db"},
            {"name": "api", "namespace": "b",
             "readyExpr": "dep.spec.values.version == self.spec.values.version"}
        ]));
        let exprs = ready_exprs("a", &spec).expect("compiles");
        assert_eq!(exprs.keys().collect::<Vec<_>>(), vec!["b/api"]);
        let this = json!({"spec": {"values": {"version": "v2"}}});
        let mut dep = mk_dep("False", 3, 2);
        dep["spec"] = json!({"values": {"version": "v2"}});
        // Not Ready by the built-in rule, ready by the expression.
        assert_eq!(
            dependency_ready("b/api", Some(&dep), &this, exprs.get("b/api")),
            Ok(())
        );
        dep["spec"]["values"]["version"] = json!("v1");
        let not = dependency_ready("b/api", Some(&dep), &this, exprs.get("b/api"))
            .expect_err("versions differ");
        assert!(
            not.contains("spec.dependsOn[1].readyExpr `dep.spec.values.version == self.spec.values.version` is false"),
            "{not}"
        );
        let bad = mk_spec(json!([{"name": "db", "readyExpr": "dep.status.("}]));
        let e = ready_exprs("a", &bad).expect_err("syntax error");
        assert!(
            e.to_string()
                .starts_with("spec.dependsOn[0].readyExpr: invalid CEL expression")
        );
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
