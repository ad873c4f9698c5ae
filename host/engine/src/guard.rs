//! The output guard: what one post-render step may do to the objects it is handed.
//!
//! A post-renderer is someone else's code (a tenant's plugin, a platform plugin, a kustomize
//! patch). Whatever it returns is applied with the controller's rights, so after every step the
//! engine compares the step's input and output — a pure function, [`OutputGuard::check`] — and
//! refuses output that a cluster cannot take or that reaches outside the release:
//!
//! - every object has `apiVersion`, `kind` and `metadata.name`, and no two objects share group,
//!   kind, namespace and name;
//! - a step may not put more objects of a kind in another namespace than the release's target
//!   namespace than it was handed: moving a Deployment to `kube-system` fails;
//! - a step may not add objects of a cluster-scoped kind (a ClusterRoleBinding, a Namespace, a
//!   webhook configuration) unless the operator's [`GuardPolicy`] allows cluster-scoped objects
//!   for the release's tenant;
//! - a step may not remove or change the release's ownership labels and annotations
//!   ([`OWNERSHIP`]), nor put them on an object with a value the release does not own.
//!
//! Editing and renaming what it was handed is what a post-renderer is for, and the objects the
//! chart itself renders are the chart's (and the release's service account's) business, as in
//! Helm and Flux: the guard judges what each step *changes*, so a chart's own ClusterRole, or its
//! Service in `monitoring`, passes through any step unharmed. The policy is an input of the engine
//! ([`crate::Engine::with_guard`]), owned by whoever runs it — a HelmRelease cannot relax it.
//!
//! Whether a kind is namespaced is known without a cluster from [`KindScopes`]: Kubernetes' own
//! cluster-scoped kinds, plus the CRDs the same build renders; a controller adds what discovery
//! says ([`KindScopes::set`]). Kinds it does not know are taken as namespaced.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;

mod identity;

pub use identity::{Identity, identity_of, identity_of_head, identity_of_text};

use serde_json::Value;

/// Where an ownership key lives on an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetadataField {
    /// `metadata.labels`.
    Label,
    /// `metadata.annotations`.
    Annotation,
}

impl MetadataField {
    fn pointer(self) -> &'static str {
        match self {
            MetadataField::Label => "/metadata/labels",
            MetadataField::Annotation => "/metadata/annotations",
        }
    }

    fn path(self) -> &'static str {
        match self {
            MetadataField::Label => "metadata.labels",
            MetadataField::Annotation => "metadata.annotations",
        }
    }
}

/// What an ownership key's value is: the release's name or the release's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The HelmRelease's name.
    HelmReleaseName,
    /// The HelmRelease's namespace.
    HelmReleaseNamespace,
    /// The Helm release name.
    ReleaseName,
    /// The Helm release (target) namespace.
    ReleaseNamespace,
}

/// The labels and annotations that say which release owns an object: Capstan's origin labels
/// (set after the chain), Flux's (set on Flux-kind releases) and Helm's ownership annotations.
/// A step may not remove or change them, nor set them to a value the release does not own (a
/// plugin that re-labels an object could make another release, or nobody, own it).
pub const OWNERSHIP: &[(MetadataField, &str)] = &[
    (MetadataField::Label, capstan_api::ORIGIN_NAME_LABEL),
    (MetadataField::Label, capstan_api::ORIGIN_NAMESPACE_LABEL),
    (MetadataField::Label, "helm.toolkit.fluxcd.io/name"),
    (MetadataField::Label, "helm.toolkit.fluxcd.io/namespace"),
    (MetadataField::Annotation, "meta.helm.sh/release-name"),
    (MetadataField::Annotation, "meta.helm.sh/release-namespace"),
];

const OWNERS: [Owner; 6] = [
    Owner::HelmReleaseName,
    Owner::HelmReleaseNamespace,
    Owner::HelmReleaseName,
    Owner::HelmReleaseNamespace,
    Owner::ReleaseName,
    Owner::ReleaseNamespace,
];

/// An API group (empty for the core group) and a kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupKind {
    /// The group, `""` for core.
    pub group: String,
    /// The kind.
    pub kind: String,
}

impl GroupKind {
    /// A group and kind.
    pub fn new(group: impl Into<String>, kind: impl Into<String>) -> Self {
        GroupKind {
            group: group.into(),
            kind: kind.into(),
        }
    }

