//! The host objects templates see: `.Chart` (Helm's `chart.Metadata` plus `IsRoot`), `.Files`
//! with its methods, and `.Capabilities` (kube version, API versions, Helm version).

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use capstan_gotmpl::{CallContext, FuncResult, Object, Signature, Ty, Value};

use crate::chart::{ChartFile, Metadata};
use crate::funcs::to_yaml_string;
use crate::version::HelmVersion;

/// `.Chart`: the chart's metadata with Go field names, plus `IsRoot`.
#[derive(Debug)]
pub(crate) struct ChartObject {
    pub(crate) meta: Metadata,
    pub(crate) is_root: bool,
}

/// `.Chart` in Helm 4: a plain `map[string]interface{}` of the metadata's Go field names (slices
/// as `[]interface{}`, never nil; `Annotations` stays a `map[string]string`, nil when absent)
/// plus `IsRoot`.
pub(crate) fn chart_map_v4(m: &Metadata, is_root: bool) -> Value {
    let list = |v: &[String]| Value::list(v.iter().map(|s| Value::from(s.as_str())).collect());
    let mut map = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        map.insert(k.to_owned(), v);
    };
    put("APIVersion", Value::from(m.api_version.as_str()));
    let annotations = Value::map(
        m.annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    );
    put(
        "Annotations",
        match annotations {
            Value::Map(a) if !m.annotations.is_empty() => {
                Value::Map(a.with_go_type("map[string]string", Value::from("")))
            }
            _ => Value::object(NilStringMap),
        },
    );
    put("AppVersion", Value::from(m.app_version.as_str()));
    put("Condition", Value::from(m.condition.as_str()));
    put(
        "Dependencies",
        Value::list(m.dependencies.iter().map(dependency_value).collect()),
    );
    put("Deprecated", Value::Bool(m.deprecated));
    put("Description", Value::from(m.description.as_str()));
    put("Home", Value::from(m.home.as_str()));
    put("Icon", Value::from(m.icon.as_str()));
    put("IsRoot", Value::Bool(is_root));
    put("Keywords", list(&m.keywords));
    put("KubeVersion", Value::from(m.kube_version.as_str()));
    put(
        "Maintainers",
        Value::list(
            m.maintainers
                .iter()
                .map(|mt| {
                    let mut map = BTreeMap::new();
                    map.insert("Email".to_owned(), Value::from(mt.email.as_str()));
                    map.insert("Name".to_owned(), Value::from(mt.name.as_str()));
                    map.insert("URL".to_owned(), Value::from(mt.url.as_str()));
                    Value::map(map)
                })
                .collect(),
        ),
    );
    put("Name", Value::from(m.name.as_str()));
    put("Sources", list(&m.sources));
    put("Tags", Value::from(m.tags.as_str()));
    put("Type", Value::from(m.chart_type.as_str()));
    put("Version", Value::from(m.version.as_str()));
    Value::map(map)
}

/// A nil `map[string]string`: prints `map[]`, marshals as `null`, reads `""` for any key.
#[derive(Debug)]
struct NilStringMap;

impl Object for NilStringMap {
    fn type_name(&self) -> &str {
        "map[string]string"
    }

    fn format_go(&self, out: &mut String) {
        out.push_str("map[]");
    }

    fn is_true(&self) -> bool {
        false
    }

    fn length(&self) -> Option<usize> {
        Some(0)
    }

