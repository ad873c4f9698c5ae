//! Unit tests of the build's pure decisions: which objects get which labels and how hooks are
//! routed.

use std::collections::BTreeMap;

use capstan_api::{CommonMetadata, HelmReleaseSpec};
use serde_json::json;

use super::*;

fn mk_release(common: Option<CommonMetadata>) -> HelmRelease {
    let mut hr = HelmRelease::new(
        "cache",
        HelmReleaseSpec {
            common_metadata: common,
            ..HelmReleaseSpec::default()
        },
    );
    hr.metadata.namespace = Some("shop".to_owned());
    hr
}

fn mk_hook(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "annotations": {"helm.sh/hook": "test"}}})
}

fn mk_object(kind: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}})
}

#[test]
fn origin_labels_win_over_common_metadata() {
    let common = CommonMetadata {
        labels: BTreeMap::from([
            ("team".to_owned(), "shop".to_owned()),
            ("capstan.dev/name".to_owned(), "spoofed".to_owned()),
        ]),
        annotations: BTreeMap::from([("owner".to_owned(), "x".to_owned())]),
    };
    let (labels, annotations) = release_metadata(&mk_release(Some(common)));
    assert_eq!(
        labels,
        BTreeMap::from([
            ("capstan.dev/name".to_owned(), "cache".to_owned()),
            ("capstan.dev/namespace".to_owned(), "shop".to_owned()),
            ("team".to_owned(), "shop".to_owned()),
        ])
    );
    assert_eq!(annotations.get("owner").map(String::as_str), Some("x"));
}

#[test]
fn without_common_metadata_only_origin_labels_are_set() {
    let (labels, annotations) = release_metadata(&mk_release(None));
    assert_eq!(labels.len(), 2);
    assert!(annotations.is_empty());
}

#[test]
fn strategies_route_hooks() {
    assert_eq!(
        HookRouting::of(PostRenderStrategy::Nohooks),
        HookRouting::Skip
    );
    assert_eq!(
        HookRouting::of(PostRenderStrategy::Combined),
        HookRouting::WithManifests
    );
    assert_eq!(
        HookRouting::of(PostRenderStrategy::Separate),
        HookRouting::SeparatePass
    );
    assert_eq!(
        HookRouting::of(PostRenderStrategy::default()),
        HookRouting::WithManifests,
        "Flux and Helm 4 default to combined"
    );
}

#[test]
fn a_combined_pass_splits_back_by_the_hook_annotation_in_order() {
    let objects = vec![
        mk_object("ConfigMap", "a"),
        mk_hook("t1"),
        mk_object("Service", "b"),
        mk_hook("t2"),
    ];
    let (manifests, hooks) = split_hooks(objects);
    let names = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(names(&manifests), ["a", "b"]);
    assert_eq!(names(&hooks), ["t1", "t2"]);
    assert!(!is_hook(
        &json!({"metadata": {"annotations": {"other": "x"}}})
    ));
    assert!(!is_hook(&json!("not an object")));
}

#[test]
fn chart_directory_digests_depend_on_paths_and_contents() {
    let mk = |name: &str, data: &str| capstan_helm::ChartFile {
        name: name.to_owned(),
        data: data.as_bytes().to_vec(),
    };
    let first = files_digest(&[mk("a", "1"), mk("t/b", "2")]);
    assert_eq!(
        first,
        files_digest(&[mk("t/b", "2"), mk("a", "1")]),
        "order does not matter"
    );
    assert_ne!(first, files_digest(&[mk("a", "1"), mk("t/b", "3")]));
    assert_ne!(first, files_digest(&[mk("a", "1"), mk("t/c", "2")]));
}

// ---- The whole pipeline with in-memory fakes: no network, no files, no spawned binary. ----

mod pipeline {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use base64::Engine as _;
    use capstan_api::{
        ClusterWasmPlugin, HelmRepository, OciRepository, WasmPlugin, parse_helm_release,
        parse_helm_repository, parse_oci_repository, parse_wasm_plugin,
    };
    use capstan_helm::ChartFile;
    use serde_json::{Value, json};

    use crate::{
        ChartContent, ChartLocation, ChartRequest, Engine, Error, ErrorClass, FetchError,
        FetchedChart, FetchedModule, Fetcher, Found, LookupError, ModuleLocation, ModuleRequest,
        ObjectKind, ObjectLookup,
    };

