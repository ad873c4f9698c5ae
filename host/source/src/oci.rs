//! OCI registries (the distribution API v2) as a source of Helm charts and Wasm modules, and a
//! place to push them.
//!
//! Charts follow Helm's layout: an image manifest whose config is
//! `application/vnd.cncf.helm.config.v1+json` (the `Chart.yaml` fields as JSON) and whose
//! layer is `application/vnd.cncf.helm.chart.content.v1.tar+gzip`; tags are versions with `+`
//! written as `_`. Modules follow the CNCF Wasm OCI artifact layout (`application/wasm` layer,
//! `application/vnd.wasm.config.v0+json` config); the layer types used by Kubewarden,
//! wasm-to-oci and Solo's wasme are accepted when pulling.
//!
//! Every manifest and blob is hashed on arrival: a manifest pinned by digest must match it,
//! and each blob must match the digest its manifest names. Anonymous access, HTTP basic auth
//! and bearer tokens (`WWW-Authenticate: Bearer realm=…`) are supported. Loopback registries
//! are spoken to over plain HTTP unless told otherwise, everything else over HTTPS.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::cache::{ArtifactKind, Cache};
use crate::chart;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::repo::FetchedChart;
use crate::semver;
use crate::transport::{Credentials, Http, HttpError, Response, TlsOptions};

/// OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker image manifest v2 media type (accepted when pulling).
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Helm chart config media type.
pub const HELM_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// Helm chart content layer media type.
pub const HELM_CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// Layer media type of charts pushed by Helm's experimental OCI support (before 3.7).
pub const HELM_LEGACY_CHART_LAYER_MEDIA_TYPE: &str = "application/tar+gzip";
/// Wasm config media type (CNCF Wasm OCI artifact, used by wkg/wasm-pkg-tools).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// Wasm layer media type (CNCF Wasm OCI artifact); what [`OciClient::push_module`] writes.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Every layer media type accepted as a Wasm module when pulling.
pub const WASM_LAYER_MEDIA_TYPES: &[&str] = &[
    WASM_LAYER_MEDIA_TYPE,
    "application/vnd.wasm.content.layer.v1+wasm",
    "application/vnd.module.wasm.content.layer.v1+wasm",
];

const TITLE: &str = "org.opencontainers.image.title";
const VERSION: &str = "org.opencontainers.image.version";
const DESCRIPTION: &str = "org.opencontainers.image.description";

/// A registry reference: `oci://host[:port]/repository[:tag][@sha256:…]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciReference {
    /// `host[:port]`.
    pub registry: String,
    /// Repository path, e.g. `charts/redis`.
    pub repository: String,
    /// Tag, if any (`+` already written as `_`).
    pub tag: Option<String>,
    /// Manifest digest, if pinned.
    pub digest: Option<Digest>,
}

impl OciReference {
    /// Parse `oci://host[:port]/repo/name[:tag][@sha256:<hex>]` (the `oci://` is optional).
    /// A `+` in the tag is written as `_`, as Helm does.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason| Error::ParseReference {
            reference: text.to_owned(),
            reason,
        };
        let rest = text.strip_prefix("oci://").unwrap_or(text);
        let (rest, digest) = match rest.split_once('@') {
            Some((rest, digest)) => (
                rest,
                Some(
                    Digest::parse(digest)
                        .map_err(|_| bad("the digest is not sha256:<64 hex digits>"))?,
                ),
            ),
            None => (rest, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("expected host/repository"))?;
        if registry.is_empty() {
            return Err(bad("the registry host is empty"));
        }
        // A tag can only follow the last path segment (a `:` before it belongs to the host).
        let last_segment = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last_segment..].find(':') {
            Some(colon) => (
                &path[..last_segment + colon],
                Some(&path[last_segment + colon + 1..]),
            ),
            None => (path, None),
        };
        let valid_repository = !repository.is_empty()
            && !repository.starts_with('/')
            && !repository.ends_with('/')
            && !repository.contains("//")
            && repository
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b));
        if !valid_repository {
            return Err(bad(
                "the repository must be lower-case [a-z0-9._-] path segments",
            ));
        }
        let tag = match tag {
            None => None,
            Some(tag) => {
                let tag = tag.replace('+', "_");
                let valid = !tag.is_empty()
                    && tag.len() <= 128
                    && !tag.starts_with(['.', '-'])
                    && tag
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                if !valid {
                    return Err(bad(
                        "the tag must be [A-Za-z0-9_.-], at most 128 characters",
                    ));
                }
                Some(tag)
            }
        };
        Ok(OciReference {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// The same reference with a tag (a version's `+` written as `_`).
    pub fn with_tag(&self, tag: &str) -> Self {
        OciReference {
            tag: Some(tag.replace('+', "_")),
            ..self.clone()
        }
    }

    /// The same reference pinned to a manifest digest.
    pub fn with_digest(&self, digest: Digest) -> Self {
        OciReference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// A repository below this one: `oci://host/charts` + `redis` → `oci://host/charts/redis`
    /// (how a Flux `HelmRepository` of `type: oci` names its charts). Tag and digest are dropped.
    pub fn join(&self, name: &str) -> Self {
        OciReference {
            registry: self.registry.clone(),
            repository: format!("{}/{}", self.repository, name.trim_matches('/')),
            tag: None,
            digest: None,
        }
    }

    /// `oci://host/repository`, without tag or digest.
    pub fn repository_url(&self) -> String {
        format!("oci://{}/{}", self.registry, self.repository)
    }

    /// What to put in a manifest URL: the digest when pinned, else the tag, else `latest`.
    fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_owned(),
        }
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for OciReference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        OciReference::parse(s)
    }
}