    /// The group and kind of an object (`None` without `apiVersion` or `kind`).
    pub fn of(object: &Value) -> Option<GroupKind> {
        let api_version = text(object, "/apiVersion")?;
        let kind = text(object, "/kind")?;
        Some(GroupKind::new(group_of(api_version), kind))
    }
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

impl std::fmt::Display for GroupKind {
    /// `Kind` for the core group, `Kind.group` otherwise (as kubectl names resources).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// Which kinds are cluster-scoped: a built-in table, CRDs, discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindScopes {
    cluster: BTreeSet<GroupKind>,
}

/// Kubernetes' cluster-scoped kinds (and Capstan's and cert-manager's), by group.
const WELL_KNOWN_CLUSTER_SCOPED: &[(&str, &[&str])] = &[
    (
        "",
        &["Namespace", "Node", "PersistentVolume", "ComponentStatus"],
    ),
    (
        "rbac.authorization.k8s.io",
        &["ClusterRole", "ClusterRoleBinding"],
    ),
    ("apiextensions.k8s.io", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io", &["APIService"]),
    (
        "admissionregistration.k8s.io",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicyBinding",
        ],
    ),
    (
        "storage.k8s.io",
        &[
            "StorageClass",
            "CSIDriver",
            "CSINode",
            "VolumeAttachment",
            "VolumeAttributesClass",
        ],
    ),
    ("scheduling.k8s.io", &["PriorityClass"]),
    ("node.k8s.io", &["RuntimeClass"]),
    (
        "networking.k8s.io",
        &["IngressClass", "IPAddress", "ServiceCIDR"],
    ),
    ("policy", &["PodSecurityPolicy"]),
    (
        "certificates.k8s.io",
        &["CertificateSigningRequest", "ClusterTrustBundle"],
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    (
        "authentication.k8s.io",
        &["TokenReview", "SelfSubjectReview"],
    ),
    (
        "authorization.k8s.io",
        &[
            "SubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
        ],
    ),
    ("resource.k8s.io", &["DeviceClass", "ResourceSlice"]),
    ("internal.apiserver.k8s.io", &["StorageVersion"]),
    ("capstan.dev", &["ClusterWasmPlugin"]),
    ("cert-manager.io", &["ClusterIssuer"]),
];

impl Default for KindScopes {
    fn default() -> Self {
        KindScopes::well_known()
    }
}

impl KindScopes {
    /// The built-in table: Kubernetes' own cluster-scoped kinds, Capstan's `ClusterWasmPlugin`
    /// and cert-manager's `ClusterIssuer`. Every other kind is namespaced until told otherwise.
    pub fn well_known() -> Self {
        let cluster = WELL_KNOWN_CLUSTER_SCOPED
            .iter()
            .flat_map(|(group, kinds)| kinds.iter().map(|k| GroupKind::new(*group, *k)))
            .collect();
        KindScopes { cluster }
    }

    /// Records whether a kind is namespaced (discovery wins over the table).
    pub fn set(&mut self, kind: GroupKind, namespaced: bool) {
        if namespaced {
            self.cluster.remove(&kind);
        } else {
            self.cluster.insert(kind);
        }
    }

    /// Records the scope of every CustomResourceDefinition among `objects` (`spec.group`,
    /// `spec.names.kind`, `spec.scope`).
    pub fn add_crds<'a>(&mut self, objects: impl IntoIterator<Item = &'a Value>) {
        let crd = GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition");
        for o in objects {
            if GroupKind::of(o).as_ref() != Some(&crd) {
                continue;
            }
            let spec = &o["spec"];
            if let (Some(group), Some(kind), Some(scope)) = (
                spec["group"].as_str(),
                spec["names"]["kind"].as_str(),
                spec["scope"].as_str(),
            ) {
                self.set(GroupKind::new(group, kind), scope != "Cluster");
            }
        }
    }

    /// Whether objects of `kind` are cluster-scoped (unknown kinds are namespaced).
    pub fn is_cluster_scoped(&self, kind: &GroupKind) -> bool {
        self.cluster.contains(kind)
    }
}

/// The operator's output-guard policy: what post-renderers may do beyond the release's
/// namespace. Plain data, given to the engine by whoever runs it ([`crate::Engine::with_guard`];
/// `capstan controller --allow-cluster-scoped-namespaces`, `capstan build` and `capstan
/// transform` with the same flag) and never read from a HelmRelease, so a tenant cannot relax it.
///
/// The default allows no tenant anything beyond the rules every step is held to (see the module
/// docs): post-renderers keep objects in the release's namespace, add no cluster-scoped objects
/// and leave ownership metadata alone.
///
/// ```
/// use capstan_engine::GuardPolicy;
/// // Post-renderers of releases in `platform` and `infra` may add cluster-scoped objects.
/// let policy = GuardPolicy::allowing_cluster_scoped(["platform", "infra"]);
/// assert!(policy.allows_cluster_scoped("platform"));
/// assert!(!policy.allows_cluster_scoped("team-a"));
/// assert!(GuardPolicy::allowing_cluster_scoped(["*"]).allows_cluster_scoped("team-a"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardPolicy {
    /// Tenants — namespaces of HelmReleases (never their `targetNamespace`, which the tenant
    /// writes) — whose post-renderers may add cluster-scoped objects of any kind; `*` for every
    /// tenant. Empty by default.
    pub cluster_scoped_namespaces: BTreeSet<String>,
    /// Whether the same list also governs the cluster-scoped objects the chart itself renders
    /// (`--guard-chart-objects`): off by default, as in Helm and Flux, where the release's
    /// service account's RBAC decides; on, a tenant not on the list cannot install a
    /// ClusterRole, a CRD or a webhook configuration at all, whoever rendered it.
    pub chart_objects: bool,
}