    /// Objects by kind and `namespace/name`; `down` makes every lookup fail (API unreachable).
    #[derive(Default)]
    struct FakeLookup {
        objects: HashMap<(ObjectKind, String), Value>,
        down: bool,
        /// Refuse every lookup as the operator's policy would.
        deny: bool,
    }

    impl FakeLookup {
        fn with(mut self, kind: ObjectKind, doc: Value) -> Self {
            let ns = doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let name = doc["metadata"]["name"].as_str().unwrap_or("").to_owned();
            let key = if ns.is_empty() {
                name
            } else {
                format!("{ns}/{name}")
            };
            self.objects.insert((kind, key), doc);
            self
        }

        fn get(&self, kind: ObjectKind, key: String) -> Found<Value> {
            if self.down || self.deny {
                return Err(LookupError {
                    kind,
                    object: key,
                    reason: if self.deny {
                        "cross-namespace references are disabled".into()
                    } else {
                        "connection refused".into()
                    },
                    denied: self.deny,
                });
            }
            Ok(self.objects.get(&(kind, key)).cloned())
        }
    }

    impl ObjectLookup for FakeLookup {
        fn helm_repository(&self, ns: &str, name: &str) -> Found<HelmRepository> {
            Ok(self
                .get(ObjectKind::HelmRepository, format!("{ns}/{name}"))?
                .map(|d| {
                    parse_helm_repository(&d)
                        .expect("valid HelmRepository")
                        .object
                }))
        }
        fn oci_repository(&self, ns: &str, name: &str) -> Found<OciRepository> {
            Ok(self
                .get(ObjectKind::OciRepository, format!("{ns}/{name}"))?
                .map(|d| {
                    parse_oci_repository(&d)
                        .expect("valid OCIRepository")
                        .object
                }))
        }
        fn config_map(&self, ns: &str, name: &str) -> Found<Value> {
            self.get(ObjectKind::ConfigMap, format!("{ns}/{name}"))
        }
        fn secret(&self, ns: &str, name: &str) -> Found<Value> {
            self.get(ObjectKind::Secret, format!("{ns}/{name}"))
        }
        fn wasm_plugins_named(&self, name: &str) -> Result<Vec<WasmPlugin>, LookupError> {
            if self.down {
                return Err(LookupError {
                    kind: ObjectKind::WasmPlugin,
                    object: name.into(),
                    reason: "connection refused".into(),
                    denied: false,
                });
            }
            Ok(self
                .objects
                .iter()
                .filter(|((k, key), _)| {
                    *k == ObjectKind::WasmPlugin && key.rsplit('/').next() == Some(name)
                })
                .map(|(_, d)| parse_wasm_plugin(d).expect("valid WasmPlugin").object)
                .collect())
        }
        fn cluster_wasm_plugin(&self, name: &str) -> Found<ClusterWasmPlugin> {
            Ok(self
                .get(ObjectKind::ClusterWasmPlugin, name.to_owned())?
                .map(|d| {
                    capstan_api::parse_cluster_wasm_plugin(&d)
                        .expect("valid ClusterWasmPlugin")
                        .object
                }))
        }
        fn namespace_labels(&self, name: &str) -> Found<serde_json::Map<String, Value>> {
            Ok(self.get(ObjectKind::Namespace, name.to_owned())?.map(|d| {
                d["metadata"]["labels"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            }))
        }
    }

    /// Serves one chart (as files) and modules by location; records every request.
    #[derive(Default)]
    struct FakeFetcher {
        chart: Vec<ChartFile>,
        modules: HashMap<String, Vec<u8>>,
        offline: bool,
        chart_requests: RefCell<Vec<ChartRequest>>,
        module_requests: RefCell<Vec<ModuleRequest>>,
    }

    impl Fetcher for FakeFetcher {
        fn fetch_chart(&self, request: &ChartRequest) -> Result<FetchedChart, FetchError> {
            self.chart_requests.borrow_mut().push(request.clone());
            if self.offline {
                return Err(FetchError::ReadLocal {
                    path: "https://c.example/index.yaml".into(),
                    source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "offline"),
                });
            }
            Ok(FetchedChart {
                name: "web".into(),
                version: "1.2.3".into(),
                digest: crate::files_digest(&self.chart),
                location: request.location.to_string(),
                content: ChartContent::Files(self.chart.clone()),
            })
        }
        fn fetch_module(&self, request: &ModuleRequest) -> Result<FetchedModule, FetchError> {
            self.module_requests.borrow_mut().push(request.clone());
            let bytes = self
                .modules
                .get(&request.location.to_string())
                .cloned()
                .ok_or(FetchError::Refused {
                    reason: format!("no module at {}", request.location),
                })?;
            if let Some(expected) = &request.expected {
                let actual = capstan_source::Digest::of(&bytes);
                if &actual != expected {
                    return Err(FetchError::Source(capstan_source::Error::VerifyDigest {
                        what: "module".into(),
                        location: request.location.to_string(),
                        expected: expected.clone(),
                        actual,
                    }));
                }
            }
            Ok(FetchedModule {
                bytes,
                location: request.location.to_string(),
            })
        }
    }