/// A content descriptor (config or layer) in a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the content.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    fn of(media_type: &str, bytes: &[u8], annotations: BTreeMap<String, String>) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::of(bytes).to_string(),
            size: bytes.len() as u64,
            annotations,
        }
    }
}

/// An OCI image manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A Wasm module pulled from a registry, digest verified.
#[derive(Debug, Clone)]
pub struct FetchedModule {
    /// sha256 of [`FetchedModule::bytes`] (the module itself, as a WasmPlugin's `sha256`).
    pub digest: Digest,
    /// The module (or component) bytes.
    pub bytes: Vec<u8>,
    /// The reference, pinned to the manifest digest (as given when
    /// [`OciClient::pull_module_verified`] served it from the cache without asking the registry).
    pub reference: OciReference,
    /// Whether the bytes came from the cache.
    pub cached: bool,
}

/// What a push wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The tagged reference, pinned to the manifest digest.
    pub reference: OciReference,
    /// Digest of the content layer (chart archive or module).
    pub layer_digest: Digest,
}

/// A blocking client for OCI registries.
#[derive(Default)]
pub struct OciClient {
    http: Http,
    credentials: Option<Credentials>,
    plain_http: Option<bool>,
    /// `n` for tag listing (the registry's default page when `None`).
    tag_page_size: Option<usize>,
    /// Bearer tokens by `registry|repository|actions`.
    tokens: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for OciClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bearer tokens are secrets: show how many there are, not what they are.
        let tokens = self.tokens.lock().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("OciClient")
            .field("credentials", &self.credentials)
            .field("plain_http", &self.plain_http)
            .field("cached_tokens", &tokens)
            .finish_non_exhaustive()
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
struct Challenge {
    scheme: String,
    params: BTreeMap<String, String>,
}

fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, mut rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=')?;
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end?..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.insert(key.trim().to_ascii_lowercase(), value);
        rest = after;
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

impl OciClient {
    /// An anonymous client.
    pub fn new() -> Self {
        OciClient::default()
    }

    /// Use these credentials for basic auth and for bearer-token requests.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Use these TLS settings (custom CA, client certificate) for every registry.
    pub fn with_tls(mut self, options: &TlsOptions) -> Result<Self> {
        self.http = Http::with_tls(options).map_err(|source| Error::ConfigureTls {
            target: "OCI registries".to_owned(),
            source,
        })?;
        Ok(self)
    }

    /// Ask for tags `n` at a time (registries that paginate by default are followed through
    /// their `Link` headers either way).
    pub fn tag_page_size(mut self, n: usize) -> Self {
        self.tag_page_size = Some(n.max(1));
        self
    }

    /// Force plain HTTP (`true`, like Helm's `--plain-http` / Flux's `insecure`) or HTTPS
    /// (`false`). By default loopback registries use plain HTTP and others HTTPS.
    pub fn plain_http(mut self, yes: bool) -> Self {
        self.plain_http = Some(yes);
        self
    }

