//! Release history in Helm's own storage format, so `helm list`, `helm history` and `helm get
//! manifest` read Capstan's releases (and a cluster can move between Capstan, Flux and plain
//! Helm without losing history).
//!
//! Helm's `secrets` driver keeps one Secret per revision: name `sh.helm.release.v1.<name>.v<N>`,
//! type `helm.sh/release.v1`, labels `name`, `owner=helm`, `status`, `version`, `modifiedAt`,
//! and `data.release` = base64(gzip(JSON of `release.Release`)) — base64 once more on the wire,
//! as for any Secret data. This module only converts between [`StoredRelease`] and that Secret;
//! reading and writing them is the reconciler's job.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use base64::Engine as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The Secret type of Helm 3/4 release storage.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";
/// Helm's `owner` label value.
pub const OWNER: &str = "helm";
/// Helm refuses releases whose compressed, base64-encoded record exceeds a Secret (1 MiB).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Helm's release statuses (`release.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseStatus {
    /// Status unknown.
    #[default]
    Unknown,
    /// The release is live.
    Deployed,
    /// The release was uninstalled (kept with `keepHistory`).
    Uninstalled,
    /// A later revision replaced it.
    Superseded,
    /// The install/upgrade failed.
    Failed,
    /// Being uninstalled.
    Uninstalling,
    /// Being installed.
    PendingInstall,
    /// Being upgraded.
    PendingUpgrade,
    /// Being rolled back.
    PendingRollback,
}

impl ReleaseStatus {
    /// Helm's text (`deployed`, `pending-install`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Unknown => "unknown",
            ReleaseStatus::Deployed => "deployed",
            ReleaseStatus::Uninstalled => "uninstalled",
            ReleaseStatus::Superseded => "superseded",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::Uninstalling => "uninstalling",
            ReleaseStatus::PendingInstall => "pending-install",
            ReleaseStatus::PendingUpgrade => "pending-upgrade",
            ReleaseStatus::PendingRollback => "pending-rollback",
        }
    }

    /// Whether an operation is in flight.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            ReleaseStatus::PendingInstall
                | ReleaseStatus::PendingUpgrade
                | ReleaseStatus::PendingRollback
        )
    }
}

/// `release.Info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// RFC 3339 time of the first deployment.
    #[serde(default)]
    pub first_deployed: String,
    /// RFC 3339 time of this revision.
    #[serde(default)]
    pub last_deployed: String,
    /// RFC 3339 time of deletion (empty when live).
    #[serde(default)]
    pub deleted: String,
    /// Human-readable description (`Install complete`, `Upgrade complete`, …).
    #[serde(default)]
    pub description: String,
    /// Status.
    pub status: ReleaseStatus,
    /// Rendered NOTES.txt.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
}

/// `release.Hook`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    /// Object name.
    pub name: String,
    /// Object kind.
    pub kind: String,
    /// Template path.
    pub path: String,
    /// The hook's manifest.
    pub manifest: String,
    /// `pre-install`, `post-upgrade`, …
    #[serde(default)]
    pub events: Vec<String>,
    /// `helm.sh/hook-weight`.
    #[serde(default)]
    pub weight: i64,
    /// `helm.sh/hook-delete-policy`.
    #[serde(default)]
    pub delete_policies: Vec<String>,
    /// Last run (`started_at`, `completed_at`, `phase`).
    #[serde(default)]
    pub last_run: Value,
}

/// `chart.Chart` as Helm stores it: the chart's metadata, default values and templates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredChart {
    /// `Chart.yaml`.
    pub metadata: Value,
    /// `Chart.lock`.
    #[serde(default)]
    pub lock: Value,
    /// Templates (`{name, data: base64}`); Capstan stores none: the manifest is the record.
    #[serde(default)]
    pub templates: Vec<Value>,
    /// Default values.
    #[serde(default)]
    pub values: Value,
    /// `values.schema.json`.
    #[serde(default)]
    pub schema: Value,
    /// Other files.
    #[serde(default)]
    pub files: Vec<Value>,
}