    fn as_value(&self) -> Option<Value> {
        Some(Value::Map(
            capstan_gotmpl::Map::new().with_go_type("map[string]string", Value::from("")),
        ))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `chart.Metadata`'s JSON members in Go's field order, `omitempty` applied (what `.Chart |
/// toJson` prints in Helm 3).
fn metadata_json_fields(m: &Metadata) -> Vec<(String, Value)> {
    let mut f = Fields::default();
    f.string("name", &m.name);
    f.string("home", &m.home);
    f.strings("sources", &m.sources);
    f.string("version", &m.version);
    f.string("description", &m.description);
    f.strings("keywords", &m.keywords);
    if !m.maintainers.is_empty() {
        let list = m.maintainers.iter().map(|mt| {
            let mut g = Fields::default();
            g.string("name", &mt.name);
            g.string("email", &mt.email);
            g.string("url", &mt.url);
            g.into_struct()
        });
        f.0.push(("maintainers".to_owned(), Value::list(list.collect())));
    }
    f.string("icon", &m.icon);
    f.string("apiVersion", &m.api_version);
    f.string("condition", &m.condition);
    f.string("tags", &m.tags);
    f.string("appVersion", &m.app_version);
    if m.deprecated {
        f.0.push(("deprecated".to_owned(), Value::Bool(true)));
    }
    if !m.annotations.is_empty() {
        let map = m
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        f.0.push(("annotations".to_owned(), Value::map(map)));
    }
    f.string("kubeVersion", &m.kube_version);
    if !m.dependencies.is_empty() {
        let list = m.dependencies.iter().map(|d| {
            let mut g = Fields::default();
            g.0.push(("name".to_owned(), Value::from(d.name.as_str())));
            g.string("version", &d.version);
            g.0.push(("repository".to_owned(), Value::from(d.repository.as_str())));
            g.string("condition", &d.condition);
            g.strings("tags", &d.tags);
            if d.enabled {
                g.0.push(("enabled".to_owned(), Value::Bool(true)));
            }
            if !d.import_values.is_empty() {
                let values = d.import_values.iter().map(crate::funcs::json_to_value);
                g.0.push(("import-values".to_owned(), Value::list(values.collect())));
            }
            g.string("alias", &d.alias);
            g.into_struct()
        });
        f.0.push(("dependencies".to_owned(), Value::list(list.collect())));
    }
    f.string("type", &m.chart_type);
    f.0
}

/// Builds a Go struct's JSON members, skipping empty `omitempty` ones.
#[derive(Default)]
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn string(&mut self, name: &str, v: &str) {
        if !v.is_empty() {
            self.0.push((name.to_owned(), Value::from(v)));
        }
    }

    fn strings(&mut self, name: &str, v: &[String]) {
        if !v.is_empty() {
            self.0.push((name.to_owned(), strs(v)));
        }
    }

    fn into_struct(self) -> Value {
        Value::object(GoStructJson(self.0))
    }
}

/// A nested Go struct inside `.Chart` as `encoding/json` sees it: members in field order.
#[derive(Debug)]
struct GoStructJson(Vec<(String, Value)>);

impl Object for GoStructJson {
    fn type_name(&self) -> &str {
        "struct"
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }

    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        Some(self.0.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn strs(v: &[String]) -> Value {
    Value::list(v.iter().map(|s| Value::from(s.as_str())).collect())
}

impl Object for ChartObject {
    fn type_name(&self) -> &str {
        "struct { chart.Metadata; IsRoot bool }"
    }

    fn field(&self, name: &str) -> Option<Value> {
        let m = &self.meta;
        Some(match name {
            "Name" => Value::from(m.name.as_str()),
            "Home" => Value::from(m.home.as_str()),
            "Sources" => strs(&m.sources),
            "Version" => Value::from(m.version.as_str()),
            "Description" => Value::from(m.description.as_str()),
            "Keywords" => strs(&m.keywords),
            "Maintainers" => Value::list(
                m.maintainers
                    .iter()
                    .map(|mt| {
                        let mut map = BTreeMap::new();
                        map.insert("Name".to_owned(), Value::from(mt.name.as_str()));
                        map.insert("Email".to_owned(), Value::from(mt.email.as_str()));
                        map.insert("URL".to_owned(), Value::from(mt.url.as_str()));
                        Value::map(map)
                    })
                    .collect(),
            ),
            "Icon" => Value::from(m.icon.as_str()),
            "APIVersion" => Value::from(m.api_version.as_str()),
            "Condition" => Value::from(m.condition.as_str()),
            "Tags" => Value::from(m.tags.as_str()),
            "AppVersion" => Value::from(m.app_version.as_str()),
            "Deprecated" => Value::Bool(m.deprecated),
            "Annotations" => {
                let map = Value::map(
                    m.annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                        .collect(),
                );
                match map {
                    Value::Map(map) => {
                        Value::Map(map.with_go_type("map[string]string", Value::from("")))
                    }
                    other => other,
                }
            }
            "KubeVersion" => Value::from(m.kube_version.as_str()),
            "Dependencies" => Value::list(m.dependencies.iter().map(dependency_value).collect()),
            "Type" => Value::from(m.chart_type.as_str()),
            "IsRoot" => Value::Bool(self.is_root),
            "Metadata" => Value::Nil,
            _ => return None,
        })
    }

    fn format_go(&self, out: &mut String) {
        let m = &self.meta;
        let list = |v: &[String]| format!("[{}]", v.join(" "));
        let ann: Vec<String> = m
            .annotations
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        out.push_str(&format!(
            "{{{{{} {} {} {} {} {} [] {} {} {} {} {} {} map[{}] {} [] {}}} {}}}",
            m.name,
            m.home,
            list(&m.sources),
            m.version,
            m.description,
            list(&m.keywords),
            m.icon,
            m.api_version,
            m.condition,
            m.tags,
            m.app_version,
            m.deprecated,
            ann.join(" "),
            m.kube_version,
            m.chart_type,
            self.is_root
        ));
    }

    fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.meta).unwrap_or_default();
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("IsRoot".to_owned(), serde_json::Value::Bool(self.is_root));
        }
        v
    }

    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        let mut fields = metadata_json_fields(&self.meta);
        fields.push(("IsRoot".to_owned(), Value::Bool(self.is_root)));
        Some(fields)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A `chart.Dependency` as templates see it (Go field names).
fn dependency_value(d: &crate::chart::Dependency) -> Value {
    let mut map = BTreeMap::new();
    map.insert("Name".to_owned(), Value::from(d.name.as_str()));
    map.insert("Version".to_owned(), Value::from(d.version.as_str()));
    map.insert("Repository".to_owned(), Value::from(d.repository.as_str()));
    map.insert("Condition".to_owned(), Value::from(d.condition.as_str()));
    map.insert("Tags".to_owned(), strs(&d.tags));
    map.insert("Enabled".to_owned(), Value::Bool(d.enabled));
    map.insert(
        "ImportValues".to_owned(),
        Value::list(
            d.import_values
                .iter()
                .map(crate::funcs::json_to_value)
                .collect(),
        ),
    );
    map.insert("Alias".to_owned(), Value::from(d.alias.as_str()));
    Value::map(map)
}

/// `.Files`: the chart's non-template files (`map[string][]byte` with methods). The files are
/// the render's own (moved in, never copied: a chart may ship megabytes of CRDs), and each
/// becomes a Go string only when a template first reads it.
#[derive(Debug, Clone)]
pub(crate) struct FilesObject {
    all: Arc<Vec<ChartFile>>,
    /// Positions in `all` of the files this object holds, by name (Go's map order); a `Glob`
    /// result holds a subset.
    order: Arc<[usize]>,
    /// `string(bytes)` of each file of `all`, made on first need and shared by every subset.
    texts: Arc<[OnceLock<Value>]>,
    /// This object as a `map[string]string` value (what type checks, `range` and `index` see),
    /// made on first need.
    as_map: Arc<OnceLock<Value>>,
}

impl FilesObject {
    /// `.Files` of a chart whose files are `all`.
    pub(crate) fn new(all: Arc<Vec<ChartFile>>) -> FilesObject {
        let mut order: Vec<usize> = (0..all.len()).collect();
        order.sort_by(|a, b| all[*a].name.cmp(&all[*b].name));
        // A name given twice keeps its last file, as a Go map assignment would.
        order.dedup_by(|later, earlier| {
            let same = all[*later].name == all[*earlier].name;
            if same {
                *earlier = (*earlier).max(*later);
            }
            same
        });
        let texts = all.iter().map(|_| OnceLock::new()).collect();
        FilesObject {
            all,
            order: order.into(),
            texts,
            as_map: Arc::default(),
        }
    }