    fn base_url(&self, reference: &OciReference) -> String {
        let plain = self
            .plain_http
            .unwrap_or_else(|| is_loopback(&reference.registry));
        let scheme = if plain { "http" } else { "https" };
        // Docker Hub's API lives on another host than the name users write.
        let host = match reference.registry.as_str() {
            "docker.io" | "index.docker.io" => "registry-1.docker.io",
            other => other,
        };
        format!("{scheme}://{host}")
    }

    fn api_url(&self, reference: &OciReference, tail: &str) -> String {
        format!(
            "{}/v2/{}/{tail}",
            self.base_url(reference),
            reference.repository
        )
    }

    /// Send a request, answering one auth challenge if the registry sends one.
    fn request(
        &self,
        reference: &OciReference,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        fail: &dyn Fn(HttpError) -> Error,
    ) -> Result<Response> {
        // Reads need a pull token, writes a push one (which also allows pulling).
        let actions = if matches!(method, "GET" | "HEAD") {
            "pull"
        } else {
            "pull,push"
        };
        let key = format!("{}|{}|{actions}", reference.registry, reference.repository);
        let cached = self
            .tokens
            .lock()
            .ok()
            .and_then(|tokens| tokens.get(&key).cloned());
        let send = |auth: Option<&str>| -> Result<Response> {
            let mut all: Vec<(&str, &str)> = headers.to_vec();
            if let Some(auth) = auth {
                all.push(("Authorization", auth));
            }
            self.http.send(method, url, &all, body).map_err(fail)
        };
        let response = send(cached.as_deref())?;
        if response.status != 401 {
            return Ok(response);
        }
        let Some(challenge) = response
            .header("www-authenticate")
            .and_then(parse_challenge)
        else {
            return Ok(response);
        };
        let auth = match challenge.scheme.as_str() {
            "basic" => match &self.credentials {
                Some(c) => c.basic_header(),
                None => return Ok(response),
            },
            "bearer" => {
                let token = self.fetch_token(&challenge, reference, actions)?;
                format!("Bearer {token}")
            }
            _ => return Ok(response),
        };
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(key, auth.clone());
        }
        send(Some(&auth))
    }

    fn fetch_token(
        &self,
        challenge: &Challenge,
        reference: &OciReference,
        actions: &str,
    ) -> Result<String> {
        let realm = challenge.params.get("realm").cloned().unwrap_or_default();
        let scope = challenge
            .params
            .get("scope")
            .cloned()
            .unwrap_or_else(|| format!("repository:{}:{actions}", reference.repository));
        let fail = |source| Error::Authenticate {
            realm: realm.clone(),
            scope: scope.clone(),
            source,
        };
        let mut url = realm.clone();
        url.push(if url.contains('?') { '&' } else { '?' });
        if let Some(service) = challenge.params.get("service") {
            url.push_str(&format!("service={}&", query_escape(service)));
        }
        url.push_str(&format!("scope={}", query_escape(&scope)));
        let basic = self.credentials.as_ref().map(Credentials::basic_header);
        let headers: Vec<(&str, &str)> = basic
            .as_deref()
            .map(|b| vec![("Authorization", b)])
            .unwrap_or_default();
        let response = self
            .http
            .get(&url, &headers)
            .and_then(Response::success)
            .map_err(fail)?;
        #[derive(Deserialize)]
        struct TokenResponse {
            token: Option<String>,
            access_token: Option<String>,
        }
        let parsed: TokenResponse = serde_json::from_slice(&response.body).map_err(|e| {
            fail(HttpError::Status {
                status: response.status,
                body: format!("token response is not JSON: {e}"),
            })
        })?;
        parsed.token.or(parsed.access_token).ok_or_else(|| {
            fail(HttpError::Status {
                status: response.status,
                body: "token response has no token".to_owned(),
            })
        })
    }

