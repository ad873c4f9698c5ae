//! Hostile inputs through the `capstan` binary, generated at test time (nothing big is
//! committed): each ends in its own named error, within its limit, with nothing on stdout.
//! Plugin-side hostility (sleeping guests, exits, forged logs) is in `sandbox.rs`.

use std::process::Output;

use crate::cli::{capstan, text};

/// Exit code 1 (or 2 for argument errors), the `expected` text on stderr, nothing on stdout,
/// and no panic.
fn assert_refused(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "must fail: {stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic is not an error: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        text(&out.stdout)
    );
}

#[test]
fn absurd_timeout_is_an_argument_error_not_a_panic() {
    for (timeout, expected) in [
        (
            "99999999999999999999999s",
            "invalid duration \"99999999999999999999999s\"",
        ),
        ("10m", "longer than the largest plugin timeout, 300s"),
    ] {
        let out = capstan(&["transform", "--timeout", timeout], "a: 1\n");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert_refused(&out, expected);
    }
}

/// Nine levels of nine aliases each: a billion "lol"s if expanded.
fn billion_laughs() -> String {
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n");
    text.push_str("  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let mut prev = 'a';
    for name in "bcdefghi".chars() {
        let items = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("  {name}: &{name} [{items}]\n"));
        prev = name;
    }
    text
}

#[test]
fn billion_laughs_stream_is_excessive_aliasing() {
    let out = capstan(&["transform"], &billion_laughs());
    assert_eq!(out.status.code(), Some(1));
    assert_refused(&out, "document contains excessive aliasing");
}

#[test]
fn nesting_past_go_yamls_depth_is_refused() {
    let deep = format!("a:\n{}1\n", "- ".repeat(10_001));
    let out = capstan(&["transform"], &deep);
    assert_eq!(out.status.code(), Some(1));
    assert_refused(&out, "exceeded max depth of 10000");
}