    /// The files held, by name.
    fn files(&self) -> impl Iterator<Item = (usize, &ChartFile)> {
        self.order.iter().map(|i| (*i, &self.all[*i]))
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.order
            .binary_search_by(|i| self.all[*i].name.as_str().cmp(name))
            .ok()
            .map(|k| self.order[k])
    }

    /// `string(files[i])`: a Go string of the file's exact bytes.
    fn text(&self, i: usize) -> Value {
        self.texts[i]
            .get_or_init(|| Value::from_byte_slice(&self.all[i].data))
            .clone()
    }

    /// `string(files[name])`, `""` for a missing file.
    fn string_of(&self, name: &str) -> Value {
        match self.find(name) {
            Some(i) => self.text(i),
            None => Value::from(""),
        }
    }

    fn bytes_of(&self, name: &str) -> Option<&[u8]> {
        self.find(name).map(|i| self.all[i].data.as_slice())
    }
}

fn base_name(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    t.rsplit('/').next().unwrap_or(t)
}

impl Object for FilesObject {
    fn type_name(&self) -> &str {
        "engine.files"
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "Get" | "GetBytes" | "Glob" | "Lines" => Some(Signature::new(&[Ty::String])),
            "AsConfig" | "AsSecrets" => Some(Signature::new(&[])),
            _ => None,
        }
    }

