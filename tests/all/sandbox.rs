//! The sandbox holds: every hostile behaviour ends in its own named error, within its limit, with
//! no output; a guest sees no filesystem, environment, real clock or real randomness.

use std::time::{Duration, Instant};

use capstan_sdk::Context;
use capstan_tests::{load, root, runtime};
use capstan_wasm::{Error, Limits};
use serde_json::{Value, json};

fn mk_objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}}),
    ]
}

fn mk_ctx() -> Context {
    Context {
        release_name: "rel".into(),
        release_namespace: "ns".into(),
        ..Context::default()
    }
}

fn run_hostile(mode: &str, limits: Limits) -> Result<capstan_wasm::TransformOutput, Error> {
    load("hostile", limits).transform(&mk_ctx(), &json!({ "mode": mode }), &mk_objects())
}

#[test]
fn endless_loop_times_out() {
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let started = Instant::now();
    let err = run_hostile("loop", limits).expect_err("must not finish");
    let took = started.elapsed();
    assert!(matches!(err, Error::PluginTimedOut { .. }), "{err:?}");
    assert!(err.to_string().contains("\"hostile@sha256:"), "{err}");
    assert!(err.to_string().contains("timed out after 200ms"), "{err}");
    // Generous bound: the deadline is epoch-based (5 ms ticks); this only catches a missing deadline.
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// Runs `f` on a thread and fails the test if it has not finished after `limit` (so a guest
/// that hangs the host fails the test instead of hanging the test run).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}"))
}

#[test]
fn sleeping_does_not_take_real_time() {
    let started = Instant::now();
    let out = within(Duration::from_secs(20), || {
        run_hostile("sleep", Limits::default()).expect("a sleep returns at once: time is frozen")
    });
    assert_eq!(out.objects, mk_objects());
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "a 30 s sleep took {took:?}");
}