    /// Every tag of the repository (following `Link` pagination). A repository the registry
    /// does not know has no tags.
    pub fn list_tags(&self, reference: &OciReference) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut tags = Vec::new();
        let mut url = self.api_url(reference, "tags/list");
        if let Some(n) = self.tag_page_size {
            url.push_str(&format!("?n={n}"));
        }
        let fail = |source| Error::ListTags {
            repository: reference.repository_url(),
            source,
        };
        for _ in 0..1000 {
            let response = self.request(reference, "GET", &url, &[], None, &fail)?;
            if response.status == 404 {
                return Ok(tags);
            }
            let next = response.header("link").and_then(next_link);
            let response = response.success().map_err(fail)?;
            let page: TagList = serde_json::from_slice(&response.body).map_err(|e| {
                fail(HttpError::Status {
                    status: response.status,
                    body: format!("tag list is not JSON: {e}"),
                })
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(path) if path.starts_with('/') => {
                    url = format!("{}{path}", self.base_url(reference))
                }
                Some(absolute) => url = absolute,
                None => break,
            }
        }
        Ok(tags)
    }

    /// The tag Helm would pick for `range` (empty = latest stable) among the repository's tags,
    /// reading `_` in tags as `+`.
    pub fn resolve_tag(&self, reference: &OciReference, range: &str) -> Result<String> {
        let tags = self.list_tags(reference)?;
        let versions: Vec<String> = tags.iter().map(|t| t.replace('_', "+")).collect();
        let chart = reference
            .repository
            .rsplit('/')
            .next()
            .unwrap_or(&reference.repository)
            .to_owned();
        let picked =
            semver::select(range, versions.iter().map(String::as_str)).map_err(|source| {
                Error::ParseRange {
                    chart: chart.clone(),
                    range: range.to_owned(),
                    source,
                }
            })?;
        match picked {
            Some(version) => Ok(version.replace('+', "_")),
            None => {
                let mut available: Vec<String> = versions
                    .into_iter()
                    .filter(|v| semver::Version::parse(v).is_ok())
                    .collect();
                semver::sort_descending(&mut available);
                Err(Error::VersionNotFound {
                    repository: reference.repository_url(),
                    chart,
                    range: range.to_owned(),
                    available,
                })
            }
        }
    }

    /// Fetch a manifest by the reference's digest (verified) or tag, returning it with its
    /// digest.
    pub fn fetch_manifest(&self, reference: &OciReference) -> Result<(Manifest, Digest)> {
        let url = self.api_url(
            reference,
            &format!("manifests/{}", reference.manifest_reference()),
        );
        let accept = format!("{MANIFEST_MEDIA_TYPE}, {DOCKER_MANIFEST_MEDIA_TYPE}");
        let fail = |source| Error::FetchManifest {
            reference: reference.to_string(),
            source,
        };
        let response = self
            .request(reference, "GET", &url, &[("Accept", &accept)], None, &fail)?
            .success()
            .map_err(fail)?;
        let actual = Digest::of(&response.body);
        let announced = response
            .header("docker-content-digest")
            .and_then(|d| Digest::parse(d).ok());
        for expected in [reference.digest.clone(), announced].into_iter().flatten() {
            if expected != actual {
                return Err(Error::VerifyDigest {
                    what: "manifest".to_owned(),
                    location: reference.to_string(),
                    expected,
                    actual,
                });
            }
        }
        let manifest: Manifest =
            serde_json::from_slice(&response.body).map_err(|source| Error::ParseManifest {
                reference: reference.to_string(),
                source,
            })?;
        Ok((manifest, actual))
    }

    /// Fetch a blob and check it against `digest`.
    pub fn fetch_blob(&self, reference: &OciReference, digest: &Digest) -> Result<Vec<u8>> {
        let blob_ref = reference.with_digest(digest.clone());
        let url = self.api_url(reference, &format!("blobs/{digest}"));
        let fail = |source| Error::FetchBlob {
            repository: reference.repository_url(),
            digest: digest.clone(),
            source,
        };
        let response = self
            .request(&blob_ref, "GET", &url, &[], None, &fail)?
            .success()
            .map_err(fail)?;
        let actual = Digest::of(&response.body);
        if actual != *digest {
            return Err(Error::VerifyDigest {
                what: "blob".to_owned(),
                location: format!("{}@{digest}", reference.repository_url()),
                expected: digest.clone(),
                actual,
            });
        }
        Ok(response.body)
    }

