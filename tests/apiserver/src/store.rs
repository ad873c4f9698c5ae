//! The object store and the verbs on it: get, list, create, update, patch, apply, delete,
//! deletecollection, and the start of a watch.
//!
//! Conventions followed (Kubernetes API conventions, "Concurrency Control and Consistency",
//! "Idempotency", "Metadata"):
//! - one global, strictly increasing `resourceVersion`, set on every write; a write that changes
//!   nothing (same object after apply/patch) does not bump it and emits no watch event;
//! - `update`/`patch` carrying a `metadata.resourceVersion` that is not the current one fail with
//!   409 `Conflict`; create of an existing name fails with 409 `AlreadyExists`;
//! - `metadata.uid`, `creationTimestamp` are set on create; `generation` starts at 1 and grows
//!   when anything but metadata (and status, for types with a status subresource) changes;
//! - `generateName` appends five random characters;
//! - `dryRun=All` runs every check and returns the result, storing nothing;
//! - deletion: objects with `metadata.finalizers` get `deletionTimestamp` (and
//!   `deletionGracePeriodSeconds: 0`) and stay until the last finalizer is removed;
//!   `propagationPolicy` `Foreground` adds the `foregroundDeletion` finalizer and deletes
//!   dependents first, `Orphan` removes the owner references of dependents, `Background` (the
//!   default) deletes the owner and then its dependents (garbage collection by
//!   `ownerReferences[].uid`). Simplification: the garbage collector runs synchronously at the end of
//!   each delete, not as an asynchronous controller; `blockOwnerDeletion` is not checked.
//! - namespaces: deleting one sets `status.phase: Terminating`, deletes everything in it and goes
//!   away when it is empty; creating in a terminating namespace is 403, in a missing one 404.

use crate::error::ApiError;
use crate::fields::Scope;
use crate::managed::{self, Writer};
use crate::patch;
use crate::registry::{Registry, ResourceType};
use crate::selector::Selector;
use crate::simulator;
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Changes kept for watches that resume from a resourceVersion (the last 4096 writes, a few MB);
/// resuming from an older one answers 410 Gone and the client lists again.
const HISTORY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One stored change, as watchers see it.
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) rv: u64,
    pub(crate) storage: String,
    pub(crate) namespace: String,
    pub(crate) kind: EventType,
    pub(crate) object: Value,
    pub(crate) previous: Option<Value>,
}

/// Query parameters.
pub(crate) type Query = HashMap<String, String>;

/// What a request is about.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) rt: Arc<ResourceType>,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) subresource: String,
    pub(crate) query: Query,
    pub(crate) manager: String,
}

impl Ctx {
    fn dry_run(&self) -> bool {
        self.query.get("dryRun").is_some_and(|v| v == "All")
    }
}

/// The start of a watch, taken under the store lock so no change is missed.
pub(crate) struct WatchStart {
    pub(crate) initial: Vec<Value>,
    pub(crate) replay: Vec<Arc<Change>>,
    pub(crate) rx: broadcast::Receiver<Arc<Change>>,
    pub(crate) rv: u64,
    pub(crate) initial_events_end: bool,
}

pub(crate) fn now() -> String {
    let ts = jiff::Timestamp::now();
    jiff::Timestamp::from_second(ts.as_second())
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The whole cluster state.
pub(crate) struct State {
    pub(crate) rv: u64,
    pub(crate) registry: Registry,
    objects: BTreeMap<String, BTreeMap<(String, String), Value>>,
    history: VecDeque<Arc<Change>>,
    pub(crate) tx: broadcast::Sender<Arc<Change>>,
    simulate: bool,
    seq: u64,
    seed: u64,
    /// Set while a namespace is emptied: one collection at the end instead of one per object.
    defer_gc: bool,
}

fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// The object with everything but metadata (and status when it is a subresource) — what
/// `metadata.generation` counts.
fn spec_part(rt: &ResourceType, obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if rt.status {
            m.remove("status");
        }
    }
    o
}

