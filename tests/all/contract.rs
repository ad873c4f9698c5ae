//! The WIT contract's versions and what `describe` allows (issue #12): a component built against
//! `capstan:transform@0.1.0` still loads and runs, always as one call; a per-object component's
//! large list runs as parts whose joined output is, byte for byte, what one call gives, and whose
//! failure is the first failing part's.

use capstan_tests::{
    filler_2kb, load, mk_workloads, native, plugin_configs, runtime, set_labels_0_1,
};
use capstan_wasm::{Error, Result, TextOutput, WasmPlugin};
use serde_json::{Value, json};

use crate::throughput::{default_memory as limits, mk_ctx};

fn texts(objects: &[Value]) -> Vec<String> {
    objects.iter().map(Value::to_string).collect()
}

/// The call as a chain makes it (in parts, for a per-object plugin's large list) and as one call.
fn in_parts_and_whole(
    plugin: &WasmPlugin,
    config: &str,
    texts: &[String],
) -> (Result<TextOutput>, Result<TextOutput>) {
    let whole = plugin.clone().in_one_call();
    (
        plugin.transform_text(&mk_ctx(), config, texts),
        whole.transform_text(&mk_ctx(), config, texts),
    )
}

fn config_of(name: &str) -> String {
    plugin_configs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c.to_string())
        .expect("a configured plugin")
}

#[test]
fn a_component_built_against_0_1_runs_as_one_call() {
    let old = runtime()
        .load_file("set-labels", set_labels_0_1(), limits())
        .expect("a 0.1.0 component loads");
    let new = load("set-labels", limits());
    assert_eq!(old.contract_version(), "0.1.0");
    assert_eq!(new.contract_version(), "0.2.0");
    assert!(!old.per_object().expect("no describe: one call"));
    assert!(new.per_object().expect("describe answers"));

    let texts = texts(&mk_workloads(1000, &filler_2kb()));
    let config = config_of("set-labels");
    let from_old = old
        .transform_text(&mk_ctx(), &config, &texts)
        .expect("the 0.1.0 build runs");
    let from_new = new
        .transform_text(&mk_ctx(), &config, &texts)
        .expect("the 0.2.0 build runs");
    assert_eq!(from_old.objects, from_new.objects);
    assert_eq!(from_old.unchanged, from_new.unchanged);
    assert!(
        from_old.unchanged.iter().all(|same| !same),
        "set-labels labels everything"
    );
    // One call of 1,000 objects needs more memory than any part of them.
    assert!(
        from_old.memory_bytes > from_new.memory_bytes,
        "0.1.0 in one call: {} bytes; 0.2.0 in parts: {} bytes",
        from_old.memory_bytes,
        from_new.memory_bytes
    );

    let bad = json!({"labels": {"bad key!": "x"}});
    let old_diags = old.validate_config(&bad).expect("validates");
    assert_eq!(old_diags, new.validate_config(&bad).expect("validates"));
    assert_eq!(old_diags.len(), 1, "{old_diags:?}");
}

#[test]
fn per_object_parts_join_to_what_one_call_gives() {
    let objects = mk_workloads(1000, &filler_2kb());
    let texts = texts(&objects);
    for (name, config) in plugin_configs() {
        let plugin = load(name, limits());
        let per_object = plugin.per_object().expect("describe answers");
        assert_eq!(
            per_object,
            native(name).expect("first-party").per_object,
            "{name}"
        );
        // policy-patch reports the first failing patch across all objects: not per object.
        assert_eq!(per_object, name != "policy-patch", "{name}");
        let config = config.to_string();
        let (parts, whole) = in_parts_and_whole(&plugin, &config, &texts);
        let (parts, whole) = (parts.expect("runs"), whole.expect("runs"));
        assert_eq!(parts.objects, whole.objects, "{name}");
        assert_eq!(parts.unchanged, whole.unchanged, "{name}");
        assert_eq!(parts.diagnostics, whole.diagnostics, "{name}");
        if per_object {
            assert!(
                parts.memory_bytes < whole.memory_bytes,
                "{name}: parts ran ({} bytes at most) instead of one call ({} bytes)",
                parts.memory_bytes,
                whole.memory_bytes
            );
        }
    }

    // Diagnostics from every part, in list order, capped as one call's are: inject-sidecar run
    // again on its own output finds the container on each of the 600 pod templates.
    let plugin = load("inject-sidecar", limits());
    let config = config_of("inject-sidecar");
    let once = plugin
        .transform_text(&mk_ctx(), &config, &texts)
        .expect("runs");
    let (parts, whole) = in_parts_and_whole(&plugin, &config, &once.objects);
    let (parts, whole) = (parts.expect("runs"), whole.expect("runs"));
    assert!(parts.unchanged.iter().all(|same| *same));
    assert_eq!(parts.diagnostics.len(), capstan_wasm::MAX_DIAGNOSTICS + 1);
    assert_eq!(parts.diagnostics, whole.diagnostics);
}

