//! A Kubernetes API server for tests, and the end-to-end harness built on it.
//!
//! CI machines cannot run a kube-apiserver, so this crate serves the Kubernetes REST API over real
//! HTTP/1.1 on 127.0.0.1 — enough of it that the real clients work unchanged: Capstan's `kube`
//! client (typed and dynamic `Api`, kube-runtime's `watcher`), the real `kubectl` and the real
//! `helm`. If a real client cannot use a feature, the server does not have it. Objects are plain
//! JSON (`serde_json::Value`) in memory; nothing persists.
//!
//! ```text
//!  kubectl / helm / kube::Client ──HTTP──► server (routing, Table, watch streams, impersonation)
//!                                             │  rbac (403 for impersonated users)
//!                                             ▼
//!                                           store (CRUD, patch, apply, GC, finalizers)
//!                                             │  managed (managedFields, SSA)  fields (paths, list types)
//!                                             ▼
//!                                           simulator (workload status, the only fake controller)
//! ```
//!
//! # Kubernetes conventions followed (see each module for details)
//! - Discovery (`/api`, `/apis`, group/version resource lists with `status`/`scale`
//!   subresources), `/version`, `/openapi/v3` with the `fieldValidation` parameter kubectl probes
//!   for (module `discovery`).
//! - Alternate representations: server-side `Table` (`kubectl get`, also in watches) and
//!   `PartialObjectMetadata[List]` (kube's metadata-only `Api`/watches).
//! - Errors are `Status` objects with the real reasons and messages: `NotFound`,
//!   `AlreadyExists`, `Conflict` (stale resourceVersion, SSA field conflicts), `Invalid`,
//!   `Forbidden` (RBAC), `Expired` (410).
//! - `resourceVersion` (one global counter), optimistic concurrency, `generation` bumps on spec
//!   changes, `uid`, `creationTimestamp`, `generateName`, `dryRun=All` on every mutating verb.
//! - List + watch: label selectors (`=`, `!=`, `in`, `notin`, exists, `!key`), field selectors,
//!   `limit`/`continue`, watch from a resourceVersion, bookmarks (`allowWatchBookmarks`),
//!   `sendInitialEvents`, 410 for resourceVersions older than the kept history (4096 writes).
//! - Patches: JSON merge patch, JSON patch, strategic merge patch (built-in types), server-side
//!   apply with managedFields (FieldsV1), ownership, conflicts and `force`.
//! - Subresources: `status` (built-ins that have it, CRDs with `subresources.status`), `scale`
//!   (Deployments, StatefulSets, ReplicaSets, CRDs with `subresources.scale`).
//! - Finalizers, `deletionTimestamp`, propagation policies with `ownerReferences` garbage
//!   collection, namespace termination.
//! - CustomResourceDefinitions register their types at once (`Established`, `NamesAccepted`),
//!   `additionalPrinterColumns` become server-side Table columns.
//! - Impersonation (`Impersonate-User`, `Impersonate-Group`) authorized by the stored RBAC objects;
//!   SelfSubjectAccessReview / SubjectAccessReview (`kubectl auth can-i`).
//! - `fieldValidation=Strict` (kubectl's default) refuses fields a CRD schema does not declare.
//!
//! # Simplifications (what a real cluster does that this server does not)
//! - No authentication: the unimpersonated caller is cluster-admin.
//! - No admission, no built-in defaulting beyond a Service's `type`/`clusterIP` (and a Secret's
//!   `stringData` folded into `data`, as the real registry does), no validation of
//!   built-in types' fields; custom resources are pruned and defaulted by their CRD's schema but
//!   not validated against it.
//! - One storage for all versions of a CRD (no conversion), core and `events.k8s.io` Events are
//!   separate stores.
//! - List `continue` tokens page over current objects (no snapshot at the first page's
//!   resourceVersion); `resourceVersionMatch=Exact` for an old version is 410.
//! - Garbage collection and namespace cleanup are synchronous at the end of the delete.
//! - No kubelet or controllers: see the [workload simulator](crate#workload-simulator). Workloads
//!   create no Pods (Deployments do get their ReplicaSets, which Helm 3's `--wait` looks for).
//! - Protobuf request bodies only for Namespace, ConfigMap, Secret, ServiceAccount, DeleteOptions
//!   and access reviews (what `kubectl create <kind>`, `kubectl auth can-i` and Helm's release
//!   storage send; other kinds, e.g. `kubectl create deployment`, answer 415 — use `kubectl
//!   apply`), responses always JSON; no aggregated discovery, no OpenAPI v2 or schemas, no
//!   `kubectl explain`, no server-side validation of built-in types.
//!
//! # Workload simulator
//! On by default ([`Options::simulate`]); the rules are conventions that also hold on a real
//! cluster, so tests never call it:
//! - Deployments get a ReplicaSet per pod template (owned, older ones scaled to 0).
//! - Deployments, StatefulSets, ReplicaSets and DaemonSets report rolled out and available
//!   (`observedGeneration`, replica counts, `Available`/`Progressing` conditions) right after each
//!   write — unless a container image contains `does-not-exist`, which never becomes ready.
//! - Jobs complete (`Complete`, `SuccessCriteriaMet`) — or fail (`Failed`, `BackoffLimitExceeded`)
//!   when a container's command/args end in `exit N` with N ≠ 0 (true with busybox on a real
//!   cluster); an image containing `does-not-exist` keeps them active.
//! - Pods (e.g. Helm test hooks) run: `Running`/`Ready`, or `Succeeded` when run-once, `Failed`
//!   with the `exit N` convention, `Pending` with a `does-not-exist` image.
//! - PersistentVolumeClaims become `Bound` (unless the storage class contains `does-not-exist`),
//!   LoadBalancer Services get an ingress IP.
//!
//! # End-to-end tests
//! See [`e2e`]: `Cluster::start()` gives this server or, with `CAPSTAN_E2E_KUBECONFIG`, a real
//! cluster.

mod discovery;
pub mod e2e;
mod error;
mod fields;
mod managed;
mod patch;
mod proto;
mod rbac;
mod registry;
mod schema;
mod selector;
mod server;
mod simulator;
mod store;
mod table;

pub use server::{Error, Options, TestApiServer, kubeconfig_yaml};