/// `release.Release`: one revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRelease {
    /// Release name.
    pub name: String,
    /// Release info.
    pub info: Info,
    /// The chart.
    pub chart: StoredChart,
    /// The user-supplied values.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// The manifest as applied (after post-rendering), a YAML stream.
    #[serde(default)]
    pub manifest: String,
    /// Hooks.
    #[serde(default)]
    pub hooks: Vec<Hook>,
    /// Revision.
    pub version: i64,
    /// Namespace the release installs into.
    pub namespace: String,
    /// Extra labels on the storage object (Helm 3.13+ `--labels`); Capstan keeps its digests here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Why a storage Secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// `data.release` is missing.
    #[error("Secret {secret} has no data.release")]
    MissingRecord {
        /// The Secret's name.
        secret: String,
    },
    /// The record is not base64 / gzip / JSON of a release.
    #[error("Secret {secret}: data.release is not a Helm release record")]
    DecodeRecord {
        /// The Secret's name.
        secret: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The encoded record is larger than a Secret can hold.
    #[error(
        "release {name} v{version}: the encoded release is {size} bytes, more than the {MAX_RECORD_BYTES} a Secret can hold"
    )]
    RecordTooLarge {
        /// Release name.
        name: String,
        /// Revision.
        version: i64,
        /// Encoded size.
        size: usize,
    },
}

/// `sh.helm.release.v1.<name>.v<version>`.
pub fn secret_name(release: &str, version: i64) -> String {
    format!("sh.helm.release.v1.{release}.v{version}")
}

/// The label selector of every revision of `release` (what `helm history` lists).
pub fn selector(release: &str) -> String {
    format!("owner={OWNER},name={release}")
}

/// The storage Secret of `release` in `storage_namespace`, modified at `now` (unix seconds).
pub fn encode(
    release: &StoredRelease,
    storage_namespace: &str,
    now: i64,
) -> Result<Secret, StorageError> {
    let json = serde_json::to_vec(release).map_err(|e| StorageError::DecodeRecord {
        secret: secret_name(&release.name, release.version),
        source: Box::new(e),
    })?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = gz
        .write_all(&json)
        .and_then(|()| gz.finish())
        .unwrap_or_default();
    let record = base64::engine::general_purpose::STANDARD.encode(compressed);
    if record.len() > MAX_RECORD_BYTES {
        return Err(StorageError::RecordTooLarge {
            name: release.name.clone(),
            version: release.version,
            size: record.len(),
        });
    }
    let mut labels = release.labels.clone();
    labels.extend([
        ("name".to_owned(), release.name.clone()),
        ("owner".to_owned(), OWNER.to_owned()),
        ("status".to_owned(), release.info.status.as_str().to_owned()),
        ("version".to_owned(), release.version.to_string()),
        ("modifiedAt".to_owned(), now.to_string()),
    ]);
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(secret_name(&release.name, release.version)),
            namespace: Some(storage_namespace.to_owned()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        type_: Some(SECRET_TYPE.to_owned()),
        data: Some(BTreeMap::from([(
            "release".to_owned(),
            ByteString(record.into_bytes()),
        )])),
        ..Secret::default()
    })
}

/// The release recorded in a storage Secret.
pub fn decode(secret: &Secret) -> Result<StoredRelease, StorageError> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let record = secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or_else(|| StorageError::MissingRecord {
            secret: name.clone(),
        })?;
    let bad = |source: Box<dyn std::error::Error + Send + Sync>| StorageError::DecodeRecord {
        secret: name.clone(),
        source,
    };
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(&record.0)
        .map_err(|e| bad(Box::new(e)))?;
    // Helm writes gzip; very old releases are plain JSON.
    let json = if compressed.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .take(64 * MAX_RECORD_BYTES as u64)
            .read_to_end(&mut out)
            .map_err(|e| bad(Box::new(e)))?;
        out
    } else {
        compressed
    };
    serde_json::from_slice(&json).map_err(|e| bad(Box::new(e)))
}

/// Of the revisions of one release, the latest (highest version).
pub fn latest(releases: &[StoredRelease]) -> Option<&StoredRelease> {
    releases.iter().max_by_key(|r| r.version)
}