impl GuardPolicy {
    /// A policy letting the post-renderers of releases in these namespaces (`*` for all) add
    /// cluster-scoped objects.
    pub fn allowing_cluster_scoped<S: Into<String>>(
        namespaces: impl IntoIterator<Item = S>,
    ) -> GuardPolicy {
        GuardPolicy {
            cluster_scoped_namespaces: namespaces.into_iter().map(Into::into).collect(),
            chart_objects: false,
        }
    }

    /// The same policy, governing the chart's own cluster-scoped objects too.
    pub fn with_chart_objects(mut self, chart_objects: bool) -> GuardPolicy {
        self.chart_objects = chart_objects;
        self
    }

    /// Whether the post-renderers of a HelmRelease in `tenant` may add cluster-scoped objects.
    pub fn allows_cluster_scoped(&self, tenant: &str) -> bool {
        self.cluster_scoped_namespaces.contains("*")
            || self.cluster_scoped_namespaces.contains(tenant)
    }

    /// The tenants allowed cluster-scoped objects, for messages.
    pub(crate) fn cluster_scoped_tenants(&self) -> String {
        if self.cluster_scoped_namespaces.contains("*") {
            "every tenant".to_owned()
        } else if self.cluster_scoped_namespaces.is_empty() {
            "no tenant".to_owned()
        } else {
            let list: Vec<&str> = self
                .cluster_scoped_namespaces
                .iter()
                .map(String::as_str)
                .collect();
            format!("tenants {}", list.join(", "))
        }
    }
}

/// Which rule a step broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Every object has `apiVersion`, `kind` and `metadata.name`.
    Identity,
    /// No two objects share group, kind, namespace and name.
    Duplicate,
    /// Objects stay in the release's namespace.
    Namespace,
    /// Cluster-scoped objects only for tenants the policy allows.
    ClusterScoped,
    /// Ownership labels and annotations are left alone.
    Ownership,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rule::Identity => "object without identity",
            Rule::Duplicate => "duplicate object",
            Rule::Namespace => "object outside the release's namespace",
            Rule::ClusterScoped => "cluster-scoped object added",
            Rule::Ownership => "ownership metadata changed",
        })
    }
}

/// Output a step may not produce: which rule, the object (`Kind.group namespace/name`), the
/// field, what was found and what is accepted. The post-render error around it names the
/// release and the step's plugin (`name@sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {object}: {field} is {found}; accepted: {accepted}")]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// The object, as kubectl names it.
    pub object: String,
    /// The field (`metadata.namespace`, `metadata.labels["capstan.dev/name"]`, …).
    pub field: String,
    /// What the step put there.
    pub found: String,
    /// What the guard accepts there.
    pub accepted: String,
}

/// The guard of one release: its namespaces, the operator's policy, which kinds are
/// cluster-scoped, and the ownership values the release owns.
#[derive(Debug, Clone, Default)]
pub struct OutputGuard {
    /// The release's target namespace (where its namespaced objects go).
    pub namespace: String,
    /// The tenant: the HelmRelease's own namespace.
    pub tenant: String,
    /// The operator's policy.
    pub policy: GuardPolicy,
    /// Which kinds are cluster-scoped.
    pub kinds: KindScopes,
    /// `OWNERSHIP` values the release owns, in `OWNERSHIP` order (empty: none yet).
    owned: Vec<String>,
}