    fn call_method(&self, name: &str, args: &[Value], _cx: &mut CallContext<'_>) -> FuncResult {
        let arg = args.first().and_then(Value::as_str).unwrap_or("");
        match name {
            "Get" => Ok(self.string_of(arg)),
            "GetBytes" => Ok(Value::byte_slice(self.bytes_of(arg).unwrap_or_default())),
            "Lines" => {
                let Some(data) = self.bytes_of(arg) else {
                    return Ok(Value::list(Vec::new()));
                };
                let data = data.strip_suffix(b"\n").unwrap_or(data);
                Ok(Value::strings_of(
                    data.split(|b| *b == b'\n')
                        .map(Value::from_byte_slice)
                        .collect(),
                ))
            }
            "Glob" => {
                let matched: Vec<usize> = self
                    .files()
                    .filter(|(_, f)| crate::glob::matches(arg, &f.name))
                    .map(|(i, _)| i)
                    .collect();
                Ok(Value::object(FilesObject {
                    all: self.all.clone(),
                    order: matched.into(),
                    texts: self.texts.clone(),
                    as_map: Arc::default(),
                }))
            }
            "AsConfig" | "AsSecrets" => {
                if self.order.is_empty() {
                    return Ok(Value::from(""));
                }
                let m: BTreeMap<String, Value> = self
                    .files()
                    .map(|(i, f)| {
                        let s = if name == "AsConfig" {
                            self.text(i)
                        } else {
                            Value::from(capstan_gotmpl::sprig::b64_encode(&f.data))
                        };
                        (base_name(&f.name).to_owned(), s)
                    })
                    .collect();
                Ok(Value::from(to_yaml_string(&Value::map(m))))
            }
            _ => Err(format!("can't call method/function {name:?}").into()),
        }
    }