/// The latest revision that is `deployed` (what a rollback or a prune compares with).
pub fn last_deployed(releases: &[StoredRelease]) -> Option<&StoredRelease> {
    releases
        .iter()
        .filter(|r| r.info.status == ReleaseStatus::Deployed)
        .max_by_key(|r| r.version)
}

/// Revisions to delete so at most `max_history` remain (`0` = unlimited), oldest first; the
/// latest deployed revision is never among them, as in Helm.
pub fn trimmed(releases: &[StoredRelease], max_history: usize) -> Vec<i64> {
    if max_history == 0 || releases.len() <= max_history {
        return Vec::new();
    }
    let keep_deployed = last_deployed(releases).map(|r| r.version);
    let mut versions: Vec<i64> = releases.iter().map(|r| r.version).collect();
    versions.sort_unstable();
    let excess = versions.len() - max_history;
    versions
        .into_iter()
        .filter(|v| Some(*v) != keep_deployed)
        .take(excess)
        .collect()
}

/// RFC 3339 with nanoseconds in UTC, as Go's `time.Time` marshals.
pub fn go_time(ts: k8s_openapi::jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_release(version: i64, status: ReleaseStatus) -> StoredRelease {
        StoredRelease {
            name: "web".into(),
            info: Info {
                first_deployed: "2026-12-02T10:00:00.000000001Z".into(),
                last_deployed: "2026-12-02T10:00:00.000000001Z".into(),
                description: "Install complete".into(),
                status,
                ..Info::default()
            },
            chart: StoredChart {
                metadata: json!({"name": "web", "version": "1.0.0", "apiVersion": "v2"}),
                ..StoredChart::default()
            },
            config: Map::from_iter([("replicas".to_owned(), json!(2.0))]),
            manifest: "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n".into(),
            hooks: Vec::new(),
            version,
            namespace: "apps".into(),
            labels: BTreeMap::new(),
        }
    }

    #[test]
    fn a_release_round_trips_through_its_secret_with_helm_labels() {
        let release = mk_release(3, ReleaseStatus::Deployed);
        let secret = encode(&release, "apps", 1_700_000_000).expect("encodes");
        assert_eq!(
            secret.metadata.name.as_deref(),
            Some("sh.helm.release.v1.web.v3")
        );
        assert_eq!(secret.type_.as_deref(), Some(SECRET_TYPE));
        let labels = secret.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels["owner"], "helm");
        assert_eq!(labels["status"], "deployed");
        assert_eq!(labels["version"], "3");
        assert_eq!(labels["modifiedAt"], "1700000000");
        assert_eq!(decode(&secret).expect("decodes"), release);
        let json = serde_json::to_value(&release).expect("json");
        assert_eq!(json["info"]["status"], "deployed");
        assert!(json.get("labels").is_none(), "no empty labels field");
    }

    #[test]
    fn garbage_records_are_errors_naming_the_secret() {
        let mut secret = encode(&mk_release(1, ReleaseStatus::Failed), "apps", 0).expect("encodes");
        secret.data = Some(BTreeMap::from([(
            "release".to_owned(),
            ByteString(b"!!!".to_vec()),
        )]));
        let err = decode(&secret).expect_err("garbage");
        assert!(
            err.to_string().contains("sh.helm.release.v1.web.v1"),
            "{err}"
        );
    }

    #[test]
    fn history_is_trimmed_oldest_first_keeping_the_deployed_revision() {
        let history = vec![
            mk_release(1, ReleaseStatus::Superseded),
            mk_release(2, ReleaseStatus::Deployed),
            mk_release(3, ReleaseStatus::Failed),
            mk_release(4, ReleaseStatus::Failed),
        ];
        assert_eq!(trimmed(&history, 2), vec![1, 3]);
        assert_eq!(trimmed(&history, 0), Vec::<i64>::new());
        assert_eq!(latest(&history).map(|r| r.version), Some(4));
        assert_eq!(last_deployed(&history).map(|r| r.version), Some(2));
    }
}
