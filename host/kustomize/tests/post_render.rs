//! The kustomize post-renderer end to end over small rendered streams: patch kinds, targets,
//! ordering, images, warnings and errors.

use capstan_kustomize::{
    Error, Image, Json6902Patch, JsonPatchOperation, Kustomize, Patch, Selector, post_render,
};
use serde_json::{Value, json};

fn mk_deployment(name: &str, labels: Value, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "apps", "labels": labels},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
    })
}

fn mk_service(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "apps"},
        "spec": {"ports": [{"port": 80}]}
    })
}

fn mk_stream() -> Vec<Value> {
    vec![
        mk_deployment("web", json!({"app": "web", "tier": "fe"}), "nginx:1.25"),
        mk_deployment(
            "api",
            json!({"app": "api", "tier": "be"}),
            "ghcr.io/org/api:1.0",
        ),
        mk_service("web"),
    ]
}

fn mk_patch(patch: &str, target: Option<Selector>) -> Patch {
    Patch {
        patch: patch.into(),
        target,
    }
}

fn kind(kind: &str) -> Selector {
    Selector {
        kind: Some(kind.into()),
        ..Default::default()
    }
}

fn image_of(v: &Value) -> &str {
    v.pointer("/spec/template/spec/containers/0/image")
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[test]
fn strategic_merge_with_target_applies_to_every_match() {
    let spec = Kustomize {
        patches: vec![mk_patch(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ignored\n  annotations:\n    patched: \"yes\"\n",
            Some(kind("Deployment")),
        )],
        ..Default::default()
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert_eq!(out.warnings, vec![]);
    assert_eq!(out.objects[0]["metadata"]["annotations"]["patched"], "yes");
    assert_eq!(out.objects[1]["metadata"]["annotations"]["patched"], "yes");
    // The patch's own name does not rename targeted objects.
    assert_eq!(out.objects[1]["metadata"]["name"], "api");
    assert!(out.objects[2]["metadata"].get("annotations").is_none());
}

#[test]
fn strategic_merge_without_target_matches_apiversion_kind_and_name() {
    let spec = Kustomize {
        patches: vec![mk_patch(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: apps\nspec:\n  replicas: 3\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  type: NodePort\n",
            None,
        )],
        ..Default::default()
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert!(out.objects[0]["spec"].get("replicas").is_none());
    assert_eq!(out.objects[1]["spec"]["replicas"], 3);
    assert_eq!(out.objects[2]["spec"]["type"], "NodePort");
    assert_eq!(out.objects[2]["spec"]["ports"], json!([{"port": 80}]));
    assert_eq!(out.warnings, vec![]);

    // Without a namespace the patch means `default`, as in kustomize: no match in `apps`.
    let spec = Kustomize {
        patches: vec![mk_patch(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3\n",
            None,
        )],
        ..Default::default()
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert!(out.objects[1]["spec"].get("replicas").is_none());
    assert_eq!(out.warnings.len(), 1);
    let mut unnamespaced = mk_stream();
    if let Some(meta) = unnamespaced[1]["metadata"].as_object_mut() {
        meta.remove("namespace");
    }
    let out = post_render(&spec, unnamespaced).expect("renders");
    assert_eq!(out.objects[1]["spec"]["replicas"], 3);
}

#[test]
fn json6902_patches_need_a_target_and_apply_to_matches() {
    let ops = "- op: replace\n  path: /spec/template/spec/containers/0/image\n  value: busybox\n- op: add\n  path: /metadata/labels/patched\n  value: \"true\"\n";
    let spec = Kustomize {
        patches: vec![mk_patch(
            ops,
            Some(Selector {
                label_selector: Some("tier=be".into()),
                ..Default::default()
            }),
        )],
        ..Default::default()
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert_eq!(image_of(&out.objects[0]), "nginx:1.25");
    assert_eq!(image_of(&out.objects[1]), "busybox");
    assert_eq!(out.objects[1]["metadata"]["labels"]["patched"], "true");

    let missing = Kustomize {
        patches: vec![mk_patch(ops, None)],
        ..Default::default()
    };
    let err = post_render(&missing, mk_stream()).expect_err("needs target");
    assert!(
        matches!(&err, Error::MissingTarget { patch } if patch == "patches[0]"),
        "{err}"
    );
}

#[test]
fn patches_that_match_nothing_are_warnings_naming_the_patch() {
    let spec = Kustomize {
        patches: vec![
            mk_patch("metadata:\n  labels: {a: b}\n", Some(kind("StatefulSet"))),
            mk_patch(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: nope\ndata: {}\n",
                None,
            ),
            mk_patch("- op: remove\n  path: /spec\n", Some(kind("Ingress"))),
        ],
        images: vec![Image {
            name: "redis".into(),
            new_tag: Some("7".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert_eq!(out.objects, mk_stream(), "nothing changed");
    let names: Vec<&str> = out.warnings.iter().map(|w| w.patch.as_str()).collect();
    assert_eq!(
        names,
        ["patches[0]", "patches[1]", "patches[2]", "images[0]"]
    );
    assert!(
        out.warnings[1].message.contains("v1 ConfigMap nope"),
        "{}",
        out.warnings[1]
    );
}

#[test]
fn images_rewrite_names_tags_and_digests() {
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let spec = Kustomize {
        images: vec![
            Image {
                name: "nginx".into(),
                new_name: Some("registry.local/nginx".into()),
                new_tag: Some("1.27".into()),
                ..Default::default()
            },
            Image {
                name: "ghcr.io/org/api".into(),
                digest: Some(digest.into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert_eq!(out.warnings, vec![]);
    assert_eq!(image_of(&out.objects[0]), "registry.local/nginx:1.27");
    assert_eq!(
        image_of(&out.objects[1]),
        format!("ghcr.io/org/api@{digest}")
    );
}

#[test]
fn order_is_strategic_merge_then_patches_then_json6902_then_images() {
    // Each stage sees the previous stage's output: the deprecated SMP sets an image, `patches`
    // sets a label from which the JSON 6902 target selects, and `images` rewrites last.
    let spec = Kustomize {
        patches_strategic_merge: vec![json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "httpd:2"}]}}}
        })],
        patches: vec![mk_patch(
            "metadata:\n  labels:\n    stage: two\n",
            Some(kind("Deployment")),
        )],
        patches_json6902: vec![Json6902Patch {
            target: Selector {
                label_selector: Some("stage=two,app=web".into()),
                ..Default::default()
            },
            patch: vec![JsonPatchOperation {
                op: "add".into(),
                path: "/metadata/annotations".into(),
                value: Some(json!({"stage": "three"})),
                ..Default::default()
            }],
        }],
        images: vec![Image {
            name: "httpd".into(),
            new_tag: Some("2.4".into()),
            ..Default::default()
        }],
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert_eq!(out.warnings, vec![]);
    let web = &out.objects[0];
    assert_eq!(image_of(web), "httpd:2.4");
    assert_eq!(web["metadata"]["labels"]["stage"], "two");
    assert_eq!(web["metadata"]["annotations"]["stage"], "three");
    assert!(out.objects[1]["metadata"].get("annotations").is_none());
}

#[test]
fn delete_directive_removes_the_object_from_the_stream() {
    let spec = Kustomize {
        patches: vec![mk_patch("$patch: delete\n", Some(kind("Service")))],
        ..Default::default()
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert_eq!(out.objects.len(), 2);
    assert!(out.objects.iter().all(|o| o["kind"] == "Deployment"));
}

#[test]
fn errors_name_the_patch_index_and_field() {
    let bad_yaml = Kustomize {
        patches: vec![
            mk_patch("metadata: {labels: {a: b}}\n", None),
            mk_patch("a: [unclosed\n", None),
        ],
        ..Default::default()
    };
    let err = post_render(&bad_yaml, mk_stream()).expect_err("bad yaml");
    assert!(
        matches!(&err, Error::ParsePatch { patch, .. } if patch == "patches[1]"),
        "{err}"
    );

    let bad_target = Kustomize {
        patches: vec![mk_patch(
            "metadata: {}\n",
            Some(Selector {
                name: Some("(".into()),
                ..Default::default()
            }),
        )],
        ..Default::default()
    };
    let err = post_render(&bad_target, mk_stream()).expect_err("bad regex");
    assert!(
        err.to_string().starts_with("patches[0]: invalid target"),
        "{err}"
    );

    let bad_op = Kustomize {
        patches: vec![mk_patch(
            "- op: replace\n  path: /spec/nothing/here\n  value: 1\n",
            Some(kind("Service")),
        )],
        ..Default::default()
    };
    let err = post_render(&bad_op, mk_stream()).expect_err("bad path");
    let msg = err.to_string();
    assert!(
        msg.contains("patches[0]") && msg.contains("v1 Service apps/web"),
        "{msg}"
    );

    let bad_merge = Kustomize {
        patches: vec![mk_patch(
            "spec:\n  template:\n    spec:\n      containers:\n      - image: x\n",
            Some(kind("Deployment")),
        )],
        ..Default::default()
    };
    let err = post_render(&bad_merge, mk_stream()).expect_err("no merge key");
    let chain = format!(
        "{err}: {}",
        std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(chain.contains("patches[0]"), "{chain}");
    assert!(chain.contains("spec.template.spec.containers"), "{chain}");

    let scalar = Kustomize {
        patches: vec![mk_patch("just a string\n", None)],
        ..Default::default()
    };
    assert!(matches!(
        post_render(&scalar, mk_stream()),
        Err(Error::InvalidPatch { .. })
    ));
}

#[test]
fn json_patch_written_as_json_text_is_accepted() {
    let spec = Kustomize {
        patches: vec![mk_patch(
            r#"[{"op": "add", "path": "/spec/type", "value": "LoadBalancer"}]"#,
            Some(Selector {
                kind: Some("Serv.*".into()),
                version: Some("v1".into()),
                group: Some("".into()),
                ..Default::default()
            }),
        )],
        ..Default::default()
    };
    let out = post_render(&spec, mk_stream()).expect("renders");
    assert_eq!(out.objects[2]["spec"]["type"], "LoadBalancer");
}

#[test]
fn non_object_documents_pass_through_untouched() {
    let mut stream = mk_stream();
    stream.push(json!("a stray string"));
    stream.push(json!(null));
    let spec = Kustomize {
        patches: vec![mk_patch("metadata:\n  labels: {x: z}\n", Some(kind(".*")))],
        images: vec![Image {
            name: "nginx".into(),
            new_tag: Some("2".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let out = post_render(&spec, stream).expect("renders");
    assert_eq!(out.objects[3], json!("a stray string"));
    assert_eq!(out.objects[4], json!(null));
    assert_eq!(out.objects[0]["metadata"]["labels"]["x"], "z");
}
