//! Strategic merge semantics on small hand-built objects.

use serde_json::{Value, json};

use super::*;

fn mk_deployment(containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers}
            }
        }
    })
}

fn mk_container(name: &str, image: &str) -> Value {
    json!({"name": name, "image": image})
}

fn mk_patch(spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec})
}

fn containers(v: &Value) -> &Vec<Value> {
    v.pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .expect("containers list")
}

#[test]
fn maps_merge_and_null_deletes() {
    let orig = mk_deployment(json!([mk_container("app", "nginx")]));
    let patch = json!({
        "metadata": {"labels": {"tier": "fe", "app": null}},
        "spec": {"replicas": 3}
    });
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(out["metadata"]["labels"], json!({"tier": "fe"}));
    assert_eq!(out["spec"]["replicas"], 3);
    assert_eq!(out["metadata"]["name"], "web");
}

#[test]
fn containers_merge_by_name_and_new_ones_are_prepended() {
    let orig = mk_deployment(json!([
        mk_container("app", "nginx"),
        mk_container("log", "fluent")
    ]));
    let patch = mk_patch(json!({"template": {"spec": {"containers": [
        {"name": "log", "image": "fluent:2"},
        {"name": "proxy", "image": "envoy"}
    ]}}}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    // kustomize merges with ListIncreaseDirection: Prepend.
    assert_eq!(
        containers(&out),
        &vec![
            mk_container("proxy", "envoy"),
            mk_container("app", "nginx"),
            mk_container("log", "fluent:2"),
        ]
    );
}

#[test]
fn env_merges_by_name_ports_by_container_port_and_args_are_replaced() {
    let orig = mk_deployment(json!([{
        "name": "app",
        "args": ["a", "b"],
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
        "volumeMounts": [{"mountPath": "/data", "name": "data"}]
    }]));
    let patch = mk_patch(json!({"template": {"spec": {"containers": [{
        "name": "app",
        "args": ["c"],
        "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "volumeMounts": [{"mountPath": "/data", "readOnly": true}]
    }]}}}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    let c = &containers(&out)[0];
    assert_eq!(c["args"], json!(["c"]));
    assert_eq!(
        c["env"],
        json!([{"name": "C", "value": "4"}, {"name": "A", "value": "1"}, {"name": "B", "value": "3"}])
    );
    assert_eq!(
        c["ports"],
        json!([{"containerPort": 80, "name": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        c["volumeMounts"],
        json!([{"mountPath": "/data", "name": "data", "readOnly": true}])
    );
}

#[test]
fn patch_delete_removes_a_list_element_and_a_map() {
    let mut orig = mk_deployment(json!([
        mk_container("app", "nginx"),
        mk_container("log", "fluent")
    ]));
    orig["spec"]["strategy"] = json!({"type": "RollingUpdate"});
    let patch = mk_patch(json!({
        "strategy": {"$patch": "delete"},
        "template": {"spec": {"containers": [{"name": "log", "$patch": "delete"}]}}
    }));
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(containers(&out).len(), 1);
    assert_eq!(containers(&out)[0]["name"], "app");
    assert!(out["spec"].get("strategy").is_none());
}

#[test]
fn patch_replace_replaces_a_map_and_a_list() {
    let orig = mk_deployment(json!([
        mk_container("app", "nginx"),
        mk_container("log", "fluent")
    ]));
    let patch = mk_patch(json!({"template": {
        "metadata": {"$patch": "replace", "labels": {"only": "this"}},
        "spec": {"containers": [{"$patch": "replace"}, {"name": "solo", "image": "busybox"}]}
    }}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        out["spec"]["template"]["metadata"],
        json!({"labels": {"only": "this"}})
    );
    assert_eq!(containers(&out), &vec![mk_container("solo", "busybox")]);
}

#[test]
fn retain_keys_drops_the_other_keys() {
    let mut orig = mk_deployment(json!([]));
    orig["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
    let patch = mk_patch(json!({"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn unknown_kinds_replace_plain_lists_and_merge_named_lists() {
    let orig = json!({
        "apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}], "tags": ["x", "y"]}
    });
    let patch = json!({"spec": {"items": [{"name": "b", "v": 3}], "tags": ["z"]}});
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        out["spec"]["items"],
        json!([{"name": "a", "v": 1}, {"name": "b", "v": 3}])
    );
    assert_eq!(out["spec"]["tags"], json!(["z"]));
}

#[test]
fn builtin_lists_without_merge_key_are_replaced() {
    let mut orig = mk_deployment(json!([]));
    orig["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "a", "operator": "Exists"}]);
    let patch = mk_patch(
        json!({"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}),
    );
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "b", "operator": "Exists"}])
    );
}

#[test]
fn service_ports_merge_by_port() {
    let orig = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
    let patch = json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}});
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
    );
}

#[test]
fn finalizers_merge_as_a_set_and_delete_from_primitive_list_removes() {
    let orig = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "finalizers": ["a", "b"]}});
    let patch = json!({"metadata": {"finalizers": ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a"]}});
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "b"]));
}

#[test]
fn new_subtrees_lose_their_directives_and_nulls() {
    let orig = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let patch = json!({"data": {"a": "1", "gone": null, "$patch": "merge"}});
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(out["data"], json!({"a": "1"}));
}

#[test]
fn errors_name_the_field() {
    let orig = mk_deployment(json!([mk_container("app", "nginx")]));
    let patch = mk_patch(json!({"template": {"spec": {"containers": [{"image": "x"}]}}}));
    let err = strategic_merge(&orig, &patch).expect_err("missing merge key");
    assert_eq!(
        err,
        MergeError::FindMergeKey {
            path: "spec.template.spec.containers".into(),
            key: "name".into()
        }
    );
    let bad = mk_patch(json!({"replicas": 2, "template": {"$patch": "explode"}}));
    let err = strategic_merge(&orig, &bad).expect_err("bad directive");
    assert!(err.to_string().contains("spec.template"), "{err}");
}

#[test]
fn top_level_delete_directive_deletes_the_object() {
    let orig = mk_deployment(json!([]));
    let out = strategic_merge(&orig, &json!({"$patch": "delete"})).expect("merge");
    assert!(out.is_null());
}

// The cases of kustomize's patchstrategicmerge filter tests.

fn mk_ports(ports: Value) -> Value {
    mk_deployment(json!([{"name": "app", "image": "img", "ports": ports}]))
}

fn ports(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]["containers"][0]["ports"]
}

#[test]
fn kustomize_volumes_merge_with_new_ones_first() {
    let mut orig = mk_deployment(json!([]));
    orig["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "foo1"}, {"name": "foo2"}, {"name": "foo3"}]);
    let patch = mk_patch(json!({"template": {"spec": {"volumes": [{"name": "foo0"}]}}}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "foo0"}, {"name": "foo1"}, {"name": "foo2"}, {"name": "foo3"}])
    );
}

#[test]
fn kustomize_list_directives() {
    let orig = mk_deployment(json!([mk_container("test", "test")]));
    // `- $patch: delete` as an element deletes the whole list.
    let patch =
        mk_patch(json!({"template": {"spec": {"containers": ["whatever", {"$patch": "delete"}]}}}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(out["spec"]["template"]["spec"], json!({}));
    // Deleting the only element leaves an empty list.
    let patch = mk_patch(json!({"template": {"spec": {"containers": [
        {"name": "test", "image": "test", "$patch": "delete"}
    ]}}}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([]));
    // `- $patch: merge` is the default and is dropped.
    let patch = mk_patch(json!({"template": {"spec": {"containers": [
        mk_container("test2", "test2"), {"$patch": "merge"}
    ]}}}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        containers(&out),
        &vec![mk_container("test2", "test2"), mk_container("test", "test")]
    );
    // `$patch: merge` inside an element merges it.
    let patch = mk_patch(json!({"template": {"spec": {"containers": [
        {"name": "test", "image": "test1", "$patch": "merge"}
    ]}}}));
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(containers(&out), &vec![mk_container("test", "test1")]);
}

#[test]
fn kustomize_container_ports_merge_by_port_and_protocol() {
    let orig = mk_ports(json!([{"containerPort": 8080, "protocol": "TCP"}]));
    let patch = mk_patch(
        json!({"template": {"spec": {"containers": [{"name": "app", "ports": [
            {"containerPort": 8080, "protocol": "UDP"}, {"containerPort": 80, "protocol": "UDP"}
        ]}]}}}),
    );
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        ports(&out),
        &json!([
            {"containerPort": 8080, "protocol": "UDP"},
            {"containerPort": 80, "protocol": "UDP"},
            {"containerPort": 8080, "protocol": "TCP"}
        ])
    );

    let orig = mk_ports(json!([
        {"containerPort": 8080, "protocol": "UDP", "name": "UDP-name-original"},
        {"containerPort": 8080, "protocol": "TCP", "name": "TCP-name-original"}
    ]));
    let patch = mk_patch(
        json!({"template": {"spec": {"containers": [{"name": "app", "ports": [
            {"containerPort": 8080, "protocol": "UDP", "name": "UDP-name-patch"}
        ]}]}}}),
    );
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        ports(&out),
        &json!([
            {"containerPort": 8080, "protocol": "UDP", "name": "UDP-name-patch"},
            {"containerPort": 8080, "protocol": "TCP", "name": "TCP-name-original"}
        ])
    );

    let orig = mk_ports(json!([{"containerPort": 8080}]));
    let patch = mk_patch(
        json!({"template": {"spec": {"containers": [{"name": "app", "ports": [
            {"containerPort": 80}
        ]}]}}}),
    );
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        ports(&out),
        &json!([{"containerPort": 80}, {"containerPort": 8080}])
    );
}

#[test]
fn kustomize_fields_outside_the_schema_infer_merge_keys() {
    // `spec.containers` is not a Deployment field: the list is inferred associative by `name`.
    let orig = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"containers": [{"name": "nginx", "args": ["abc"]}, {"name": "other"}]}});
    let patch = json!({"spec": {"containers": [{"name": "nginx", "args": ["def"]}]}});
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "nginx", "args": ["def"]}, {"name": "other"}])
    );
}

#[test]
fn atomic_builtin_lists_with_associative_looking_elements_are_replaced() {
    let orig = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"},
        "spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu"}}, {"type": "Pods"}]}});
    let patch =
        json!({"spec": {"metrics": [{"type": "Resource", "resource": {"name": "memory"}}]}});
    let out = strategic_merge(&orig, &patch).expect("merge");
    assert_eq!(
        out["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "memory"}}])
    );
}
