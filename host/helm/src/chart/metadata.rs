//! `Chart.yaml` as Helm's `chart.Metadata` struct: JSON field names for parsing and `toJson`,
//! Go field names for templates (`.Chart.AppVersion`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A maintainer entry of `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Maintainer {
    /// `name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `email`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// `url`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// A `dependencies` entry of `Chart.yaml` (or `requirements.yaml` for apiVersion v1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    /// `name`: the subchart's chart name.
    pub name: String,
    /// `version`: a semver range the subchart's version must satisfy.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `repository`.
    #[serde(default)]
    pub repository: String,
    /// `condition`: comma-separated values paths, the first boolean found decides.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// `tags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `enabled`: computed from conditions and tags.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enabled: bool,
    /// `import-values`: strings (`exports.` children) or `{child, parent}` maps.
    #[serde(
        default,
        rename = "import-values",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub import_values: Vec<serde_json::Value>,
    /// `alias`: the name the subchart is rendered and configured under.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alias: String,
}

/// The contents of `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// `name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `home`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub home: String,
    /// `sources`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// `version`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// `description`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `keywords`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// `maintainers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Maintainer>,
    /// `icon`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub icon: String,
    /// `apiVersion` (`v1` or `v2`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// `condition`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub condition: String,
    /// `tags`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tags: String,
    /// `appVersion`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub app_version: String,
    /// `deprecated`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    /// `annotations`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `kubeVersion`: a semver range of supported Kubernetes versions.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kube_version: String,
    /// `dependencies`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    /// `type`: `application` (default) or `library`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub chart_type: String,
}

impl Metadata {
    /// Helm's `Metadata.Validate` checks, with Helm's messages.
    pub fn validate(&self) -> Result<(), String> {
        if self.api_version.is_empty() {
            return Err("chart.metadata.apiVersion is required".to_owned());
        }
        if self.name.is_empty() {
            return Err("chart.metadata.name is required".to_owned());
        }
        if self.name.contains('/')
            || self.name.contains('\\')
            || self.name == "."
            || self.name == ".."
        {
            return Err(format!("chart.metadata.name {:?} is invalid", self.name));
        }
        if self.version.is_empty() {
            return Err("chart.metadata.version is required".to_owned());
        }
        if capstan_semver::Version::parse(&self.version).is_err() {
            return Err(format!(
                "chart.metadata.version {:?} is invalid",
                self.version
            ));
        }
        if !matches!(self.chart_type.as_str(), "" | "application" | "library") {
            return Err("chart.metadata.type must be application or library".to_owned());
        }
        Ok(())
    }

    /// Whether this is a library chart (renders no manifests of its own).
    pub fn is_library(&self) -> bool {
        self.chart_type == "library"
    }
}

/// What `sigs.k8s.io/yaml` does when it decodes into `chart.Metadata`: a number or boolean
/// written where the struct has a string becomes that string (`version: 1.10` is `"1.1"`,
/// floats formatted at float32 precision as go-yaml → JSON does).
pub(crate) fn stringify_fields(node: &crate::yaml::Node) -> crate::yaml::Node {
    use crate::yaml::Node;
    const STRING_FIELDS: &[&str] = &[
        "name",
        "home",
        "version",
        "description",
        "icon",
        "apiVersion",
        "condition",
        "tags",
        "appVersion",
        "kubeVersion",
        "type",
    ];
    const STRING_LISTS: &[&str] = &["sources", "keywords"];
    fn scalar_string(n: &Node) -> Node {
        crate::yaml::scalar_to_string(n)
    }
    fn map_with(n: &Node, f: impl Fn(&str, &Node) -> Node) -> Node {
        match n {
            Node::Map(entries) => Node::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match k {
                            Node::Str(s) => s.as_str(),
                            _ => "",
                        };
                        (k.clone(), f(key, v))
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    fn list_of(n: &Node, f: impl Fn(&Node) -> Node) -> Node {
        match n {
            Node::Seq(items) => Node::Seq(items.iter().map(f).collect()),
            other => other.clone(),
        }
    }
    map_with(node, |key, v| {
        if STRING_FIELDS.contains(&key) {
            scalar_string(v)
        } else if STRING_LISTS.contains(&key) {
            list_of(v, scalar_string)
        } else if key == "annotations" {
            map_with(v, |_, x| scalar_string(x))
        } else if key == "maintainers" {
            list_of(v, |m| map_with(m, |_, x| scalar_string(x)))
        } else if key == "dependencies" {
            list_of(v, |d| {
                map_with(d, |k, x| match k {
                    "tags" => list_of(x, scalar_string),
                    "import-values" | "enabled" => x.clone(),
                    _ => scalar_string(x),
                })
            })
        } else {
            v.clone()
        }
    })
}

/// What Go's `encoding/json` does with `null` for a struct field that is not a pointer or an
/// interface: nothing, the field keeps its zero value. So `dependencies:` (or `keywords:`,
/// `maintainers:`, `sources:`, `annotations:`, any scalar) with nothing after it loads as if the
/// key were absent, in the chart itself and in each maintainer and dependency entry.
pub(crate) fn drop_null_fields(json: &mut serde_json::Value) {
    fn drop(v: &mut serde_json::Value) {
        if let serde_json::Value::Object(m) = v {
            m.retain(|_, x| !x.is_null());
        }
    }
    drop(json);
    for list in ["maintainers", "dependencies"] {
        if let Some(serde_json::Value::Array(items)) = json.get_mut(list) {
            items.iter_mut().for_each(drop);
        }
    }
    for list in ["sources", "keywords"] {
        if let Some(serde_json::Value::Array(items)) = json.get_mut(list) {
            for x in items.iter_mut().filter(|x| x.is_null()) {
                *x = serde_json::Value::String(String::new());
            }
        }
    }
    if let Some(serde_json::Value::Array(deps)) = json.get_mut("dependencies") {
        for d in deps {
            if let Some(serde_json::Value::Array(tags)) = d.get_mut("tags") {
                for x in tags.iter_mut().filter(|x| x.is_null()) {
                    *x = serde_json::Value::String(String::new());
                }
            }
        }
    }
}