#[test]
fn sleeping_forever_times_out_within_the_limit() {
    let limits = Limits {
        timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let started = Instant::now();
    let err = within(Duration::from_secs(20), move || {
        run_hostile("sleep-forever", limits).expect_err("must not finish")
    });
    let took = started.elapsed();
    assert!(matches!(err, Error::PluginTimedOut { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out after 500ms"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn validate_config_runs_under_the_deadline() {
    let limits = Limits {
        timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let started = Instant::now();
    let err = within(Duration::from_secs(20), move || {
        load("hostile", limits)
            .check_config(&json!({"mode": "sleep-in-validate"}))
            .expect_err("must not finish")
    });
    let took = started.elapsed();
    assert!(matches!(err, Error::PluginTimedOut { .. }), "{err:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn exit_mid_transform_is_its_own_error() {
    let err = run_hostile("exit", Limits::default()).expect_err("exit is not a result");
    assert!(
        matches!(err, Error::PluginExited { code: 0, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("exited with status 0 instead of returning a result"),
        "{err}"
    );
}

#[test]
fn output_that_is_not_utf8_is_its_own_error() {
    // Safe Rust cannot return invalid UTF-8, so the marker string in the built component's data
    // is patched: its last two bytes become 0xFF 0xFE.
    let marker = b"capstan-hostile-not-utf8-marker~~";
    let mut bytes = std::fs::read(capstan_tests::guest("hostile")).expect("hostile guest");
    let at: Vec<usize> = bytes
        .windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "the marker is in the component's data once");
    bytes[at[0] + marker.len() - 2..at[0] + marker.len()].copy_from_slice(&[0xFF, 0xFE]);
    let plugin = runtime()
        .load("hostile", &bytes, Limits::default())
        .expect("a patched data segment is still a valid component");
    let err = plugin
        .transform(&mk_ctx(), &json!({"mode": "not-utf8"}), &mk_objects())
        .expect_err("invalid UTF-8 is not output");
    assert!(matches!(err, Error::PluginOutputNotUtf8 { .. }), "{err:?}");
    assert!(err.to_string().contains("\"hostile@sha256:"), "{err}");
    // The other modes of the patched component still work: only that output is refused.
    let fine = plugin
        .transform(&mk_ctx(), &json!({"mode": "sleep"}), &mk_objects())
        .expect("a sleep returns at once");
    assert_eq!(fine.objects, mk_objects());
}

#[test]
fn guest_stderr_cannot_forge_log_lines() {
    let err = run_hostile("forge-log", Limits::default()).expect_err("panics");
    let Error::PluginTrapped { message, .. } = &err else {
        panic!("expected PluginTrapped, got {err:?}");
    };
    assert!(
        !message.chars().any(char::is_control),
        "control characters reach the log: {message:?}"
    );
    assert!(message.contains("forged level=info"), "{message}");
    assert!(message.contains("\\u{7}"), "{message}");
    assert!(
        message.chars().count() <= capstan_wasm::MAX_GUEST_TEXT + 20,
        "{} chars",
        message.len()
    );
}

#[test]
fn diagnostics_are_capped_escaped_and_still_deny() {
    let err = run_hostile("diagnostic-flood", Limits::default()).expect_err("denied");
    let Error::Denied { diagnostics, .. } = &err else {
        panic!("expected Denied, got {err:?}");
    };
    assert_eq!(diagnostics.len(), capstan_wasm::MAX_DIAGNOSTICS + 1);
    assert!(diagnostics.iter().any(|d| d.message == "the real denial"));
    assert!(
        diagnostics
            .iter()
            .all(|d| !d.message.chars().any(char::is_control)),
        "control characters kept"
    );
    assert!(
        diagnostics
            .last()
            .is_some_and(|d| d.message.contains("9901 more diagnostics dropped")),
        "{:?}",
        diagnostics.last()
    );
}

#[test]
fn copying_past_hostcall_fuel_is_its_own_error() {
    let limits = Limits {
        memory_bytes: 1 << 30,
        max_output_bytes: 1 << 30,
        timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let err = run_hostile("fuel-bomb", limits).expect_err("too much to copy");
    assert!(matches!(err, Error::PluginHostcallFuel { .. }), "{err:?}");
    assert!(
        err.to_string().contains("host-call fuel exhausted"),
        "{err}"
    );
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let err = run_hostile("memory-bomb", limits).expect_err("must die");
    assert!(
        matches!(err, Error::PluginMemoryLimit { limit, .. } if limit == 16 << 20),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("exceeded its memory limit of 16777216 bytes"),
        "{err}"
    );
}

#[test]
fn output_bomb_is_too_large() {
    let limits = Limits {
        memory_bytes: 512 << 20,
        max_output_bytes: 8 << 20,
        ..Limits::default()
    };
    let err = run_hostile("output-bomb", limits).expect_err("must be cut off");
    match &err {
        Error::PluginOutputTooLarge { size, limit, .. } => {
            assert_eq!(*limit, 8 << 20);
            assert!(*size > 40 << 20, "size {size}");
        }
        other => panic!("expected PluginOutputTooLarge, got {other:?}"),
    }
}

#[test]
fn panic_traps_with_the_guest_message() {
    let err = run_hostile("panic", Limits::default()).expect_err("must trap");
    match &err {
        Error::PluginTrapped { message, .. } => {
            assert!(
                message.contains("hostile guest panicked on purpose"),
                "{message}"
            );
            assert!(message.contains("src/lib.rs"), "{message}");
        }
        other => panic!("expected PluginTrapped, got {other:?}"),
    }
}

#[test]
fn denial_is_its_own_error_and_names_object_and_field() {
    let err = run_hostile("deny", Limits::default()).expect_err("denied");
    match &err {
        Error::Denied { diagnostics, .. } => {
            assert_eq!(
                diagnostics[0].to_string(),
                "error: ConfigMap/ns/cm: metadata.name: denied on purpose"
            );
        }
        other => panic!("expected Denied, got {other:?}"),
    }
}

#[test]
fn bad_config_is_reported_with_its_field() {
    let plugin = load("hostile", Limits::default());
    let err = plugin
        .check_config(&json!({"mode": 3}))
        .expect_err("bad type");
    match &err {
        Error::BadConfig { diagnostics, .. } => {
            assert_eq!(diagnostics[0].field.as_deref(), Some("mode"))
        }
        other => panic!("expected BadConfig, got {other:?}"),
    }
    let err = plugin
        .transform(&mk_ctx(), &json!({"mode": "nonsense"}), &mk_objects())
        .expect_err("bad mode");
    assert!(
        err.to_string()
            .contains("config.mode: unknown mode \"nonsense\""),
        "{err}"
    );
}

#[test]
fn capabilities_are_absent_and_time_and_randomness_fixed() {
    let plugin = load("hostile", Limits::default());
    let first = plugin
        .transform(&mk_ctx(), &json!({"mode": "probe"}), &[])
        .expect("probe runs");
    let data = &first.objects[0]["data"];
    assert!(
        data["file"]
            .as_str()
            .is_some_and(|s| s.starts_with("error:")),
        "{data}"
    );
    assert!(
        data["dir"]
            .as_str()
            .is_some_and(|s| s.starts_with("error:")),
        "{data}"
    );
    assert_eq!(data["env"], "", "{data}");
    assert_eq!(data["clock"], "0", "{data}");
    assert_eq!(data["elapsed"], "0", "{data}");
    let second = plugin
        .transform(&mk_ctx(), &json!({"mode": "probe"}), &[])
        .expect("probe runs");
    assert_eq!(first, second, "the same input must give the same output");
}

fn load_fixture(file: &str) -> Error {
    let path = root().join("tests/hostile").join(file);
    runtime()
        .load_file(file, &path, Limits::default())
        .expect_err("fixture must be rejected")
}

#[test]
fn core_module_is_not_a_component() {
    let err = load_fixture("core-module.wat");
    assert!(matches!(err, Error::NotAComponent { .. }), "{err:?}");
    assert!(
        err.to_string().contains("build it for wasm32-wasip2"),
        "{err}"
    );
}

#[test]
fn wrong_interfaces_are_rejected_at_load() {
    for file in [
        "wrong-interface.wat",
        "no-exports.wat",
        "forbidden-import.wat",
    ] {
        let err = load_fixture(file);
        assert!(
            matches!(err, Error::WrongInterface { .. }),
            "{file}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("does not implement capstan:transform@0.2.0"),
            "{err}"
        );
    }
    let err = load_fixture("forbidden-import.wat");
    assert!(
        format!("{err}").contains("wasi:http/outgoing-handler"),
        "{err}"
    );
}

#[test]
fn garbage_is_not_compiled() {
    let err = runtime()
        .load("garbage", b"\0asm\x0d\0\x01\0garbage", Limits::default())
        .expect_err("invalid");
    assert!(matches!(err, Error::CompileModule { .. }), "{err:?}");
}

#[test]
fn limits_are_validated() {
    let limits = Limits {
        memory_bytes: 4 << 30,
        ..Limits::default()
    };
    let err = runtime()
        .load_file("hostile", &capstan_tests::guest("hostile"), limits)
        .expect_err("too much");
    assert!(matches!(err, Error::InvalidLimits { .. }), "{err:?}");
}

#[test]
fn oversized_input_is_refused_before_the_call() {
    let limits = Limits {
        max_input_bytes: 64,
        ..Limits::default()
    };
    let err =
        load("hostile", limits).transform(&mk_ctx(), &json!({"mode": "probe"}), &mk_objects());
    assert!(matches!(err, Err(Error::InputTooLarge { .. })), "{err:?}");
}

#[test]
fn disk_cache_ignores_tampered_artifacts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(capstan_tests::guest("hostile")).expect("guest built");
    let rt = capstan_wasm::Runtime::builder()
        .cache_dir(dir.path())
        .build()
        .expect("runtime");
    assert!(!rt.is_cached(&bytes), "empty cache");
    rt.precompile(&bytes).expect("compiles");
    assert!(rt.is_cached(&bytes), "written artifacts load");
    for entry in std::fs::read_dir(dir.path()).expect("readable") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "cwasm") {
            let mut data = std::fs::read(&path).expect("readable");
            let last = data.len() - 1;
            data[last] ^= 0xff;
            std::fs::write(&path, data).expect("writable");
        }
    }
    assert!(
        !rt.is_cached(&bytes),
        "a tampered artifact is never deserialized"
    );
    // And loading still works: it recompiles.
    rt.load("hostile", &bytes, Limits::default())
        .expect("recompiles");
}