#[test]
fn the_first_failing_part_is_the_error() {
    let hostile = load("hostile", limits());
    assert!(hostile.per_object().expect("describe answers"));
    let texts = texts(&mk_workloads(1000, &filler_2kb()));
    let fail_on = |names: &[&str]| json!({"mode": "fail-on", "names": names}).to_string();

    // Objects #300 and #900 are in different parts: the earlier one is the error, as in one call.
    let config = fail_on(&["d-900", "d-300"]);
    let (err, whole) = in_parts_and_whole(&hostile, &config, &texts);
    let (err, whole) = (err.expect_err("fails"), whole.expect_err("fails"));
    assert!(matches!(err, Error::PluginFailed { .. }), "{err}");
    assert!(
        err.to_string().contains("failed on purpose at d-300"),
        "{err}"
    );
    assert_eq!(err.to_string(), whole.to_string());

    // A failure in the last part only still fails the call: nothing is returned in part.
    let err = hostile
        .transform_text(&mk_ctx(), &fail_on(&["d-995"]), &texts)
        .expect_err("fails");
    assert!(
        err.to_string().contains("failed on purpose at d-995"),
        "{err}"
    );

    // With no failure, every object comes back, in order.
    let out = hostile
        .transform_text(&mk_ctx(), &fail_on(&[]), &texts)
        .expect("runs");
    assert_eq!(out.objects, texts);
}

#[test]
fn what_a_caller_reads_of_returned_objects_is_read_of_the_changed_ones_in_parts_and_whole() {
    let texts = texts(&mk_workloads(1000, &filler_2kb()));
    let plugin = load("inject-sidecar", limits());
    let config = config_of("inject-sidecar");
    // What the guard reads so: the head the check kept of each changed object.
    let read = |head: &capstan_wasm::ObjectHead<'_>| {
        let text = |v: Option<&serde_json::value::RawValue>| v.map(|v| v.get().to_owned());
        (text(head.kind), text(head.metadata))
    };
    let parts = plugin
        .transform_text_read(&mk_ctx(), &config, &texts, &read)
        .expect("runs");
    let whole = plugin
        .clone()
        .in_one_call()
        .transform_text_read(&mk_ctx(), &config, &texts, &read)
        .expect("runs");
    assert_eq!(parts.read, whole.read);
    let expected: Vec<_> = parts
        .objects
        .iter()
        .zip(&parts.unchanged)
        .map(|(text, same)| {
            (!same).then(|| read(&capstan_wasm::check_json_object_head(text).expect("checked")))
        })
        .collect();
    assert_eq!(parts.read, expected);
    // Three in five objects have a pod template and get the sidecar; the rest come back as
    // they were handed and are not read.
    let changed = parts.read.iter().flatten().count();
    assert_eq!(changed, 600);
    let workloads = [r#""Deployment""#, r#""StatefulSet""#, r#""CronJob""#];
    assert!(parts.read.iter().flatten().all(|(kind, metadata)| {
        kind.as_deref().is_some_and(|k| workloads.contains(&k)) && metadata.is_some()
    }));
}

#[test]
fn the_output_guard_judges_what_a_per_object_plugin_returns_in_parts() {
    use capstan::postrender::{Pipeline, PostRenderer};
    use capstan_engine::{GuardPolicy, OutputGuard, Rule};

    // 1,000 objects run as parts; what each part returns is read where it is checked.
    let texts = texts(&mk_workloads(1000, &filler_2kb()));
    let guard = || OutputGuard::new("apps", "apps", GuardPolicy::default()).owned_by("rel", "rel");
    let run = |mode: &str| {
        let plugin = load("hostile", limits());
        assert!(plugin.per_object().expect("describe answers"));
        let config = json!({"mode": mode, "names": []});
        Pipeline::new(vec![PostRenderer::wasm(plugin, config)])
            .with_guard(guard())
            .run_texts_to_stream(&mk_ctx(), texts.clone())
    };
    let refused = |mode: &str| {
        let err = run(mode).expect_err("refused");
        err.violation()
            .unwrap_or_else(|| panic!("{mode}: not a guard violation: {err}"))
            .rule
    };
    assert_eq!(refused("escape-namespace"), Rule::Namespace);
    assert_eq!(refused("disown"), Rule::Ownership);
    // Every part returns twice what it got: the joined output is compared as one list.
    assert_eq!(refused("duplicate"), Rule::Duplicate);
    let (stream, _) = run("fail-on").expect("returned as handed: allowed");
    assert_eq!(stream.matches("\nkind: ").count(), 1000);
}