    fn format_go(&self, out: &mut String) {
        out.push_str("map[");
        let mut first = true;
        for (_, f) in self.files() {
            if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(&f.name);
            out.push_str(":[");
            let bytes: Vec<String> = f.data.iter().map(u8::to_string).collect();
            out.push_str(&bytes.join(" "));
            out.push(']');
        }
        out.push(']');
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.files()
                .map(|(_, f)| {
                    (
                        f.name.clone(),
                        serde_json::Value::String(capstan_gotmpl::sprig::b64_encode(&f.data)),
                    )
                })
                .collect(),
        )
    }

    fn is_true(&self) -> bool {
        !self.order.is_empty()
    }

    fn length(&self) -> Option<usize> {
        Some(self.order.len())
    }

    fn as_value(&self) -> Option<Value> {
        Some(
            self.as_map
                .get_or_init(|| {
                    Value::map(
                        self.files()
                            .map(|(i, f)| {
                                // A text file's value is its string; other bytes are read
                                // with U+FFFD for what is not UTF-8.
                                let text = match self.text(i) {
                                    s @ Value::String(_) => s,
                                    _ => Value::from(crate::chart::file_text(&f.data).as_ref()),
                                };
                                (f.name.clone(), text)
                            })
                            .collect(),
                    )
                })
                .clone(),
        )
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The Kubernetes version a render targets (`.Capabilities.KubeVersion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeVersion {
    /// `.Version` and `GitVersion`, e.g. `v1.30.4-gke.1348000`.
    pub version: String,
    /// `String()`: what `{{ .Capabilities.KubeVersion }}` prints and what a chart's
    /// `kubeVersion` is checked against. Helm 3 uses the whole version; Helm 4 only its numbers
    /// (`v1.30.4`), so a provider's suffix does not make it a prerelease.
    pub normalized: String,
    /// `.Major`.
    pub major: String,
    /// `.Minor`.
    pub minor: String,
}

impl KubeVersion {
    /// A plain `vMAJOR.MINOR.PATCH` release.
    fn release(major: u64, minor: u64, patch: u64) -> KubeVersion {
        let version = format!("v{major}.{minor}.{patch}");
        KubeVersion {
            normalized: version.clone(),
            version,
            major: major.to_string(),
            minor: minor.to_string(),
        }
    }

    /// `--kube-version` as `helm`'s `ParseKubeVersion` reads it: Helm 3 with Masterminds'
    /// `NewVersion`, Helm 4 with Kubernetes' `version.ParseGeneric` (at least major.minor, no
    /// zero-prefixed major, anything after the numbers kept in `Version` only). The error is
    /// Helm's text after `invalid kube version '…': `.
    pub fn parse(text: &str, helm: HelmVersion) -> Result<KubeVersion, String> {
        match helm {
            HelmVersion::V3 => {
                let v = capstan_semver::Version::parse(text)
                    .map_err(|e| e.masterminds_message(helm.semver()))?;
                let version = format!("v{v}");
                Ok(KubeVersion {
                    normalized: version.clone(),
                    version,
                    major: v.major().to_string(),
                    minor: v.minor().to_string(),
                })
            }
            HelmVersion::V4 => {
                let numbers = parse_generic(text)?;
                let joined: Vec<String> = numbers.iter().map(u64::to_string).collect();
                Ok(KubeVersion {
                    version: if text.starts_with('v') {
                        text.to_owned()
                    } else {
                        format!("v{text}")
                    },
                    normalized: format!("v{}", joined.join(".")),
                    major: joined[0].clone(),
                    minor: joined[1].clone(),
                })
            }
        }
    }
}

/// The numbers of k8s.io/apimachinery's `version.ParseGeneric`
/// (`^\s*v?([0-9]+(?:\.[0-9]+)*)(.*)*$`, two or more components, no zero-prefixed first one),
/// or its error text.
fn parse_generic(text: &str) -> Result<Vec<u64>, String> {
    let q = capstan_gotmpl::go_quote;
    let body = text.trim_start_matches([' ', '\t', '\n', '\x0c', '\r']);
    let body = body.strip_prefix('v').unwrap_or(body);
    let mut end = body.bytes().take_while(u8::is_ascii_digit).count();
    while end > 0
        && body[end..].starts_with('.')
        && body[end + 1..].starts_with(|c: char| c.is_ascii_digit())
    {
        end += 1 + body[end + 1..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
    }
    // `.` does not match a newline, and `$` is the end of the text.
    if end == 0 || body[end..].contains('\n') {
        return Err(format!("could not parse {} as version", q(text)));
    }
    let components: Vec<&str> = body[..end].split('.').collect();
    if components.len() < 2 {
        return Err(format!("illegal version string {}", q(text)));
    }
    let mut numbers = Vec::with_capacity(components.len());
    for (i, comp) in components.iter().enumerate() {
        if i == 0 && comp.starts_with('0') && *comp != "0" {
            return Err(format!(
                "illegal zero-prefixed version component {} in {}",
                q(comp),
                q(text)
            ));
        }
        numbers.push(comp.parse::<u64>().map_err(|_| {
            format!(
                "illegal non-numeric version component {} in {}: strconv.ParseUint: parsing {}: value out of range",
                q(comp),
                q(text),
                q(comp)
            )
        })?);
    }
    Ok(numbers)
}

/// The Kubernetes and Helm versions and API versions a render targets (`.Capabilities`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The Kubernetes version (`--kube-version`; v1.32.0 or v1.35.0 by default).
    pub kube_version: KubeVersion,
    /// Available API versions (`group/version` and `group/version/Kind`).
    pub api_versions: Vec<String>,
    /// Helm version reported to templates.
    pub helm_version: String,
    /// Helm git commit reported to templates.
    pub helm_git_commit: String,
    /// Go version reported to templates.
    pub go_version: String,
    /// Whose rules the render follows (see [`HelmVersion`]).
    pub helm: HelmVersion,
}

/// Helm 3.17.3's default API versions (client-go's built-in scheme).
pub const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1alpha1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1alpha1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// Helm 4.1.4's default API versions (client-go 0.35's built-in scheme).
const DEFAULT_API_VERSIONS_V4: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "autoscaling/v2beta1",
    "autoscaling/v2beta2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha1",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

impl Default for Capabilities {
    /// What `helm template` 3.17.3 uses without `--kube-version`/`--api-versions`.
    fn default() -> Self {
        Capabilities::for_helm(HelmVersion::V3)
    }
}

impl Capabilities {
    /// What `helm template` of that Helm version uses without `--kube-version` and
    /// `--api-versions`: Kubernetes v1.32.0 and client-go 0.32's API versions for Helm 3.17.3,
    /// v1.35.0 and client-go 0.35's for Helm 4.1.4.
    pub fn for_helm(helm: HelmVersion) -> Capabilities {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        match helm {
            HelmVersion::V3 => Capabilities {
                kube_version: KubeVersion::release(1, 32, 0),
                api_versions: strings(DEFAULT_API_VERSIONS),
                helm_version: "v3.17.3".to_owned(),
                helm_git_commit: "e4da49785aa6e6ee2b86efd5dd9e43400318262b".to_owned(),
                go_version: "go1.23.7".to_owned(),
                helm,
            },
            HelmVersion::V4 => Capabilities {
                kube_version: KubeVersion::release(1, 35, 0),
                api_versions: strings(DEFAULT_API_VERSIONS_V4),
                helm_version: "v4.1.4".to_owned(),
                helm_git_commit: "05fa37973dc9e42b76e1d2883494c87174b6074f".to_owned(),
                go_version: "go1.25.9".to_owned(),
                helm,
            },
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert(
            "KubeVersion".to_owned(),
            Value::object(KubeVersionObject {
                kube: self.kube_version.clone(),
                helm: self.helm,
            }),
        );
        m.insert(
            "APIVersions".to_owned(),
            Value::object(ApiVersionsObject(self.api_versions.clone(), self.helm)),
        );
        let mut hv = BTreeMap::new();
        hv.insert(
            "Version".to_owned(),
            Value::from(self.helm_version.as_str()),
        );
        hv.insert(
            "GitCommit".to_owned(),
            Value::from(self.helm_git_commit.as_str()),
        );
        hv.insert("GitTreeState".to_owned(), Value::from("clean"));
        hv.insert(
            "GoVersion".to_owned(),
            Value::from(self.go_version.as_str()),
        );
        if self.helm == HelmVersion::V4 {
            hv.insert("KubeClientVersion".to_owned(), Value::from("v1.35"));
        }
        m.insert(
            "HelmVersion".to_owned(),
            Value::object(HelmVersionObject(hv, self.helm)),
        );
        Value::object(CapabilitiesObject(m, self.helm))
    }
}

#[derive(Debug)]
struct CapabilitiesObject(BTreeMap<String, Value>, HelmVersion);

impl Object for CapabilitiesObject {
    fn type_name(&self) -> &str {
        match self.1 {
            HelmVersion::V3 => "*chartutil.Capabilities",
            HelmVersion::V4 => "*common.Capabilities",
        }
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.0.get(name).cloned()
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        )
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct HelmVersionObject(BTreeMap<String, Value>, HelmVersion);

impl Object for HelmVersionObject {
    fn type_name(&self) -> &str {
        "version.BuildInfo"
    }
    fn field(&self, name: &str) -> Option<Value> {
        self.0.get(name).cloned()
    }
    fn format_go(&self, out: &mut String) {
        let g = |k: &str| self.0.get(k).map(Value::to_go_string).unwrap_or_default();
        let extra = match self.1 {
            HelmVersion::V3 => String::new(),
            HelmVersion::V4 => format!(" {}", g("KubeClientVersion")),
        };
        out.push_str(&format!(
            "{{{} {} {} {}{extra}}}",
            g("Version"),
            g("GitCommit"),
            g("GitTreeState"),
            g("GoVersion")
        ));
    }
    fn to_json(&self) -> serde_json::Value {
        let g = |k: &str| self.0.get(k).map(Value::to_json).unwrap_or_default();
        let mut j = serde_json::json!({
            "version": g("Version"),
            "git_commit": g("GitCommit"),
            "git_tree_state": g("GitTreeState"),
            "go_version": g("GoVersion"),
        });
        if self.1 == HelmVersion::V4
            && let Some(m) = j.as_object_mut()
        {
            m.insert("kube_client_version".to_owned(), g("KubeClientVersion"));
        }
        j
    }

    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        let g = |k: &str| self.0.get(k).cloned().unwrap_or_default();
        let mut fields = vec![
            ("version".to_owned(), g("Version")),
            ("git_commit".to_owned(), g("GitCommit")),
            ("git_tree_state".to_owned(), g("GitTreeState")),
            ("go_version".to_owned(), g("GoVersion")),
        ];
        if self.1 == HelmVersion::V4 {
            fields.push(("kube_client_version".to_owned(), g("KubeClientVersion")));
        }
        Some(fields)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct KubeVersionObject {
    kube: KubeVersion,
    helm: HelmVersion,
}

impl Object for KubeVersionObject {
    fn type_name(&self) -> &str {
        match self.helm {
            HelmVersion::V3 => "chartutil.KubeVersion",
            HelmVersion::V4 => "common.KubeVersion",
        }
    }
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Version" => Value::from(self.kube.version.as_str()),
            "Major" => Value::from(self.kube.major.as_str()),
            "Minor" => Value::from(self.kube.minor.as_str()),
            _ => return None,
        })
    }
    fn method(&self, name: &str) -> Option<Signature> {
        matches!(name, "String" | "GitVersion").then(|| Signature::new(&[]))
    }
    fn call_method(&self, name: &str, _args: &[Value], _cx: &mut CallContext<'_>) -> FuncResult {
        Ok(Value::from(match name {
            "GitVersion" => self.kube.version.as_str(),
            _ => self.kube.normalized.as_str(),
        }))
    }
    fn template_string(&self) -> Option<String> {
        Some(self.kube.normalized.clone())
    }
    /// `%v` of the struct (its `String` has a pointer receiver): Helm 4's has the unexported
    /// normalized version as its second field.
    fn format_go(&self, out: &mut String) {
        let k = &self.kube;
        out.push_str(&match self.helm {
            HelmVersion::V3 => format!("{{{} {} {}}}", k.version, k.major, k.minor),
            HelmVersion::V4 => {
                format!("{{{} {} {} {}}}", k.version, k.normalized, k.major, k.minor)
            }
        });
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"Version": self.kube.version, "Major": self.kube.major, "Minor": self.kube.minor})
    }

    fn json_fields(&self) -> Option<Vec<(String, Value)>> {
        Some(vec![
            (
                "Version".to_owned(),
                Value::from(self.kube.version.as_str()),
            ),
            ("Major".to_owned(), Value::from(self.kube.major.as_str())),
            ("Minor".to_owned(), Value::from(self.kube.minor.as_str())),
        ])
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct ApiVersionsObject(Vec<String>, HelmVersion);

impl Object for ApiVersionsObject {
    fn type_name(&self) -> &str {
        match self.1 {
            HelmVersion::V3 => "chartutil.VersionSet",
            HelmVersion::V4 => "common.VersionSet",
        }
    }
    fn method(&self, name: &str) -> Option<Signature> {
        (name == "Has").then(|| Signature::new(&[Ty::String]))
    }
    fn call_method(&self, _name: &str, args: &[Value], _cx: &mut CallContext<'_>) -> FuncResult {
        let want = args.first().and_then(Value::as_str).unwrap_or("");
        Ok(Value::Bool(self.0.iter().any(|v| v == want)))
    }
    fn format_go(&self, out: &mut String) {
        out.push('[');
        out.push_str(&self.0.join(" "));
        out.push(']');
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.0
                .iter()
                .map(|s| serde_json::Value::String(s.clone()))
                .collect(),
        )
    }
    fn is_true(&self) -> bool {
        !self.0.is_empty()
    }
    fn length(&self) -> Option<usize> {
        Some(self.0.len())
    }
    fn as_value(&self) -> Option<Value> {
        Some(Value::list(
            self.0.iter().map(|s| Value::from(s.as_str())).collect(),
        ))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `.Values`: Helm's `chartutil.Values`, a named map type with methods (`AsMap`, `YAML`,
/// `Table`, `PathValue`). Everything else (fields, `range`, `index`, typed parameters) sees
/// the map itself; `%T`, `typeOf` and `%v` see `chartutil.Values`.
#[derive(Debug)]
pub(crate) struct ValuesObject {
    /// The map typed as `chartutil.Values`.
    typed: capstan_gotmpl::Value,
    /// The same map as a plain `map[string]interface{}` (what `AsMap` returns).
    plain: capstan_gotmpl::Value,
    /// Whose type name it carries (`chartutil.Values` or `common.Values`).
    helm: HelmVersion,
}

/// The map behind a `.Values` object (to marshal it exactly as the map).
pub(crate) fn values_map(v: &Value) -> Option<Value> {
    match v {
        Value::Object(o) => o
            .as_any()
            .downcast_ref::<ValuesObject>()
            .map(|vo| vo.plain.clone()),
        _ => None,
    }
}

/// Wraps a map value as `.Values` (anything else is returned as is).
pub(crate) fn values_object(v: &Value, helm: HelmVersion) -> Value {
    match v {
        Value::Map(m) => Value::object(ValuesObject {
            typed: Value::Map(m.clone().with_go_type(helm.values_type(), Value::Nil)),
            plain: Value::Map(m.clone()),
            helm,
        }),
        other => other.clone(),
    }
}

impl ValuesObject {
    /// Helm's `Values.Table`: the nested map at a dotted path.
    fn table(&self, path: &str) -> Option<Value> {
        let mut cur = self.plain.clone();
        for part in path.split('.') {
            let next = match &cur {
                Value::Map(m) => m.get(part),
                _ => None,
            };
            match next {
                Some(v @ Value::Map(_)) => cur = v,
                _ => return None,
            }
        }
        Some(cur)
    }
}

impl Object for ValuesObject {
    fn type_name(&self) -> &str {
        self.helm.values_type()
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "AsMap" | "YAML" => Some(Signature::new(&[])),
            "Table" | "PathValue" => Some(Signature::new(&[Ty::String])),
            _ => None,
        }
    }

    fn call_method(&self, name: &str, args: &[Value], _cx: &mut CallContext<'_>) -> FuncResult {
        let arg = args.first().and_then(Value::as_str).unwrap_or("");
        match name {
            "AsMap" => Ok(self.plain.clone()),
            "YAML" => {
                let mut s = to_yaml_string(&self.plain);
                s.push('\n');
                Ok(Value::from(s))
            }
            "Table" => match self.table(arg) {
                Some(v) => Ok(values_object(&v, self.helm)),
                None => Err(format!("{} is not a table", capstan_gotmpl::go_quote(arg)).into()),
            },
            _ => {
                let (parent, key) = match arg.rsplit_once('.') {
                    Some((p, k)) => (self.table(p), k),
                    None => (Some(self.plain.clone()), arg),
                };
                match parent.as_ref().and_then(|p| p.get(key)) {
                    Some(v) if !matches!(v, Value::Map(_)) => Ok(v),
                    _ => Err(format!("{} is not a value", capstan_gotmpl::go_quote(arg)).into()),
                }
            }
        }
    }

    fn format_go(&self, out: &mut String) {
        out.push_str(&self.typed.to_go_string());
    }

    fn to_json(&self) -> serde_json::Value {
        self.plain.to_json()
    }

    fn is_true(&self) -> bool {
        self.plain.is_true()
    }

    fn length(&self) -> Option<usize> {
        match &self.plain {
            Value::Map(m) => Some(m.len()),
            _ => None,
        }
    }

    /// The plain map: a `chartutil.Values` passed to a `map[string]interface{}` parameter is
    /// just the map inside the function, as in Go.
    fn as_value(&self) -> Option<Value> {
        Some(self.plain.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