    fn mk_file(name: &str, text: &str) -> ChartFile {
        ChartFile {
            name: name.into(),
            data: text.as_bytes().to_vec(),
        }
    }

    fn mk_chart(template: &str) -> Vec<ChartFile> {
        vec![
            mk_file("Chart.yaml", "apiVersion: v2\nname: web\nversion: 1.2.3\n"),
            mk_file("values.yaml", "replicas: 1\nname: web\n"),
            mk_file("templates/cm.yaml", template),
        ]
    }

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n  kind: {{ printf \"%T\" .Values.replicas | quote }}\n";

    fn mk_release(spec: Value) -> capstan_api::HelmRelease {
        parse_helm_release(&json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "HelmRelease",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": spec,
        }))
        .expect("valid HelmRelease")
        .release
    }

    fn mk_engine() -> Engine {
        Engine::new(capstan_wasm::Runtime::new().expect("runtime"))
    }

    fn cm_data(build: &crate::Build) -> Value {
        build.objects[0]["data"].clone()
    }

    #[test]
    fn an_http_repository_chart_renders_with_flux_typed_values() {
        let fetcher = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        let release = mk_release(json!({
            "chart": {"spec": {"chart": "web", "version": "1.x", "repository": "https://charts.example.com"}},
            "values": {"replicas": 1000000},
        }));
        let build = mk_engine()
            .build(&release, &FakeLookup::default(), &fetcher)
            .expect("builds");
        // Flux decodes spec.values as JSON into interface{}: float64, printed as Go does.
        assert_eq!(
            cm_data(&build),
            json!({"replicas": "1e+06", "kind": "float64"})
        );
        let requests = fetcher.chart_requests.borrow();
        assert_eq!(
            requests[0].location,
            ChartLocation::Repository("https://charts.example.com".into())
        );
        assert_eq!(
            (requests[0].chart.as_str(), requests[0].version.as_str()),
            ("web", "1.x")
        );
        assert_eq!(build.chart.name, "web");
        assert_eq!(
            build.objects[0]["metadata"]["labels"]["capstan.dev/name"],
            "web"
        );
        assert!(build.digests.chart.starts_with("sha256:"));
    }