impl State {
    pub(crate) fn new(simulate: bool) -> State {
        let (tx, _) = broadcast::channel(4096);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let mut s = State {
            rv: 1,
            registry: Registry::builtin(),
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            tx,
            simulate,
            seq: 0,
            seed,
            defer_gc: false,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            s.seed_object(
                "",
                "v1",
                "namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            );
        }
        s.seed_object(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                   "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]}),
        );
        s.seed_object(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterroles",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                   "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                   "rules": [{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}]}),
        );
        s.seed_object(
            "rbac.authorization.k8s.io",
            "v1",
            "clusterrolebindings",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": "system:basic-user", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:basic-user"},
                   "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]}),
        );
        s
    }

    fn seed_object(&mut self, group: &str, version: &str, plural: &str, obj: Value) {
        if let Some(rt) = self.registry.get(group, version, plural) {
            let ctx = Ctx {
                rt,
                namespace: String::new(),
                name: String::new(),
                subresource: String::new(),
                query: Query::new(),
                manager: "capstan-testapi".into(),
            };
            let _ = self.create(&ctx, obj);
        }
    }

    fn random(&mut self) -> u64 {
        // splitmix64: unique-enough identifiers without a random-number dependency.
        self.seq += 1;
        let mut z = self
            .seed
            .wrapping_add(self.seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uid(&mut self) -> String {
        let a = self.random();
        let b = self.random();
        let h = format!("{a:016x}{b:016x}");
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    fn suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut r = self.random();
        (0..5)
            .map(|_| {
                let c = ALPHABET[(r % ALPHABET.len() as u64) as usize] as char;
                r /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    fn record(&mut self, change: Change) {
        let change = Arc::new(change);
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
        let _ = self.tx.send(change);
    }

    pub(crate) fn lookup(&self, storage: &str, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(storage)?
            .get(&(ns.to_string(), name.to_string()))
    }

    /// All objects of a storage (optionally in one namespace).
    pub(crate) fn objects_of(&self, storage: &str, ns: &str) -> Vec<&Value> {
        self.objects
            .get(storage)
            .map(|m| {
                m.iter()
                    .filter(|((n, _), _)| ns.is_empty() || n == ns)
                    .map(|(_, v)| v)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stores a new version of an object: new resourceVersion, a watch event, and the
    /// registration/simulation hooks.
    fn store(&mut self, rt: &ResourceType, mut obj: Value, previous: Option<Value>) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let ns = meta(&obj, "namespace").to_string();
        let name = meta(&obj, "name").to_string();
        self.objects
            .entry(rt.storage())
            .or_default()
            .insert((ns.clone(), name.clone()), obj.clone());
        self.record(Change {
            rv: self.rv,
            storage: rt.storage(),
            namespace: ns.clone(),
            kind: if previous.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            },
            object: obj.clone(),
            previous,
        });
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            let _ = self.registry.register_crd(&obj);
        }
        if self.simulate
            && let Some(status) = simulator::status_for(rt, &obj)
        {
            let mut new = obj.clone();
            new["status"] = status;
            let writer = Writer {
                manager: simulator::MANAGER,
                subresource: "status",
                api_version: &rt.api_version(),
                now: &now(),
            };
            managed::record_update(rt, Some(&obj), &mut new, Scope::Status, &writer);
            if new != obj {
                return self.store(rt, new, Some(obj));
            }
        }
        if self.simulate
            && rt.group == "apps"
            && rt.kind == "Deployment"
            && obj["metadata"]["deletionTimestamp"].is_null()
        {
            self.sync_replica_set(&obj);
        }
        obj
    }

    /// The deployment controller's part the simulator plays: the Deployment's current pod
    /// template has a ReplicaSet `<name>-<pod-template-hash>` (owned by the Deployment, with
    /// its replicas); older ones are scaled to zero.
    fn sync_replica_set(&mut self, deployment: &Value) {
        use std::hash::{Hash, Hasher};
        let Some(rs_type) = self.registry.get("apps", "v1", "replicasets") else {
            return;
        };
        let ns = meta(deployment, "namespace").to_string();
        let name = meta(deployment, "name").to_string();
        let uid = meta(deployment, "uid").to_string();
        let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
        let template = &deployment["spec"]["template"];
        let mut h = std::collections::hash_map::DefaultHasher::new();
        template.to_string().hash(&mut h);
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut n = h.finish();
        let hash: String = (0..10)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect();
        let rs_name = format!("{name}-{hash}");
        let owned: Vec<Value> = self
            .objects_of(&rs_type.storage(), &ns)
            .into_iter()
            .filter(|rs| {
                rs["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|o| o["uid"] == uid.as_str()))
            })
            .cloned()
            .collect();
        let ctx = |rs: &str| Ctx {
            rt: rs_type.clone(),
            namespace: ns.clone(),
            name: rs.to_string(),
            subresource: String::new(),
            query: Query::new(),
            manager: simulator::MANAGER.into(),
        };
        let revision = owned.len() + 1;
        for rs in &owned {
            let rs_replicas = rs["spec"]["replicas"].as_i64().unwrap_or(1);
            let want = if meta(rs, "name") == rs_name {
                replicas
            } else {
                0
            };
            if rs_replicas != want {
                let mut new = rs.clone();
                new["spec"]["replicas"] = json!(want);
                let _ = self.finish_update(&ctx(meta(rs, "name")), rs.clone(), new, false);
            }
        }
        if owned.iter().any(|rs| meta(rs, "name") == rs_name) {
            return;
        }
        let mut labels = template["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        labels["pod-template-hash"] = json!(hash);
        let mut selector = deployment["spec"]["selector"].clone();
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        let mut rs_template = template.clone();
        rs_template["metadata"]["labels"] = labels.clone();
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": rs_name, "namespace": ns, "labels": labels,
                "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid,
                                     "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": rs_template},
        });
        let _ = self.create(&ctx(""), rs);
    }

    /// Removes an object for good, then collects garbage.
    fn remove(&mut self, rt: &ResourceType, ns: &str, name: &str) -> Option<Value> {
        let mut obj = self
            .objects
            .get_mut(&rt.storage())?
            .remove(&(ns.to_string(), name.to_string()))?;
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(Change {
            rv: self.rv,
            storage: rt.storage(),
            namespace: ns.to_string(),
            kind: EventType::Deleted,
            object: obj.clone(),
            previous: None,
        });
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            let crd_types: Vec<Arc<ResourceType>> = self
                .registry
                .all()
                .filter(|t| t.crd.as_deref() == Some(name))
                .cloned()
                .collect();
            if let Some(t) = crd_types.first() {
                let keys: Vec<(String, String)> = self
                    .objects
                    .get(&t.storage())
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                for (n, nm) in keys {
                    self.remove(t, &n, &nm);
                }
            }
            self.registry.remove_crd(name);
        }
        Some(obj)
    }

    fn check_namespace(&self, ctx: &Ctx, name: &str) -> Result<(), ApiError> {
        if !ctx.rt.namespaced {
            return Ok(());
        }
        let ns_type = self
            .registry
            .get("", "v1", "namespaces")
            .ok_or_else(|| ApiError::bad_request("no namespaces"))?;
        match self.lookup("/namespaces", "", &ctx.namespace) {
            None => Err(ApiError::not_found(&ns_type, &ctx.namespace)),
            Some(ns) if !ns["metadata"]["deletionTimestamp"].is_null() => Err(ApiError::forbidden(
                &ctx.rt,
                name,
                &format!(
                    "unable to create new content in namespace {} because it is being terminated",
                    ctx.namespace
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    fn current(&self, ctx: &Ctx) -> Result<Value, ApiError> {
        self.lookup(&ctx.rt.storage(), &ctx.namespace, &ctx.name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&ctx.rt, &ctx.name))
    }

    /// Rewrites `apiVersion` for the version the client asked for.
    pub(crate) fn present(rt: &ResourceType, mut obj: Value) -> Value {
        obj["apiVersion"] = json!(rt.api_version());
        obj
    }

    pub(crate) fn get(&self, ctx: &Ctx) -> Result<Value, ApiError> {
        let obj = self.current(ctx)?;
        match ctx.subresource.as_str() {
            "" | "status" => Ok(State::present(&ctx.rt, obj)),
            "scale" => scale_of(&ctx.rt, &obj),
            s => Err(ApiError::not_found(&ctx.rt, &format!("{}/{s}", ctx.name))),
        }
    }

    /// The objects a list selects, sorted by namespace and name, and the list's resourceVersion.
    pub(crate) fn select(&self, ctx: &Ctx) -> Result<Vec<Value>, ApiError> {
        let labels = Selector::parse(
            ctx.query
                .get("labelSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )
        .map_err(ApiError::bad_request)?;
        let fields = Selector::parse(
            ctx.query
                .get("fieldSelector")
                .map(String::as_str)
                .unwrap_or_default(),
        )
        .map_err(ApiError::bad_request)?;
        Ok(self
            .objects_of(&ctx.rt.storage(), &ctx.namespace)
            .into_iter()
            .filter(|o| labels.matches_labels(o) && fields.matches_fields(o))
            .map(|o| State::present(&ctx.rt, o.clone()))
            .collect())
    }

    pub(crate) fn list(&self, ctx: &Ctx) -> Result<Value, ApiError> {
        let mut items = self.select(ctx)?;
        let mut list_rv = self.rv;
        if let Some(rv) = ctx.query.get("resourceVersion").filter(|v| !v.is_empty()) {
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}")))?;
            if ctx.query.get("resourceVersionMatch").map(String::as_str) == Some("Exact")
                && rv != self.rv
            {
                return Err(ApiError::gone(format!(
                    "too old resource version: {rv} ({})",
                    self.rv
                )));
            }
        }
        if let Some(token) = ctx.query.get("continue").filter(|v| !v.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            list_rv = decoded["rv"].as_u64().unwrap_or(self.rv);
            let start = decoded["start"].as_str().unwrap_or_default().to_string();
            items.retain(|o| format!("{}/{}", meta(o, "namespace"), meta(o, "name")) > start);
        }
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if let Some(limit) = ctx
            .query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > 0)
            && items.len() > limit
        {
            let remaining = items.len() - limit;
            items.truncate(limit);
            let last = &items[limit - 1];
            let token = json!({"rv": list_rv, "start": format!("{}/{}", meta(last, "namespace"), meta(last, "name"))});
            metadata["continue"] =
                json!(base64::engine::general_purpose::STANDARD.encode(token.to_string()));
            metadata["remainingItemCount"] = json!(remaining);
        }
        Ok(json!({
            "kind": format!("{}List", ctx.rt.kind),
            "apiVersion": ctx.rt.api_version(),
            "metadata": metadata,
            "items": items,
        }))
    }

    pub(crate) fn watch_start(&self, ctx: &Ctx) -> Result<WatchStart, ApiError> {
        let rv_param = ctx
            .query
            .get("resourceVersion")
            .cloned()
            .unwrap_or_default();
        let send_initial = ctx.query.get("sendInitialEvents").map(String::as_str);
        let rx = self.tx.subscribe();
        if send_initial == Some("true")
            || (send_initial.is_none() && (rv_param.is_empty() || rv_param == "0"))
        {
            return Ok(WatchStart {
                initial: self.select(ctx)?,
                replay: Vec::new(),
                rx,
                rv: self.rv,
                initial_events_end: send_initial == Some("true"),
            });
        }
        let from: u64 = if rv_param.is_empty() || rv_param == "0" {
            self.rv
        } else {
            rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}"))
            })?
        };
        if let Some(oldest) = self.history.front()
            && from + 1 < oldest.rv
            && self.history.len() >= HISTORY
        {
            return Err(ApiError::gone(format!(
                "too old resource version: {from} ({})",
                oldest.rv - 1
            )));
        }
        let replay = self
            .history
            .iter()
            .filter(|c| c.rv > from)
            .cloned()
            .collect();
        Ok(WatchStart {
            initial: Vec::new(),
            replay,
            rx,
            rv: self.rv,
            initial_events_end: false,
        })
    }

    fn writer<'a>(ctx: &'a Ctx, api_version: &'a str, now: &'a str) -> Writer<'a> {
        Writer {
            manager: &ctx.manager,
            subresource: &ctx.subresource,
            api_version,
            now,
        }
    }

    pub(crate) fn create(&mut self, ctx: &Ctx, mut obj: Value) -> Result<Value, ApiError> {
        let rt = ctx.rt.clone();
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not an object",
            ));
        }
        check_type(&rt, &obj)?;
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        let mut name = meta(&obj, "name").to_string();
        if name.is_empty() {
            let prefix = meta(&obj, "generateName").to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    &rt,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            name = format!("{prefix}{}", self.suffix());
            obj["metadata"]["name"] = json!(name);
        }
        // RBAC objects only need to be valid path segments (`system:basic-user`).
        let valid = if rt.group == "rbac.authorization.k8s.io" {
            !name.contains(['/', '%']) && name != "." && name != ".."
        } else {
            is_dns_subdomain(&name)
        };
        if !valid {
            return Err(ApiError::invalid(
                &rt,
                &name,
                &format!(
                    "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                ),
            ));
        }
        if rt.namespaced {
            let body_ns = meta(&obj, "namespace");
            if !body_ns.is_empty() && body_ns != ctx.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            obj["metadata"]["namespace"] = json!(ctx.namespace);
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        self.check_namespace(ctx, &name)?;
        if self.lookup(&rt.storage(), &ctx.namespace, &name).is_some() {
            return Err(ApiError::already_exists(&rt, &name));
        }
        let now = now();
        let m = obj["metadata"]
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("metadata is not an object"))?;
        for k in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "generation",
        ] {
            m.remove(k);
        }
        let uid = self.uid();
        obj["metadata"]["uid"] = json!(uid);
        obj["metadata"]["creationTimestamp"] = json!(now);
        if rt.generation {
            obj["metadata"]["generation"] = json!(1);
        }
        if rt.status
            && ctx.subresource.is_empty()
            && let Some(m) = obj.as_object_mut()
        {
            m.remove("status");
        }
        if let Some(schema) = &rt.schema {
            let pruned = crate::schema::prune_and_default(schema, &mut obj);
            strict(ctx, &pruned)?;
        }
        normalize(&rt, &mut obj);
        self.on_create(&rt, &mut obj)?;
        let api_version = rt.api_version();
        let scope = if rt.status { Scope::Main } else { Scope::All };
        managed::record_update(
            &rt,
            None,
            &mut obj,
            scope,
            &State::writer(ctx, &api_version, &now),
        );
        if ctx.dry_run() {
            return Ok(obj);
        }
        let stored = self.store(&rt, obj, None);
        Ok(State::present(
            &rt,
            self.lookup(&rt.storage(), &ctx.namespace, &name)
                .cloned()
                .unwrap_or(stored),
        ))
    }

    /// Defaults the API server (or a core controller acting at once) fills on create.
    fn on_create(&mut self, rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
        match (rt.group.as_str(), rt.kind.as_str()) {
            ("", "Namespace") => {
                let name = meta(obj, "name").to_string();
                obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
                obj["status"] = json!({"phase": "Active"});
            }
            ("", "Service") => {
                if obj["spec"]["type"].is_null() {
                    obj["spec"]["type"] = json!("ClusterIP");
                }
                if obj["spec"]["clusterIP"].is_null() && obj["spec"]["type"] != "ExternalName" {
                    let r = self.random();
                    let ip = format!("10.96.{}.{}", (r >> 8) % 250, r % 250 + 2);
                    obj["spec"]["clusterIP"] = json!(ip);
                    obj["spec"]["clusterIPs"] = json!([ip]);
                }
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                let mut scratch = Registry::default();
                let name = meta(obj, "name").to_string();
                if let Err(e) = scratch.register_crd(obj) {
                    return Err(ApiError::invalid(rt, &name, &e));
                }
                obj["status"] = crd_status(obj);
            }
            _ => {}
        }
        Ok(())
    }

    /// The common tail of every non-apply write: keeps server-owned metadata, applies the
    /// subresource rules, bumps generation, records managedFields, honours dry-run and finalizers.
    fn finish_update(
        &mut self,
        ctx: &Ctx,
        old: Value,
        mut new: Value,
        apply: bool,
    ) -> Result<Value, ApiError> {
        let rt = ctx.rt.clone();
        if !new["metadata"].is_object() {
            new["metadata"] = json!({});
        }
        let body_rv = meta(&new, "resourceVersion").to_string();
        if !body_rv.is_empty() && body_rv != meta(&old, "resourceVersion") {
            return Err(ApiError::conflict(&rt, &ctx.name));
        }
        let body_name = meta(&new, "name");
        if !body_name.is_empty() && body_name != ctx.name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({})",
                ctx.name
            )));
        }
        new["apiVersion"] = json!(rt.api_version());
        new["kind"] = json!(rt.kind);
        for k in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            match old["metadata"].get(k) {
                Some(v) => new["metadata"][k] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(k);
                    }
                }
            }
        }
        let scope = match (rt.status, ctx.subresource.as_str()) {
            (true, "status") => {
                let status = new.get("status").cloned();
                let mut only = old.clone();
                match status {
                    Some(s) => only["status"] = s,
                    None => {
                        if let Some(m) = only.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                new = only;
                Scope::Status
            }
            (true, _) => {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
                Scope::Main
            }
            (false, _) => Scope::All,
        };
        if let Some(schema) = &rt.schema {
            let pruned = crate::schema::prune_and_default(schema, &mut new);
            strict(ctx, &pruned)?;
        }
        normalize(&rt, &mut new);
        if rt.generation && spec_part(&rt, &old) != spec_part(&rt, &new) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            new["metadata"]["generation"] = json!(g);
        }
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            let mut scratch = Registry::default();
            if let Err(e) = scratch.register_crd(&new) {
                return Err(ApiError::invalid(&rt, &ctx.name, &e));
            }
            new["status"] = crd_status(&new);
        }
        let now = now();
        if !apply {
            let api_version = rt.api_version();
            managed::record_update(
                &rt,
                Some(&old),
                &mut new,
                scope,
                &State::writer(ctx, &api_version, &now),
            );
        }
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        let finalized = !new["metadata"]["deletionTimestamp"].is_null()
            && new["metadata"]["finalizers"]
                .as_array()
                .is_none_or(|f| f.is_empty());
        if new == old {
            return Ok(State::present(&rt, old));
        }
        if ctx.dry_run() {
            return Ok(State::present(&rt, new));
        }
        if finalized {
            self.remove(&rt, &ctx.namespace, &ctx.name);
            self.gc();
            return Ok(State::present(&rt, new));
        }
        let stored = self.store(&rt, new, Some(old));
        let _ = stored;
        Ok(State::present(&rt, self.current(ctx)?))
    }

    pub(crate) fn update(&mut self, ctx: &Ctx, body: Value) -> Result<Value, ApiError> {
        let old = self.current(ctx)?;
        if ctx.subresource == "scale" {
            let replicas = body["spec"]["replicas"].clone();
            let rv = meta(&body, "resourceVersion").to_string();
            let new = set_scale(&ctx.rt, &old, replicas, &rv)?;
            return self
                .finish_update(ctx, old, new, false)
                .and_then(|o| scale_of(&ctx.rt, &o));
        }
        check_type(&ctx.rt, &body)?;
        self.finish_update(ctx, old, body, false)
    }

    pub(crate) fn patch(
        &mut self,
        ctx: &Ctx,
        content_type: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let rt = ctx.rt.clone();
        let ct = content_type.split(';').next().unwrap_or_default().trim();
        if ct == "application/apply-patch+yaml" {
            return self.apply(ctx, body);
        }
        let patch: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
        let old = self.current(ctx)?;
        let mut target = if ctx.subresource == "scale" {
            scale_of(&rt, &old)?
        } else {
            old.clone()
        };
        // A resourceVersion in the patch is a precondition; the live one is not.
        if let Some(m) = target["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        match ct {
            "application/merge-patch+json" => patch::merge_patch(&mut target, &patch),
            "application/json-patch+json" => patch::json_patch(&mut target, &patch)
                .map_err(|e| ApiError::new(422, "Invalid", e))?,
            "application/strategic-merge-patch+json" => {
                if rt.crd.is_some() {
                    return Err(ApiError::new(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".to_string(),
                    ));
                }
                patch::strategic_merge_patch(&rt, &mut target, &patch)
            }
            other => {
                return Err(ApiError::new(
                    415,
                    "UnsupportedMediaType",
                    format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"
                    ),
                ));
            }
        }
        if ctx.subresource == "scale" {
            let rv = meta(&target, "resourceVersion").to_string();
            let new = set_scale(&rt, &old, target["spec"]["replicas"].clone(), &rv)?;
            return self
                .finish_update(ctx, old, new, false)
                .and_then(|o| scale_of(&rt, &o));
        }
        if target["metadata"]["resourceVersion"].is_null() {
            target["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        }
        self.finish_update(ctx, old, target, false)
    }

    fn apply(&mut self, ctx: &Ctx, body: &[u8]) -> Result<Value, ApiError> {
        let rt = ctx.rt.clone();
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::bad_request("apply body is not UTF-8"))?;
        let applied: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => capstan_yaml::parse_one(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
        };
        if !applied.is_object() {
            return Err(ApiError::bad_request("apply body is not an object"));
        }
        if applied["kind"].as_str().unwrap_or_default().is_empty()
            || applied["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
        {
            return Err(ApiError::bad_request(
                "invalid object type: apiVersion and kind must be set",
            ));
        }
        check_type(&rt, &applied)?;
        if ctx.manager.is_empty() || ctx.query.get("fieldManager").is_none_or(|m| m.is_empty()) {
            return Err(ApiError::bad_request(
                "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests",
            ));
        }
        let name = meta(&applied, "name");
        if !name.is_empty() && name != ctx.name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                ctx.name
            )));
        }
        let force = ctx.query.get("force").is_some_and(|f| f == "true");
        let scope = match (rt.status, ctx.subresource.as_str()) {
            (true, "status") => Scope::Status,
            (true, _) => Scope::Main,
            (false, _) => Scope::All,
        };
        let now = now();
        let api_version = rt.api_version();
        let writer = State::writer(ctx, &api_version, &now);
        let live = self
            .lookup(&rt.storage(), &ctx.namespace, &ctx.name)
            .cloned();
        let precondition = meta(&applied, "resourceVersion").to_string();
        match live {
            None if !ctx.subresource.is_empty() => Err(ApiError::not_found(&rt, &ctx.name)),
            None => {
                let mut obj =
                    managed::apply(&rt, None, &applied, scope, force, &writer, &ctx.name)?;
                obj["metadata"]["name"] = json!(ctx.name);
                let mut create_ctx = ctx.clone();
                create_ctx.subresource = String::new();
                let managed = obj["metadata"]["managedFields"].clone();
                let created = self.create_with_managed(&create_ctx, obj, managed)?;
                Ok(created)
            }
            Some(live) => {
                if !precondition.is_empty() && precondition != meta(&live, "resourceVersion") {
                    return Err(ApiError::conflict(&rt, &ctx.name));
                }
                let merged =
                    managed::apply(&rt, Some(&live), &applied, scope, force, &writer, &ctx.name)?;
                self.finish_update(ctx, live, merged, true)
            }
        }
    }

    /// Create, keeping the managedFields an apply computed.
    fn create_with_managed(
        &mut self,
        ctx: &Ctx,
        obj: Value,
        managed: Value,
    ) -> Result<Value, ApiError> {
        let mut dry = ctx.clone();
        dry.query.insert("dryRun".into(), "All".into());
        let mut created = self.create(&dry, obj)?;
        created["metadata"]["managedFields"] = managed;
        if ctx.dry_run() {
            return Ok(created);
        }
        let rt = ctx.rt.clone();
        self.store(&rt, created, None);
        Ok(State::present(
            &rt,
            self.current(&Ctx {
                name: ctx.name.clone(),
                ..ctx.clone()
            })?,
        ))
    }

    pub(crate) fn delete(&mut self, ctx: &Ctx, options: &Value) -> Result<Value, ApiError> {
        let rt = ctx.rt.clone();
        let obj = self.current(ctx)?;
        let pre = &options["preconditions"];
        if let Some(uid) = pre["uid"].as_str()
            && uid != meta(&obj, "uid")
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta(&obj, "uid")
                ),
            ));
        }
        if let Some(rv) = pre["resourceVersion"].as_str()
            && rv != meta(&obj, "resourceVersion")
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta(&obj, "resourceVersion")
                ),
            ));
        }
        let dry = ctx.dry_run()
            || options["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "All"));
        let propagation = options["propagationPolicy"]
            .as_str()
            .map(String::from)
            .or_else(|| ctx.query.get("propagationPolicy").cloned())
            .or_else(|| {
                options["orphanDependents"]
                    .as_bool()
                    .filter(|o| *o)
                    .map(|_| "Orphan".to_string())
            })
            .unwrap_or_else(|| "Background".into());
        if dry {
            return Ok(State::present(&rt, obj));
        }
        Ok(self
            .delete_object(&rt, &ctx.namespace, &ctx.name, &propagation)
            .unwrap_or(obj))
    }

    /// Deletes (or marks for deletion) one object; returns the response body.
    fn delete_object(
        &mut self,
        rt: &Arc<ResourceType>,
        ns: &str,
        name: &str,
        propagation: &str,
    ) -> Option<Value> {
        let obj = self.lookup(&rt.storage(), ns, name)?.clone();
        let mut finalizers: Vec<Value> = obj["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let is_namespace = rt.group.is_empty() && rt.kind == "Namespace";
        match propagation {
            "Foreground" => finalizers.push(json!("foregroundDeletion")),
            "Orphan" => finalizers.push(json!("orphan")),
            _ => {}
        }
        finalizers.dedup();
        let uid = meta(&obj, "uid").to_string();
        if !finalizers.is_empty() || is_namespace {
            let mut new = obj.clone();
            if new["metadata"]["deletionTimestamp"].is_null() {
                new["metadata"]["deletionTimestamp"] = json!(now());
                new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            }
            if !finalizers.is_empty() {
                new["metadata"]["finalizers"] = Value::Array(finalizers);
            }
            if is_namespace {
                new["status"]["phase"] = json!("Terminating");
            }
            if new != obj {
                self.store(rt, new, Some(obj));
            }
            if is_namespace {
                self.empty_namespace(name);
            }
            self.gc();
            return Some(match self.lookup(&rt.storage(), ns, name) {
                Some(o) => State::present(rt, o.clone()),
                None => success(rt, name, &uid),
            });
        }
        self.remove(rt, ns, name);
        self.gc();
        Some(success(rt, name, &uid))
    }

    fn empty_namespace(&mut self, ns: &str) {
        let types: Vec<Arc<ResourceType>> = self
            .storage_types()
            .into_iter()
            .filter(|t| t.namespaced)
            .collect();
        for t in types {
            let names: Vec<String> = self
                .objects_of(&t.storage(), ns)
                .iter()
                .map(|o| meta(o, "name").to_string())
                .collect();
            self.defer_gc = true;
            for n in names {
                self.delete_object(&t, ns, &n, "Background");
            }
            self.defer_gc = false;
        }
    }

    /// One type per storage (the first registered version).
    fn storage_types(&self) -> Vec<Arc<ResourceType>> {
        let mut seen = std::collections::HashSet::new();
        self.registry
            .all()
            .filter(|t| seen.insert(t.storage()))
            .cloned()
            .collect()
    }

    fn type_of_storage(&self, storage: &str) -> Option<Arc<ResourceType>> {
        self.registry
            .all()
            .find(|t| t.storage() == storage)
            .cloned()
    }

    /// Garbage collection and finalizer bookkeeping, until nothing changes.
    fn gc(&mut self) {
        if self.defer_gc {
            return;
        }
        for _ in 0..1000 {
            // (storage, ns, name, deleting, foreground)
            let mut uids: HashMap<String, (bool, bool)> = HashMap::new();
            let mut dependents: HashMap<String, usize> = HashMap::new();
            for objs in self.objects.values() {
                for o in objs.values() {
                    let deleting = !o["metadata"]["deletionTimestamp"].is_null();
                    let fin = o["metadata"]["finalizers"].as_array();
                    let fg = deleting
                        && fin.is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion"));
                    uids.insert(meta(o, "uid").to_string(), (deleting, fg));
                    for r in o["metadata"]["ownerReferences"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        if let Some(u) = r["uid"].as_str() {
                            *dependents.entry(u.to_string()).or_default() += 1;
                        }
                    }
                }
            }
            enum Action {
                Delete(String, String, String),
                Rewrite(String, Value),
            }
            let mut action = None;
            'scan: for (storage, objs) in &self.objects {
                for ((ns, name), o) in objs {
                    let deleting = !o["metadata"]["deletionTimestamp"].is_null();
                    let uid = meta(o, "uid");
                    let fins: Vec<Value> = o["metadata"]["finalizers"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    if deleting && fins.iter().any(|f| f == "orphan") {
                        // Orphan: strip the references, then drop the finalizer.
                        for (s2, objs2) in &self.objects {
                            for d in objs2.values() {
                                let refs = d["metadata"]["ownerReferences"].as_array();
                                if refs.is_some_and(|r| r.iter().any(|x| x["uid"] == uid)) {
                                    let mut nd = d.clone();
                                    if let Some(r) =
                                        nd["metadata"]["ownerReferences"].as_array_mut()
                                    {
                                        r.retain(|x| x["uid"] != uid);
                                    }
                                    action = Some(Action::Rewrite(s2.clone(), nd));
                                    break 'scan;
                                }
                            }
                        }
                        let mut no = o.clone();
                        no["metadata"]["finalizers"] =
                            json!(fins.iter().filter(|f| *f != "orphan").collect::<Vec<_>>());
                        action = Some(Action::Rewrite(storage.clone(), no));
                        break 'scan;
                    }
                    if deleting
                        && fins.iter().any(|f| f == "foregroundDeletion")
                        && !dependents.contains_key(uid)
                    {
                        let mut no = o.clone();
                        no["metadata"]["finalizers"] = json!(
                            fins.iter()
                                .filter(|f| *f != "foregroundDeletion")
                                .collect::<Vec<_>>()
                        );
                        action = Some(Action::Rewrite(storage.clone(), no));
                        break 'scan;
                    }
                    if deleting && fins.is_empty() {
                        let is_ns = storage == "/namespaces";
                        if !is_ns
                            || self.objects.iter().all(|(s, m)| {
                                s == "/namespaces" || !m.keys().any(|(n, _)| n == name)
                            })
                        {
                            action =
                                Some(Action::Delete(storage.clone(), ns.clone(), name.clone()));
                            break 'scan;
                        }
                    }
                    let refs = o["metadata"]["ownerReferences"].as_array();
                    if let Some(refs) = refs.filter(|r| !r.is_empty()) {
                        let owner_uids: Vec<&str> =
                            refs.iter().filter_map(|r| r["uid"].as_str()).collect();
                        let foreground = owner_uids
                            .iter()
                            .any(|u| uids.get(*u).is_some_and(|(_, fg)| *fg));
                        let alive: Vec<&&str> = owner_uids
                            .iter()
                            .filter(|u| uids.contains_key(**u))
                            .collect();
                        if !deleting && (foreground || alive.is_empty()) {
                            action =
                                Some(Action::Delete(storage.clone(), ns.clone(), name.clone()));
                            break 'scan;
                        }
                        if !alive.is_empty() && alive.len() < owner_uids.len() {
                            let mut no = o.clone();
                            if let Some(r) = no["metadata"]["ownerReferences"].as_array_mut() {
                                r.retain(|x| {
                                    x["uid"].as_str().is_some_and(|u| uids.contains_key(u))
                                });
                            }
                            action = Some(Action::Rewrite(storage.clone(), no));
                            break 'scan;
                        }
                    }
                }
            }
            match action {
                None => return,
                Some(Action::Delete(storage, ns, name)) => {
                    let Some(t) = self.type_of_storage(&storage) else {
                        return;
                    };
                    let deleting = self
                        .lookup(&storage, &ns, &name)
                        .is_some_and(|o| !o["metadata"]["deletionTimestamp"].is_null());
                    if deleting {
                        self.remove(&t, &ns, &name);
                    } else {
                        // delete_object runs gc itself; the outer loop continues afterwards.
                        let obj = self.lookup(&storage, &ns, &name).cloned();
                        if let Some(obj) = obj {
                            let has_fin = obj["metadata"]["finalizers"]
                                .as_array()
                                .is_some_and(|f| !f.is_empty());
                            if has_fin || storage == "/namespaces" {
                                let mut new = obj.clone();
                                new["metadata"]["deletionTimestamp"] = json!(now());
                                new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                                self.store(&t, new, Some(obj));
                            } else {
                                self.remove(&t, &ns, &name);
                            }
                        }
                    }
                }
                Some(Action::Rewrite(storage, new)) => {
                    let Some(t) = self.type_of_storage(&storage) else {
                        return;
                    };
                    let ns = meta(&new, "namespace").to_string();
                    let name = meta(&new, "name").to_string();
                    let Some(old) = self.lookup(&storage, &ns, &name).cloned() else {
                        return;
                    };
                    let mut new = new;
                    let writer = Writer {
                        manager: "capstan-testapi-gc",
                        subresource: "",
                        api_version: &t.api_version(),
                        now: &now(),
                    };
                    managed::record_update(
                        &t,
                        Some(&old),
                        &mut new,
                        if t.status { Scope::Main } else { Scope::All },
                        &writer,
                    );
                    let done = !new["metadata"]["deletionTimestamp"].is_null()
                        && new["metadata"]["finalizers"]
                            .as_array()
                            .is_none_or(|f| f.is_empty())
                        && storage != "/namespaces";
                    if done {
                        self.remove(&t, &ns, &name);
                    } else {
                        self.store(&t, new, Some(old));
                    }
                }
            }
        }
    }

    pub(crate) fn delete_collection(
        &mut self,
        ctx: &Ctx,
        options: &Value,
    ) -> Result<Value, ApiError> {
        let items = self.select(ctx)?;
        let mut deleted = Vec::new();
        for o in items {
            let mut c = ctx.clone();
            c.name = meta(&o, "name").to_string();
            c.namespace = meta(&o, "namespace").to_string();
            self.delete(&c, options)?;
            deleted.push(o);
        }
        Ok(
            json!({"kind": format!("{}List", ctx.rt.kind), "apiVersion": ctx.rt.api_version(), "metadata": {"resourceVersion": self.rv.to_string()}, "items": deleted}),
        )
    }
}