    /// The layer of an accepted media type, and its digest.
    fn find_layer(
        manifest: &Manifest,
        reference: &OciReference,
        media_types: &[&str],
        wanted: &'static str,
    ) -> Result<Digest> {
        let layer = manifest
            .layers
            .iter()
            .find(|l| media_types.contains(&l.media_type.as_str()))
            .ok_or_else(|| Error::FindLayer {
                reference: reference.to_string(),
                wanted,
                found: if manifest.layers.is_empty() {
                    "no layers".to_owned()
                } else {
                    manifest
                        .layers
                        .iter()
                        .map(|l| l.media_type.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })?;
        Digest::parse(&layer.digest).map_err(|source| Error::ParseDigest {
            what: format!("{wanted} layer"),
            location: reference.to_string(),
            source,
        })
    }

    /// Fetch a layer through the cache.
    fn fetch_layer(
        &self,
        reference: &OciReference,
        digest: &Digest,
        kind: ArtifactKind,
        cache: Option<&Cache>,
    ) -> Result<(Vec<u8>, bool)> {
        if let Some(cache) = cache
            && let Some(bytes) = cache.get(kind, digest)?
        {
            return Ok((bytes, true));
        }
        let bytes = self.fetch_blob(reference, digest)?;
        if let Some(cache) = cache {
            cache.put_verified(kind, digest, &bytes)?;
        }
        Ok((bytes, false))
    }

    /// Pull a Helm chart. The manifest is chosen by, in order: the reference's digest, the
    /// highest tag matching a non-empty `range`, the reference's tag, the latest stable
    /// version. The chart layer is read from / written to `cache` when given.
    pub fn pull_chart(
        &self,
        reference: &OciReference,
        range: &str,
        cache: Option<&Cache>,
    ) -> Result<FetchedChart> {
        let target = if reference.digest.is_some() {
            reference.clone()
        } else if !range.trim().is_empty() || reference.tag.is_none() {
            reference.with_tag(&self.resolve_tag(reference, range)?)
        } else {
            reference.clone()
        };
        let (manifest, manifest_digest) = self.fetch_manifest(&target)?;
        let pinned = target.with_digest(manifest_digest);
        let layer = Self::find_layer(
            &manifest,
            &pinned,
            &[
                HELM_CHART_LAYER_MEDIA_TYPE,
                HELM_LEGACY_CHART_LAYER_MEDIA_TYPE,
            ],
            "Helm chart",
        )?;
        let (bytes, cached) = self.fetch_layer(&pinned, &layer, ArtifactKind::Chart, cache)?;
        let meta = chart::read_metadata(&bytes).map_err(|source| Error::ReadChart {
            location: pinned.to_string(),
            source,
        })?;
        Ok(FetchedChart {
            name: meta.name,
            version: meta.version,
            digest: layer,
            bytes,
            location: pinned.to_string(),
            cached,
        })
    }

    /// Pull a Wasm module by the reference's digest or tag (`latest` when neither). The module
    /// layer is read from / written to `cache` when given.
    pub fn pull_module(
        &self,
        reference: &OciReference,
        cache: Option<&Cache>,
    ) -> Result<FetchedModule> {
        let (manifest, manifest_digest) = self.fetch_manifest(reference)?;
        let pinned = reference.with_digest(manifest_digest);
        let layer = Self::find_layer(&manifest, &pinned, WASM_LAYER_MEDIA_TYPES, "Wasm module")?;
        let (bytes, cached) = self.fetch_layer(&pinned, &layer, ArtifactKind::Module, cache)?;
        Ok(FetchedModule {
            digest: layer,
            bytes,
            reference: pinned,
            cached,
        })
    }

    /// Pull a Wasm module whose sha256 is known (a WasmPlugin's `sha256`): served from `cache`
    /// without touching the network when present, otherwise pulled and required to match.
    pub fn pull_module_verified(
        &self,
        reference: &OciReference,
        expected: &Digest,
        cache: Option<&Cache>,
    ) -> Result<FetchedModule> {
        if let Some(cache) = cache
            && let Some(bytes) = cache.get(ArtifactKind::Module, expected)?
        {
            return Ok(FetchedModule {
                digest: expected.clone(),
                bytes,
                reference: reference.clone(),
                cached: true,
            });
        }
        let (manifest, manifest_digest) = self.fetch_manifest(reference)?;
        let pinned = reference.with_digest(manifest_digest);
        let layer = Self::find_layer(&manifest, &pinned, WASM_LAYER_MEDIA_TYPES, "Wasm module")?;
        if layer != *expected {
            return Err(Error::VerifyDigest {
                what: "Wasm module".to_owned(),
                location: pinned.to_string(),
                expected: expected.clone(),
                actual: layer,
            });
        }
        let (bytes, cached) = self.fetch_layer(&pinned, &layer, ArtifactKind::Module, cache)?;
        Ok(FetchedModule {
            digest: layer,
            bytes,
            reference: pinned,
            cached,
        })
    }

    /// Upload a blob unless the registry already has it (monolithic POST + PUT).
    pub fn push_blob(&self, reference: &OciReference, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let blob_ref = reference.with_digest(digest.clone());
        let fail = |source| Error::PushBlob {
            repository: reference.repository_url(),
            digest: digest.clone(),
            source,
        };
        let head_url = self.api_url(reference, &format!("blobs/{digest}"));
        let head = self.request(&blob_ref, "HEAD", &head_url, &[], None, &fail)?;
        if head.is_success() {
            return Ok(digest);
        }
        let start_url = self.api_url(reference, "blobs/uploads/");
        let started = self
            .request(&blob_ref, "POST", &start_url, &[], Some(&[]), &fail)?
            .success()
            .map_err(fail)?;
        let location = started.header("location").ok_or_else(|| {
            fail(HttpError::Status {
                status: started.status,
                body: "upload started without a Location header".to_owned(),
            })
        })?;
        let mut upload_url = if location.starts_with('/') {
            format!("{}{location}", self.base_url(reference))
        } else {
            location.to_owned()
        };
        upload_url.push(if upload_url.contains('?') { '&' } else { '?' });
        upload_url.push_str(&format!("digest={}", query_escape(&digest.to_string())));
        self.request(
            &blob_ref,
            "PUT",
            &upload_url,
            &[("Content-Type", "application/octet-stream")],
            Some(bytes),
            &fail,
        )?
        .success()
        .map_err(fail)?;
        Ok(digest)
    }

    /// Upload a manifest under the reference's tag; returns its digest.
    pub fn push_manifest(&self, reference: &OciReference, manifest: &Manifest) -> Result<Digest> {
        let fail = |source| Error::PushManifest {
            reference: reference.to_string(),
            source,
        };
        let body = serde_json::to_vec(manifest).map_err(|e| {
            fail(HttpError::Status {
                status: 0,
                body: format!("encoding the manifest failed: {e}"),
            })
        })?;
        let digest = Digest::of(&body);
        let url = self.api_url(
            reference,
            &format!("manifests/{}", reference.manifest_reference()),
        );
        let media_type = manifest
            .media_type
            .as_deref()
            .unwrap_or(MANIFEST_MEDIA_TYPE);
        let response = self
            .request(
                reference,
                "PUT",
                &url,
                &[("Content-Type", media_type)],
                Some(&body),
                &fail,
            )?
            .success()
            .map_err(fail)?;
        if let Some(announced) = response
            .header("docker-content-digest")
            .and_then(|d| Digest::parse(d).ok())
            && announced != digest
        {
            return Err(Error::VerifyDigest {
                what: "pushed manifest".to_owned(),
                location: reference.to_string(),
                expected: digest,
                actual: announced,
            });
        }
        Ok(digest)
    }

    /// Push a chart archive the way `helm push` does. The tag is the reference's tag, else the
    /// chart's version (`+` → `_`).
    pub fn push_chart(&self, reference: &OciReference, archive: &[u8]) -> Result<Pushed> {
        let meta = chart::read_metadata(archive).map_err(|source| Error::ReadChart {
            location: reference.to_string(),
            source,
        })?;
        let target = match &reference.tag {
            Some(_) => reference.clone(),
            None => reference.with_tag(&meta.version),
        };
        let config = serde_json::to_vec(&meta.fields).unwrap_or_else(|_| b"{}".to_vec());
        let mut annotations = BTreeMap::from([
            (TITLE.to_owned(), meta.name.clone()),
            (VERSION.to_owned(), meta.version.clone()),
        ]);
        if let Some(description) = meta.fields.get("description").and_then(|d| d.as_str()) {
            annotations.insert(DESCRIPTION.to_owned(), description.to_owned());
        }
        self.push_artifact(
            &target,
            (HELM_CONFIG_MEDIA_TYPE, &config),
            (HELM_CHART_LAYER_MEDIA_TYPE, archive, BTreeMap::new()),
            annotations,
        )
    }

    /// Push a Wasm module as a CNCF Wasm OCI artifact under the reference's tag (`latest` when
    /// none).
    pub fn push_module(&self, reference: &OciReference, module: &[u8]) -> Result<Pushed> {
        let layer_digest = Digest::of(module);
        let config = serde_json::json!({
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer_digest.to_string()],
        });
        let config = serde_json::to_vec(&config).unwrap_or_else(|_| b"{}".to_vec());
        let title = BTreeMap::from([(TITLE.to_owned(), "module.wasm".to_owned())]);
        self.push_artifact(
            reference,
            (WASM_CONFIG_MEDIA_TYPE, &config),
            (WASM_LAYER_MEDIA_TYPE, module, title),
            BTreeMap::new(),
        )
    }

    fn push_artifact(
        &self,
        reference: &OciReference,
        (config_type, config): (&str, &[u8]),
        (layer_type, layer, layer_annotations): (&str, &[u8], BTreeMap<String, String>),
        annotations: BTreeMap<String, String>,
    ) -> Result<Pushed> {
        self.push_blob(reference, config)?;
        let layer_digest = self.push_blob(reference, layer)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
            config: Descriptor::of(config_type, config, BTreeMap::new()),
            layers: vec![Descriptor::of(layer_type, layer, layer_annotations)],
            annotations,
        };
        let unpinned = OciReference {
            digest: None,
            ..reference.clone()
        };
        let digest = self.push_manifest(&unpinned, &manifest)?;
        Ok(Pushed {
            reference: unpinned.with_digest(digest),
            layer_digest,
        })
    }
}