/// Where an object lives, for the namespace rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Place {
    Cluster,
    Namespace(String),
}

/// Group, kind, place and name: an object's identity.
type Key = (GroupKind, Place, String);

/// What the guard needs from one list of objects. Identities are hashed, not sorted: a census
/// may be taken after any step of any chain (issue #12: sorting 1,000 identities per step was
/// ~4 % of a `capstan transform` process); where a rule is broken, the violation reported is
/// still the one of the smallest identity, as if they were sorted.
#[derive(Debug, Default)]
struct Census {
    /// Objects without apiVersion, kind or name.
    invalid: usize,
    /// How often each identity occurs.
    keys: HashMap<Key, usize>,
    /// Objects outside the release's namespace, by kind and place.
    outside: BTreeMap<(GroupKind, Place), usize>,
    /// Ownership values of each identity, by index into `OWNERSHIP`.
    /// (Duplicates of one identity may carry different values: all are kept.)
    owners: HashMap<Key, BTreeMap<usize, BTreeSet<String>>>,
    /// Every ownership value seen, by index into `OWNERSHIP`.
    owner_values: BTreeMap<usize, BTreeSet<String>>,
}

/// The value at `pointer`, a JSON pointer through object fields only (no escapes), found
/// without allocating: the guard looks up a few fields of every object after every step.
fn field<'a>(object: &'a Value, pointer: &str) -> Option<&'a Value> {
    pointer
        .split('/')
        .skip(1)
        .try_fold(object, |value, key| value.as_object()?.get(key))
}

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    field(object, pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The value of `OWNERSHIP[i]` on `object`.
fn owner_value(object: &Value, i: usize) -> Option<&Value> {
    let (place, key) = OWNERSHIP[i];
    field(object, place.pointer())?.as_object()?.get(key)
}

fn ownership(object: &Value) -> BTreeMap<usize, String> {
    (0..OWNERSHIP.len())
        .filter_map(|i| {
            let v = owner_value(object, i)?;
            Some((i, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
        })
        .collect()
}

fn ownership_field(i: usize) -> String {
    let (field, key) = OWNERSHIP[i];
    format!("{}[{key:?}]", field.path())
}

/// `Kind.group namespace/name` or `Kind.group name`.
fn describe(key: &Key) -> String {
    let (kind, place, name) = key;
    match place {
        Place::Cluster => format!("{kind} {name}"),
        Place::Namespace(ns) => format!("{kind} {ns}/{name}"),
    }
}

/// What an object without identity has, for the message.
fn describe_partial(index: usize, object: &Value) -> String {
    let parts: Vec<String> = [
        ("apiVersion", "/apiVersion"),
        ("kind", "/kind"),
        ("name", "/metadata/name"),
    ]
    .iter()
    .filter_map(|(label, p)| text(object, p).map(|v| format!("{label} {v:?}")))
    .collect();
    if parts.is_empty() {
        format!("object #{index}")
    } else {
        format!("object #{index} ({})", parts.join(", "))
    }
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// `"a"` or `"a" or "b"`.
fn listed(values: &BTreeSet<String>) -> String {
    let quoted: Vec<String> = values.iter().map(|v| quoted(v)).collect();
    quoted.join(" or ")
}

impl OutputGuard {
    /// A guard for a release whose objects go to `namespace`, owned by the HelmRelease in
    /// `tenant`, under `policy`, with the well-known kind scopes and no ownership values.
    pub fn new(
        namespace: impl Into<String>,
        tenant: impl Into<String>,
        policy: GuardPolicy,
    ) -> Self {
        OutputGuard {
            namespace: namespace.into(),
            tenant: tenant.into(),
            policy,
            ..OutputGuard::default()
        }
    }

    /// The same guard, owning the ownership values of a release: the HelmRelease
    /// `helm_release_name` and the Helm release `release_name` (namespaces: the tenant and the
    /// target namespace).
    pub fn owned_by(mut self, helm_release_name: &str, release_name: &str) -> Self {
        self.owned = OWNERS
            .iter()
            .map(|o| match o {
                Owner::HelmReleaseName => helm_release_name.to_owned(),
                Owner::HelmReleaseNamespace => self.tenant.clone(),
                Owner::ReleaseName => release_name.to_owned(),
                Owner::ReleaseNamespace => self.namespace.clone(),
            })
            .collect();
        self
    }

    /// The identity of an object; `Err(field)` names the first missing field.
    fn key(&self, object: &Value) -> Result<Key, &'static str> {
        let api_version = text(object, "/apiVersion").ok_or("apiVersion")?;
        let kind = text(object, "/kind").ok_or("kind")?;
        let name = text(object, "/metadata/name").ok_or("metadata.name")?;
        let gk = GroupKind::new(group_of(api_version), kind);
        let place = if self.kinds.is_cluster_scoped(&gk) {
            Place::Cluster
        } else {
            Place::Namespace(
                text(object, "/metadata/namespace")
                    .unwrap_or(&self.namespace)
                    .to_owned(),
            )
        };
        Ok((gk, place, name.to_owned()))
    }

    /// Whether ownership value `value` of `OWNERSHIP[i]` may appear where it was not: the
    /// release owns it, or the step's input carried it (a renamed object keeps its labels).
    fn owns(&self, before: &Census, i: usize, value: &str) -> bool {
        self.owned.get(i).is_some_and(|v| v == value)
            || before
                .owner_values
                .get(&i)
                .is_some_and(|v| v.contains(value))
    }

    /// The first ownership value of `key` after a step that it neither had before nor may
    /// take, as a violation.
    fn added_owner(
        &self,
        before: &Census,
        key: &Key,
        owners: &BTreeMap<usize, BTreeSet<String>>,
    ) -> Option<Violation> {
        let was = before.owners.get(key);
        for (&i, values) in owners {
            let old = was.and_then(|w| w.get(&i));
            for new in values {
                // Kept from the input, or newly set to a value the release may use.
                let allowed = match old {
                    Some(old) => old.contains(new),
                    None => self.owns(before, i, new),
                };
                if !allowed {
                    return Some(Violation {
                        rule: Rule::Ownership,
                        object: describe(key),
                        field: ownership_field(i),
                        found: quoted(new),
                        accepted: match old {
                            Some(old) => format!("{} (unchanged)", listed(old)),
                            None => self.accepted_owner(before, i),
                        },
                    });
                }
            }
        }
        None
    }

    /// What is accepted for `OWNERSHIP[i]` on a new object.
    fn accepted_owner(&self, before: &Census, i: usize) -> String {
        let mut values: BTreeSet<&str> = before
            .owner_values
            .get(&i)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        if let Some(v) = self.owned.get(i) {
            values.insert(v);
        }
        if values.is_empty() {
            "no such key".to_owned()
        } else {
            let list: Vec<String> = values.into_iter().map(quoted).collect();
            format!("{} or no such key", list.join(", "))
        }
    }

    fn census<'a>(&self, objects: impl IntoIterator<Item = &'a Value>) -> Census {
        let mut c = Census::default();
        let home = Place::Namespace(self.namespace.clone());
        for o in objects {
            let Ok(key) = self.key(o) else {
                c.invalid += 1;
                continue;
            };
            if key.1 != home {
                *c.outside.entry((key.0.clone(), key.1.clone())).or_default() += 1;
            }
            let owners = ownership(o);
            for (i, v) in &owners {
                c.owner_values.entry(*i).or_default().insert(v.clone());
            }
            if !owners.is_empty() {
                let entry = c.owners.entry(key.clone()).or_default();
                for (i, v) in owners {
                    entry.entry(i).or_default().insert(v);
                }
            }
            *c.keys.entry(key).or_default() += 1;
        }
        c
    }

    /// Checks one step: `before` is what it was handed, `after` what it returned. Pure: the
    /// same objects give the same answer. With an empty `before`, every object is held to the
    /// rules as if a step had added it.
    pub fn check(&self, before: &[Value], after: &[Value]) -> Result<(), Violation> {
        let after: Vec<&Value> = after.iter().collect();
        self.check_census(&self.census(before), &after).map(drop)
    }

    /// Checks `after` against `before`; on success, the census of `after` (what the next step
    /// is handed).
    fn check_census(&self, before: &Census, after: &[&Value]) -> Result<Census, Violation> {
        let now = self.census(after.iter().copied());
        if now.invalid > before.invalid {
            for (index, o) in after.iter().enumerate() {
                if let Err(field) = self.key(o) {
                    return Err(Violation {
                        rule: Rule::Identity,
                        object: describe_partial(index, o),
                        field: field.to_owned(),
                        found: "missing".to_owned(),
                        accepted: "a non-empty string".to_owned(),
                    });
                }
            }
        }
        let duplicate = now
            .keys
            .iter()
            .filter(|&(key, &count)| {
                count > 1 && count > before.keys.get(key).copied().unwrap_or(0)
            })
            .min_by(|a, b| a.0.cmp(b.0));
        if let Some((key, &count)) = duplicate {
            return Err(Violation {
                rule: Rule::Duplicate,
                object: describe(key),
                field: "metadata.name".to_owned(),
                found: format!(
                    "{} on {count} objects of that kind and namespace",
                    quoted(&key.2)
                ),
                accepted: "one object per group, kind, namespace and name".to_owned(),
            });
        }
        for ((kind, place), &count) in &now.outside {
            let had = before
                .outside
                .get(&(kind.clone(), place.clone()))
                .copied()
                .unwrap_or(0);
            if count <= had {
                continue;
            }
            // Name an object of that kind and place the step did not receive.
            let object = now
                .keys
                .keys()
                .filter(|key| &key.0 == kind && &key.1 == place && !before.keys.contains_key(*key))
                .min()
                .map_or_else(|| kind.to_string(), describe);
            match place {
                Place::Cluster if self.policy.allows_cluster_scoped(&self.tenant) => {}
                Place::Cluster => {
                    return Err(Violation {
                        rule: Rule::ClusterScoped,
                        object,
                        field: "kind".to_owned(),
                        found: format!("{kind} (cluster-scoped)"),
                        accepted: format!(
                            "namespaced kinds (the operator allows cluster-scoped objects for {}, not tenant {:?})",
                            self.policy.cluster_scoped_tenants(),
                            self.tenant
                        ),
                    });
                }
                Place::Namespace(ns) => {
                    return Err(Violation {
                        rule: Rule::Namespace,
                        object,
                        field: "metadata.namespace".to_owned(),
                        found: quoted(ns),
                        accepted: format!("{} or none", quoted(&self.namespace)),
                    });
                }
            }
        }
        // The smallest identity whose ownership changed, and its first changed value.
        let added = now
            .owners
            .iter()
            .filter_map(|(key, owners)| {
                self.added_owner(before, key, owners)
                    .map(|violation| (key, violation))
            })
            .min_by(|a, b| a.0.cmp(b.0));
        if let Some((_, violation)) = added {
            return Err(violation);
        }
        let removed = before
            .owners
            .iter()
            .filter(|(key, _)| now.keys.contains_key(*key)) // else dropped or renamed
            .filter_map(|(key, was)| {
                let owners = now.owners.get(key);
                was.iter()
                    .find(|&(i, _)| owners.and_then(|o| o.get(i)).is_none())
                    .map(|(&i, old)| (key, i, old))
            })
            .min_by(|a, b| a.0.cmp(b.0));
        if let Some((key, i, old)) = removed {
            return Err(Violation {
                rule: Rule::Ownership,
                object: describe(key),
                field: ownership_field(i),
                found: "removed".to_owned(),
                accepted: format!("{} (unchanged)", listed(old)),
            });
        }
        Ok(now)
    }
}

/// What the guard knows of a step's input: its census, once one was needed. A step that
/// leaves every object's identity and ownership values as they were (most do: they change
/// labels, containers, images) can break no rule, and its output's census is its input's, so
/// a chain of such steps, judged on identities ([`identity_of`]), never takes one (issue #12:
/// heads and a census after every step were ~16 % of a `capstan transform` of 10,000 objects).
#[derive(Debug, Default)]
pub(crate) struct StepInput(Option<Census>);

impl OutputGuard {
    /// Checks one step of a chain: `before` is what it was handed (`input`, what the guard
    /// knows of it), `after` what it returned. On success, what the guard knows of `after`,
    /// the next step's input.
    pub(crate) fn check_step(
        &self,
        input: StepInput,
        before: &[Identity],
        after: &[Identity],
    ) -> Result<StepInput, Violation> {
        // Equal objects count alike; identities ([`identity_of`]) are equal unless identity or
        // ownership changed.
        if before == after {
            return Ok(input);
        }
        let census = input.0.unwrap_or_else(|| {
            let before: Vec<Value> = before.iter().map(Identity::to_value).collect();
            self.census(&before)
        });
        let after: Vec<Value> = after.iter().map(Identity::to_value).collect();
        let after: Vec<&Value> = after.iter().collect();
        self.check_census(&census, &after)
            .map(|c| StepInput(Some(c)))
    }
}

#[cfg(test)]
mod tests;
