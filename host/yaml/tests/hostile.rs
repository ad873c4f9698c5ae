//! Hostile manifest streams, generated at test time: each is refused with go-yaml v2's own words
//! (what kubectl says about the same bytes), quickly and without growing memory or the stack.

use std::time::{Duration, Instant};

use serde_json::Value;

/// A billion-laughs document: nine levels, each an alias list of the previous nine times.
fn billion_laughs() -> String {
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\n");
    text.push_str(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for name in "bcdefghi".chars() {
        let items = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{items}]\n"));
        prev = name;
    }
    text
}

#[test]
fn billion_laughs_is_excessive_aliasing() {
    let started = Instant::now();
    let err = capstan_yaml::parse_stream(&billion_laughs()).expect_err("must be refused");
    assert!(
        err.to_string()
            .contains("document contains excessive aliasing"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn moderate_aliasing_is_fine() {
    let text = "a: &a {x: 1}\nb: *a\nc: [*a, *a]\n";
    let docs = capstan_yaml::parse_stream(text).expect("ordinary aliases");
    assert_eq!(docs[0]["c"][1]["x"], 1);
}

/// `n` nested block sequences on one line (`- - - … 1`): every `- ` opens a level.
fn nested_block_seqs(n: usize) -> String {
    format!("a:\n{}1\n", "- ".repeat(n))
}

#[test]
fn nesting_past_go_yamls_limit_is_refused() {
    let err = capstan_yaml::parse_stream(&nested_block_seqs(10_001)).expect_err("too deep");
    assert!(
        err.to_string().contains("exceeded max depth of 10000"),
        "{err}"
    );
    // Flow nesting stops earlier, at the parser's own recursion limit: refused, not a crash.
    let flow = format!("a: {}{}\n", "[".repeat(10_001), "]".repeat(10_001));
    let err = capstan_yaml::parse_stream(&flow).expect_err("too deep");
    assert!(
        err.to_string().contains("recursion limit exceeded"),
        "{err}"
    );
}

#[test]
fn deep_nesting_within_the_limit_does_not_overflow_the_stack() {
    // Test threads have small stacks: reading, writing and dropping 9,000 levels must fit.
    let docs = capstan_yaml::parse_stream(&nested_block_seqs(9_000)).expect("within the limit");
    let mut depth = 0;
    let mut v: &Value = &docs[0]["a"];
    while let Value::Array(items) = v {
        depth += 1;
        v = &items[0];
    }
    assert_eq!(depth, 9_000);
    let written = capstan_yaml::to_stream(&docs);
    // Compared as text: `Value`'s own `==` recurses once per level with no stack check.
    let reread = capstan_yaml::parse_stream(&written).expect("re-reads");
    assert_eq!(capstan_yaml::to_stream(&reread), written);
}