    #[test]
    fn releases_render_with_helm_4_rules_unless_helm_3_is_chosen() {
        const VERSIONS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: versions\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n  helm: {{ .Capabilities.HelmVersion.Version | quote }}\n  values: {{ printf \"%T\" .Values | quote }}\n  chart: {{ printf \"%T\" .Chart | quote }}\n";
        let fetcher = FakeFetcher {
            chart: mk_chart(VERSIONS),
            ..Default::default()
        };
        let release = mk_release(json!({
            "chart": {"spec": {"chart": "web", "repository": "https://charts.example.com"}},
        }));
        let render = |engine: Engine| {
            cm_data(
                &engine
                    .build(&release, &FakeLookup::default(), &fetcher)
                    .expect("builds"),
            )
        };
        let default = mk_engine();
        assert_eq!(default.helm_version(), crate::HelmVersion::V4);
        assert_eq!(
            render(default),
            json!({"kube": "v1.35.0", "helm": "v4.1.4", "values": "common.Values",
                   "chart": "map[string]interface {}"}),
            "Flux's helm-controller embeds Helm 4"
        );
        assert_eq!(
            render(mk_engine().with_helm_version(crate::HelmVersion::V3)),
            json!({"kube": "v1.32.0", "helm": "v3.17.3", "values": "chartutil.Values",
                   "chart": "struct { chart.Metadata; IsRoot bool }"}),
        );
    }

    #[test]
    fn a_helm_repository_source_ref_brings_its_secret_credentials() {
        let fetcher = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        let lookup = FakeLookup::default()
            .with(
                ObjectKind::HelmRepository,
                json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                       "metadata": {"name": "charts", "namespace": "flux"},
                       "spec": {"url": "https://charts.example.com", "secretRef": {"name": "creds"},
                                "passCredentials": true}}),
            )
            .with(
                ObjectKind::Secret,
                json!({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": "creds", "namespace": "flux"},
                       "data": {"username": base64::engine::general_purpose::STANDARD.encode("bot"),
                                "password": base64::engine::general_purpose::STANDARD.encode("s3cr3t")}}),
            );
        let release = mk_release(json!({
            "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux"}}},
        }));
        mk_engine()
            .build(&release, &lookup, &fetcher)
            .expect("builds");
        let requests = fetcher.chart_requests.borrow();
        let creds = requests[0].auth.credentials.as_ref().expect("credentials");
        assert_eq!(
            (creds.username.as_str(), creds.password.as_str()),
            ("bot", "s3cr3t")
        );
        assert!(requests[0].auth.pass_credentials);
    }

    #[test]
    fn a_missing_secret_ref_is_named_and_stalls() {
        let lookup = FakeLookup::default().with(
            ObjectKind::HelmRepository,
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                   "metadata": {"name": "charts", "namespace": "apps"},
                   "spec": {"url": "https://charts.example.com", "secretRef": {"name": "creds"}}}),
        );
        let release = mk_release(json!({
            "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
        }));
        let err = mk_engine()
            .build(&release, &lookup, &FakeFetcher::default())
            .expect_err("no secret");
        assert_eq!(
            err.to_string(),
            "HelmRelease apps/web: HelmRepository apps/charts spec.secretRef: Secret apps/creds not found"
        );
        assert_eq!(err.class(), ErrorClass::Stalled);
    }

    #[test]
    fn an_oci_repository_chart_ref_fetches_by_digest_tag_or_range() {
        for (reference, location, range) in [
            (
                json!({"digest": format!("sha256:{}", "a".repeat(64))}),
                format!("oci://r.example/web@sha256:{}", "a".repeat(64)),
                "",
            ),
            (
                json!({"tag": "1.2.3"}),
                "oci://r.example/web:1.2.3".to_owned(),
                "",
            ),
            (
                json!({"semver": ">=1.0.0"}),
                "oci://r.example/web".to_owned(),
                ">=1.0.0",
            ),
        ] {
            let fetcher = FakeFetcher {
                chart: mk_chart(CM),
                ..Default::default()
            };
            let lookup = FakeLookup::default().with(
                ObjectKind::OciRepository,
                json!({"apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "OCIRepository",
                       "metadata": {"name": "web", "namespace": "apps"},
                       "spec": {"url": "oci://r.example/web", "ref": reference}}),
            );
            let release = mk_release(json!({"chartRef": {"kind": "OCIRepository", "name": "web"}}));
            mk_engine()
                .build(&release, &lookup, &fetcher)
                .expect("builds");
            let requests = fetcher.chart_requests.borrow();
            assert_eq!(requests[0].location, ChartLocation::Repository(location));
            assert_eq!(requests[0].version, range);
        }
    }

    #[test]
    fn a_local_path_is_asked_of_the_fetcher_and_its_version_checked() {
        let fetcher = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        let ok = mk_release(
            json!({"chart": {"spec": {"chart": "web", "repository": "./chart", "version": "1.x"}}}),
        );
        let build = mk_engine()
            .build(&ok, &FakeLookup::default(), &fetcher)
            .expect("builds");
        assert_eq!(build.chart.version, "1.2.3");
        assert_eq!(
            fetcher.chart_requests.borrow()[0].location,
            ChartLocation::Local("./chart".into())
        );
        let wrong = mk_release(
            json!({"chart": {"spec": {"chart": "web", "repository": "./chart", "version": "2.x"}}}),
        );
        let err = mk_engine()
            .build(&wrong, &FakeLookup::default(), &fetcher)
            .expect_err("version mismatch");
        assert!(matches!(err, Error::FetchChart { .. }), "{err:?}");
    }

    #[test]
    fn values_from_config_maps_secrets_and_target_paths_are_typed_as_flux_does() {
        let fetcher = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        let lookup = FakeLookup::default()
            .with(
                ObjectKind::ConfigMap,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "v", "namespace": "apps"},
                       "data": {"values.yaml": "replicas: 3\nname: from-cm\n"}}),
            )
            .with(
                ObjectKind::Secret,
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "apps"},
                       "stringData": {"n": "7"}}),
            );
        let from_cm = mk_release(json!({
            "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
            "valuesFrom": [{"kind": "ConfigMap", "name": "v"}],
        }));
        let build = mk_engine()
            .build(&from_cm, &lookup, &fetcher)
            .expect("builds");
        assert_eq!(cm_data(&build), json!({"replicas": "3", "kind": "float64"}));
        assert_eq!(build.objects[0]["metadata"]["name"], "from-cm");

        let targeted = mk_release(json!({
            "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
            "valuesFrom": [{"kind": "ConfigMap", "name": "v"},
                           {"kind": "Secret", "name": "s", "valuesKey": "n", "targetPath": "replicas"}],
        }));
        let build = mk_engine()
            .build(&targeted, &lookup, &fetcher)
            .expect("builds");
        // targetPath goes through Helm's --set parser: an integer, not a float.
        assert_eq!(build.values["replicas"], json!(7));
        assert_eq!(cm_data(&build)["replicas"], "7");
    }

    #[test]
    fn values_lookups_that_fail_are_transient_and_missing_ones_stall() {
        let fetcher = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        let release = mk_release(json!({
            "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
            "valuesFrom": [{"kind": "ConfigMap", "name": "v"}],
        }));
        let down = FakeLookup {
            down: true,
            ..Default::default()
        };
        let err = mk_engine()
            .build(&release, &down, &fetcher)
            .expect_err("down");
        assert!(err.is_transient(), "{err:?}");
        assert_eq!(err.reason(), "ValuesFailed");
        let denied = FakeLookup {
            deny: true,
            ..Default::default()
        };
        let err = mk_engine()
            .build(&release, &denied, &fetcher)
            .expect_err("denied");
        assert_eq!(err.class(), ErrorClass::Stalled, "{err:?}");
        assert_eq!(err.reason(), "AccessDenied");
        let err = mk_engine()
            .build(&release, &FakeLookup::default(), &fetcher)
            .expect_err("missing");
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert_eq!(
            crate::chain(&err),
            "composing values: HelmRelease apps/web: spec.valuesFrom[0]: ConfigMap apps/v not found"
        );
    }

    #[test]
    fn a_fetch_failure_is_transient_and_a_render_error_stalls() {
        let offline = FakeFetcher {
            offline: true,
            ..Default::default()
        };
        let release = mk_release(
            json!({"chart": {"spec": {"chart": "web", "repository": "https://c.example"}}}),
        );
        let err = mk_engine()
            .build(&release, &FakeLookup::default(), &offline)
            .expect_err("offline");
        assert!(err.is_transient());
        assert_eq!(err.reason(), "ChartFetchFailed");

        let broken = FakeFetcher {
            chart: mk_chart("{{ fail \"no database configured\" }}"),
            ..Default::default()
        };
        let err = mk_engine()
            .build(&release, &FakeLookup::default(), &broken)
            .expect_err("fails");
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert_eq!(err.reason(), "RenderFailed");
        assert!(
            crate::chain(&err).contains("no database configured"),
            "{}",
            crate::chain(&err)
        );
    }

    fn mk_plugin(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
               "metadata": {"name": name, "namespace": "apps"}, "spec": spec})
    }

    fn wasm_release() -> capstan_api::HelmRelease {
        mk_release(json!({
            "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
            "postRenderers": [{"wasm": {"plugin": "labels"}}],
        }))
    }

    #[test]
    fn plugin_modules_come_from_oci_url_or_config_maps_with_their_digest() {
        // Not a component: the engine fetches and verifies it, then the runtime refuses it —
        // which proves which bytes reached the runtime without building a guest here.
        let module = b"\0asm\x01\0\0\0".to_vec();
        let sha = capstan_source::Digest::of(&module);
        for (spec, location) in [
            (
                json!({"oci": {"ref": "r.example/plugins/labels:1"}, "sha256": sha.to_string()}),
                Some("r.example/plugins/labels:1"),
            ),
            (
                json!({"url": "https://m.example/labels.wasm", "sha256": sha.to_string()}),
                Some("https://m.example/labels.wasm"),
            ),
            (
                json!({"configMapRef": {"name": "mods", "key": "labels.wasm"}, "sha256": sha.to_string()}),
                None,
            ),
        ] {
            let fetcher = FakeFetcher {
                chart: mk_chart(CM),
                modules: HashMap::from([
                    ("r.example/plugins/labels:1".to_owned(), module.clone()),
                    ("https://m.example/labels.wasm".to_owned(), module.clone()),
                ]),
                ..Default::default()
            };
            let lookup = FakeLookup::default()
                .with(ObjectKind::WasmPlugin, mk_plugin("labels", spec))
                .with(
                    ObjectKind::ConfigMap,
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "mods", "namespace": "apps"},
                           "binaryData": {"labels.wasm": base64::engine::general_purpose::STANDARD.encode(&module)}}),
                );
            let err = mk_engine()
                .build(&wasm_release(), &lookup, &fetcher)
                .expect_err("not a component");
            assert!(matches!(err, Error::LoadPlugin { .. }), "{err:?}");
            assert_eq!(err.class(), ErrorClass::Stalled);
            let requests = fetcher.module_requests.borrow();
            match location {
                Some(l) => {
                    assert_eq!(requests[0].location.to_string(), l);
                    assert_eq!(requests[0].expected.as_ref(), Some(&sha));
                    assert!(matches!(
                        requests[0].location,
                        ModuleLocation::Oci(_) | ModuleLocation::Url(_)
                    ));
                }
                None => assert!(
                    requests.is_empty(),
                    "ConfigMap modules are looked up, not fetched"
                ),
            }
            assert!(
                fetcher.chart_requests.borrow().is_empty(),
                "plugins are loaded before the chart is fetched"
            );
        }
    }

    #[test]
    fn a_module_with_another_digest_is_refused_naming_both() {
        let fetcher = FakeFetcher {
            modules: HashMap::from([(
                "https://m.example/labels.wasm".to_owned(),
                b"other".to_vec(),
            )]),
            ..Default::default()
        };
        let lookup = FakeLookup::default().with(
            ObjectKind::WasmPlugin,
            mk_plugin(
                "labels",
                json!({"url": "https://m.example/labels.wasm", "sha256": "0".repeat(64)}),
            ),
        );
        let err = mk_engine()
            .build(&wasm_release(), &lookup, &fetcher)
            .expect_err("mismatch");
        assert_eq!(err.class(), ErrorClass::Stalled);
        let text = err.to_string();
        assert!(text.starts_with("HelmRelease apps/web: spec.postRenderers[0].wasm: WasmPlugin apps/labels: spec.sha256 mismatch"), "{text}");
        assert!(
            text.contains(&format!("expected sha256:{}", "0".repeat(64))),
            "{text}"
        );
    }

    #[test]
    fn a_plugin_from_another_namespace_or_missing_is_named() {
        let lookup = FakeLookup::default()
            .with(ObjectKind::WasmPlugin, json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
                   "metadata": {"name": "labels", "namespace": "other"}, "spec": {"url": "https://m.example/x.wasm", "sha256": "0".repeat(64)}}));
        let err = mk_engine()
            .build(&wasm_release(), &lookup, &FakeFetcher::default())
            .expect_err("other namespace");
        assert_eq!(err.reason(), "PluginNotAllowed");
        assert!(
            crate::chain(&err)
                .contains("is in namespace \"other\" but the HelmRelease is in \"apps\""),
            "{}",
            crate::chain(&err)
        );
        let err = mk_engine()
            .build(
                &wasm_release(),
                &FakeLookup::default(),
                &FakeFetcher::default(),
            )
            .expect_err("missing");
        assert!(
            crate::chain(&err).contains("WasmPlugin \"labels\" not found in namespace \"apps\""),
            "{}",
            crate::chain(&err)
        );
    }

    fn mk_namespace(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    }

    fn mk_cluster_plugin(name: &str, selector: Value) -> Value {
        json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "ClusterWasmPlugin",
               "metadata": {"name": name},
               "spec": {"url": "https://m.example/x.wasm", "sha256": "0".repeat(64),
                        "namespaceSelector": selector}})
    }

    #[test]
    fn a_cluster_plugin_serves_only_the_namespaces_its_selector_picks() {
        let release = mk_release(json!({
            "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
            "postRenderers": [{"wasm": {"plugin": "labels", "kind": "ClusterWasmPlugin"}}],
        }));
        let build = |namespace: Option<Value>, selector: Value| {
            let mut lookup = FakeLookup::default().with(
                ObjectKind::ClusterWasmPlugin,
                mk_cluster_plugin("labels", selector),
            );
            if let Some(ns) = namespace {
                lookup = lookup.with(ObjectKind::Namespace, ns);
            }
            let fetcher = FakeFetcher {
                modules: HashMap::from([("https://m.example/x.wasm".to_owned(), b"x".to_vec())]),
                ..Default::default()
            };
            mk_engine()
                .build(&release, &lookup, &fetcher)
                .expect_err("either refused or a bad module")
        };

        // Namespace "apps" is team=b: refused, naming release, plugin, selector and namespace.
        let err = build(
            Some(mk_namespace("apps", json!({"team": "b"}))),
            json!({"matchLabels": {"team": "a"}}),
        );
        assert_eq!(err.reason(), "PluginNotAllowed");
        assert_eq!(err.class(), ErrorClass::Stalled);
        assert_eq!(
            crate::chain(&err),
            "spec.postRenderers[0].wasm: HelmRelease apps/web: ClusterWasmPlugin \"labels\" may \
             only be used from namespaces matching its spec.namespaceSelector (team=a); namespace \
             \"apps\" does not match"
        );

        // Selected: resolution passes and the module is fetched (and found to be wrong).
        for (ns, selector) in [
            (
                Some(mk_namespace("apps", json!({"team": "a"}))),
                json!({"matchLabels": {"team": "a"}}),
            ),
            // Every namespace carries its own name as a label, known or not.
            (
                None,
                json!({"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["apps", "web"]}]}),
            ),
            (None, json!({})),
        ] {
            let err = build(ns, selector.clone());
            assert!(
                matches!(err, Error::VerifyModule { .. }),
                "{selector}: {err:?}"
            );
        }

        // A malformed selector is the plugin's error, named with its field.
        let err = build(
            None,
            json!({"matchExpressions": [{"key": "team", "operator": "Equal", "values": ["a"]}]}),
        );
        assert_eq!(err.reason(), "PluginInvalid");
        assert!(
            crate::chain(&err).contains(
                "ClusterWasmPlugin labels: spec.namespaceSelector: matchExpressions[0].operator: \"Equal\""
            ),
            "{}",
            crate::chain(&err)
        );
    }

    #[test]
    fn kustomize_steps_run_in_order_and_every_input_is_in_the_desired_digest() {
        let fetcher = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        let with_patch = |value: &str| {
            mk_release(json!({
                "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
                "postRenderers": [{"kustomize": {"patches": [{"target": {"kind": "ConfigMap"},
                    "patch": format!("[{{\"op\": \"add\", \"path\": \"/data/extra\", \"value\": \"{value}\"}}]")}]}}],
            }))
        };
        let a = mk_engine()
            .build(&with_patch("a"), &FakeLookup::default(), &fetcher)
            .expect("builds");
        assert_eq!(cm_data(&a)["extra"], "a");
        let again = mk_engine()
            .build(&with_patch("a"), &FakeLookup::default(), &fetcher)
            .expect("builds");
        assert_eq!(
            a.digests.desired(),
            again.digests.desired(),
            "same inputs, same digest"
        );
        let b = mk_engine()
            .build(&with_patch("b"), &FakeLookup::default(), &fetcher)
            .expect("builds");
        assert_ne!(a.digests.desired(), b.digests.desired());
        assert_eq!(a.digests.chart, b.digests.chart);
    }

    #[test]
    fn the_output_guard_refuses_a_step_that_moves_an_object_and_stalls() {
        let fetcher = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        let with_patch = |op: &str| {
            mk_release(json!({
                "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
                "postRenderers": [{"kustomize": {"patches": [{"target": {"kind": "ConfigMap"},
                    "patch": format!("[{op}]")}]}}],
            }))
        };
        let moved =
            with_patch(r#"{"op": "add", "path": "/metadata/namespace", "value": "kube-system"}"#);
        let err = mk_engine()
            .build(&moved, &FakeLookup::default(), &fetcher)
            .expect_err("moved out of the namespace");
        assert_eq!(err.class(), crate::ErrorClass::Stalled);
        assert_eq!(err.reason(), "PostRenderOutputRefused");
        assert_eq!(
            crate::chain(&err),
            "HelmRelease apps/web: post-rendering manifests and hooks: post-renderer #0 (kustomize) \
             returned output the release may not apply: object outside the release's namespace: \
             ConfigMap kube-system/web: metadata.namespace is \"kube-system\"; accepted: \"apps\" \
             or none"
        );
        // The ownership label is set after the chain; a step may not forge it.
        let forged = with_patch(
            r#"{"op": "add", "path": "/metadata/labels", "value": {"capstan.dev/name": "other"}}"#,
        );
        let err = mk_engine()
            .build(&forged, &FakeLookup::default(), &fetcher)
            .expect_err("forged owner");
        assert!(
            crate::chain(&err).contains("metadata.labels[\"capstan.dev/name\"] is \"other\""),
            "{err}"
        );
        // The release's own value is fine, and so is staying in the namespace.
        let same = with_patch(r#"{"op": "add", "path": "/metadata/namespace", "value": "apps"}"#);
        mk_engine()
            .build(&same, &FakeLookup::default(), &fetcher)
            .expect("stays in apps");
    }

    #[test]
    fn the_operators_policy_not_the_release_decides_on_cluster_scoped_objects() {
        let fetcher = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        // A patch that turns the ConfigMap into a ClusterRoleBinding.
        let release = mk_release(json!({
            "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
            "postRenderers": [{"kustomize": {"patches": [{"target": {"kind": "ConfigMap"},
                "patch": r#"[{"op": "replace", "path": "/kind", "value": "ClusterRoleBinding"},
                             {"op": "replace", "path": "/apiVersion", "value": "rbac.authorization.k8s.io/v1"}]"#}]}}],
        }));
        let err = mk_engine()
            .build(&release, &FakeLookup::default(), &fetcher)
            .expect_err("cluster-scoped");
        assert!(
            crate::chain(&err).contains(
                "cluster-scoped object added: ClusterRoleBinding.rbac.authorization.k8s.io web"
            ),
            "{err}"
        );
        for tenants in [["apps"], ["*"]] {
            let build = mk_engine()
                .with_guard(crate::GuardPolicy::allowing_cluster_scoped(tenants))
                .build(&release, &FakeLookup::default(), &fetcher)
                .expect("allowed for this tenant");
            assert_eq!(build.objects[0]["kind"], "ClusterRoleBinding");
        }
        let err = mk_engine()
            .with_guard(crate::GuardPolicy::allowing_cluster_scoped(["platform"]))
            .build(&release, &FakeLookup::default(), &fetcher)
            .expect_err("another tenant's permission");
        assert_eq!(err.reason(), "PostRenderOutputRefused");
    }

    #[test]
    fn the_charts_own_cluster_scoped_objects_are_held_to_the_policy_only_when_asked() {
        let role = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: web-reader\nrules: []\n---\n";
        let fetcher = FakeFetcher {
            chart: mk_chart(&format!("{role}{CM}")),
            ..Default::default()
        };
        let release = mk_release(json!({
            "chart": {"spec": {"chart": "web", "repository": "https://c.example"}},
        }));
        // By default the chart's objects are the release's RBAC's business, as in Flux.
        let build = mk_engine()
            .build(&release, &FakeLookup::default(), &fetcher)
            .expect("chart objects pass by default");
        assert!(build.objects.iter().any(|o| o["kind"] == "ClusterRole"));
        let strict =
            crate::GuardPolicy::allowing_cluster_scoped(["platform"]).with_chart_objects(true);
        let err = mk_engine()
            .with_guard(strict)
            .build(&release, &FakeLookup::default(), &fetcher)
            .expect_err("tenant apps may not install cluster-scoped objects");
        assert_eq!(err.class(), crate::ErrorClass::Stalled);
        assert_eq!(err.reason(), "ClusterScopedRefused");
        assert_eq!(
            err.to_string(),
            "HelmRelease apps/web: the chart renders cluster-scoped \
             ClusterRole.rbac.authorization.k8s.io web-reader; the operator allows cluster-scoped \
             objects for tenants platform (--allow-cluster-scoped-namespaces), not for releases \
             in namespace apps"
        );
        mk_engine()
            .with_guard(
                crate::GuardPolicy::allowing_cluster_scoped(["apps"]).with_chart_objects(true),
            )
            .build(&release, &FakeLookup::default(), &fetcher)
            .expect("allowed tenant");
        // A chart with only namespaced objects is unaffected.
        let plain = FakeFetcher {
            chart: mk_chart(CM),
            ..Default::default()
        };
        mk_engine()
            .with_guard(crate::GuardPolicy::default().with_chart_objects(true))
            .build(&release, &FakeLookup::default(), &plain)
            .expect("namespaced only");
    }
}