/// The target of a `Link: <…>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// Percent-encode a query parameter value (RFC 3986 unreserved characters kept).
fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r = OciReference::parse("oci://127.0.0.1:5000/charts/redis:16.0.1+build.1")
            .expect("tagged");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "charts/redis");
        assert_eq!(r.tag.as_deref(), Some("16.0.1_build.1"));
        assert_eq!(r.digest, None);
        assert_eq!(
            r.to_string(),
            "oci://127.0.0.1:5000/charts/redis:16.0.1_build.1"
        );

        let hex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        let r = OciReference::parse(&format!("ghcr.io/org/plugins/labels:v1@sha256:{hex}"))
            .expect("pinned");
        assert_eq!(r.registry, "ghcr.io");
        assert_eq!(r.repository, "org/plugins/labels");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.digest.as_ref().map(Digest::hex), Some(hex));
        assert_eq!(r.manifest_reference(), format!("sha256:{hex}"));

        let r = OciReference::parse("oci://localhost:5000/charts").expect("bare");
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(
            r.join("redis").to_string(),
            "oci://localhost:5000/charts/redis"
        );

        for bad in [
            "oci://",
            "oci://host",
            "oci://host/",
            "oci:///repo",
            "oci://host/Upper",
            "oci://host/repo:",
            "oci://host/repo:bad tag",
            "oci://host/repo@sha256:xyz",
            "oci://host/a//b",
        ] {
            assert!(OciReference::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_auth_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        )
        .expect("bearer");
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example.com/token");
        assert_eq!(c.params["service"], "registry.example.com");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).expect("basic");
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
    }

    #[test]
    fn picks_scheme_and_pagination() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("ghcr.io"));
        let client = OciClient::new();
        let local = OciReference::parse("oci://127.0.0.1:5000/a").expect("ref");
        let remote = OciReference::parse("oci://ghcr.io/a").expect("ref");
        assert_eq!(client.base_url(&local), "http://127.0.0.1:5000");
        assert_eq!(client.base_url(&remote), "https://ghcr.io");
        let hub = OciReference::parse("oci://docker.io/bitnamicharts/redis").expect("ref");
        assert_eq!(client.base_url(&hub), "https://registry-1.docker.io");
        assert_eq!(
            OciClient::new().plain_http(true).base_url(&remote),
            "http://ghcr.io"
        );
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?last=b&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(query_escape("sha256:ab"), "sha256%3Aab");
        assert_eq!(
            query_escape("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