/// What the API server's registry strategies do to every write of a kind: a Secret's
/// `stringData` is merged into `data` (base64) and never stored.
fn normalize(rt: &ResourceType, obj: &mut Value) {
    if rt.group.is_empty() && rt.kind == "Secret" {
        let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else {
            return;
        };
        for (k, v) in string_data.as_object().into_iter().flatten() {
            let text = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
        }
    }
}

/// `fieldValidation=Strict` refuses fields the schema pruned.
fn strict(ctx: &Ctx, pruned: &[String]) -> Result<(), ApiError> {
    if pruned.is_empty() || ctx.query.get("fieldValidation").map(String::as_str) != Some("Strict") {
        return Ok(());
    }
    let rt = &ctx.rt;
    let fields: Vec<String> = pruned
        .iter()
        .map(|p| format!("unknown field {p:?}"))
        .collect();
    Err(ApiError::bad_request(format!(
        "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
        rt.kind,
        rt.version,
        rt.kind,
        fields.join(", ")
    )))
}

fn success(rt: &ResourceType, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": rt.plural, "uid": uid});
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

fn check_type(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    if (!kind.is_empty() && kind != rt.kind)
        || (!api_version.is_empty()
            && crate::registry::split_api_version(api_version).0 != rt.group)
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    Ok(())
}

/// The status the apiextensions controllers give a CRD whose names are accepted (condition times
/// kept from `crd`'s current status, so re-applying an unchanged CRD is a no-op).
fn crd_status(crd: &Value) -> Value {
    let old = &crd["status"];
    let mut stored: Vec<Value> = old["storedVersions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for v in crd["spec"]["versions"].as_array().into_iter().flatten() {
        if v["storage"] == true && !stored.contains(&v["name"]) {
            stored.push(v["name"].clone());
        }
    }
    let since = |type_: &str| {
        old["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == type_)
            .map(|c| c["lastTransitionTime"].clone())
            .unwrap_or_else(|| json!(now()))
    };
    json!({
        "acceptedNames": crd["spec"]["names"],
        "storedVersions": stored,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": since("NamesAccepted")},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": since("Established")},
        ],
    })
}

fn get_dotted<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path.trim_start_matches('.').split('.') {
        cur = cur.get(seg)?;
    }
    Some(cur)
}

fn set_dotted(obj: &mut Value, path: &str, v: Value) {
    let segs: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    let mut cur = obj;
    for seg in &segs[..segs.len() - 1] {
        if !cur[*seg].is_object() {
            cur[*seg] = json!({});
        }
        cur = &mut cur[*seg];
    }
    cur[segs[segs.len() - 1]] = v;
}

/// The `autoscaling/v1` Scale of an object.
fn scale_of(rt: &ResourceType, obj: &Value) -> Result<Value, ApiError> {
    let Some(paths) = &rt.scale else {
        return Err(ApiError::not_found(
            rt,
            &format!("{}/scale", meta(obj, "name")),
        ));
    };
    let spec = get_dotted(obj, &paths.spec_replicas)
        .cloned()
        .unwrap_or(json!(1));
    let status = get_dotted(obj, &paths.status_replicas)
        .cloned()
        .unwrap_or(json!(0));
    let selector = match &paths.label_selector {
        Some(p) => get_dotted(obj, p).cloned().unwrap_or(json!("")),
        None => json!(crate::selector::label_selector_string(
            &obj["spec"]["selector"]
        )),
    };
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "uid": obj["metadata"]["uid"],
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": spec},
        "status": {"replicas": status, "selector": selector},
    }))
}

fn set_scale(rt: &ResourceType, obj: &Value, replicas: Value, rv: &str) -> Result<Value, ApiError> {
    let Some(paths) = &rt.scale else {
        return Err(ApiError::not_found(
            rt,
            &format!("{}/scale", meta(obj, "name")),
        ));
    };
    if !replicas.is_i64() && !replicas.is_u64() {
        return Err(ApiError::invalid(
            rt,
            meta(obj, "name"),
            "spec.replicas: Required value",
        ));
    }
    let mut new = obj.clone();
    set_dotted(&mut new, &paths.spec_replicas, replicas);
    if !rv.is_empty() {
        new["metadata"]["resourceVersion"] = json!(rv);
    }
    Ok(new)
}
