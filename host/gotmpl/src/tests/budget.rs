//! Hostile templates: Go's own refusals where Go has them (`%!(BADWIDTH)`), the render budget
//! where Helm would die (out of memory, a stack overflow, or running forever).

use super::{mk_set, ok, render};
use crate::Value;

#[test]
fn huge_printf_widths_are_refused_like_go() {
    // The expected texts are what Helm 3.17 prints for the same templates.
    assert_eq!(ok(r#"{{ printf "%*d" 1000000000 1 }}"#), "%!(BADWIDTH)1");
    assert_eq!(ok(r#"{{ printf "%*d" -1000001 1 }}"#), "%!(BADWIDTH)1");
    assert_eq!(
        ok(r#"{{ printf "%.*f" 2000000 1.5 }}"#),
        "%!(BADPREC)1.500000"
    );
    assert_eq!(
        ok(r#"{{ printf "x%99999999dy" 1 }}"#),
        "x%!(NOVERB)%!(EXTRA int=1)"
    );
    assert_eq!(
        ok(r#"{{ printf "%.99999999f" 1.5 }}"#),
        "%!(NOVERB)%!(EXTRA float64=1.5)"
    );
    // A million is still allowed, as in Go.
    assert_eq!(ok(r#"{{ printf "%*d" 1000000 1 | len }}"#), "1000000");
}

fn budget_error(src: &str) -> String {
    let e = render(src, "{}").expect_err("must be refused");
    assert!(e.contains("render budget exceeded"), "{src}: {e}");
    e
}

#[test]
fn huge_strings_and_lists_are_over_budget() {
    let e = budget_error(r#"{{ repeat 100000000000 "ab" | len }}"#);
    assert!(
        e.contains("repeat would build a string of 200000000000 bytes"),
        "{e}"
    );
    assert!(
        render(r#"{{ repeat 9223372036854775807 "ab" }}"#, "{}")
            .expect_err("overflow")
            .contains("strings: Repeat output length overflow")
    );
    budget_error(r#"{{ indent 1000000000 "x" }}"#);
    budget_error(r#"{{ nindent 100000 (repeat 1000 "\n") }}"#);
    budget_error(r#"{{ randAlpha 1000000000 }}"#);
    let e = budget_error(r#"{{ range until 1000000000 }}{{ end }}"#);
    assert!(
        e.contains("until would build a list of 1000000000 elements"),
        "{e}"
    );
    budget_error(r#"{{ untilStep 0 2000000000 1 | len }}"#);
    budget_error(r#"{{ seq 1 2000000000 }}"#);
    // Ordinary sizes are untouched.
    assert_eq!(ok(r#"{{ repeat 3 "ab" }}"#), "ababab");
    assert_eq!(ok(r#"{{ until 3 }}"#), "[0 1 2]");
}

#[test]
fn exponential_output_and_fan_out_are_over_budget() {
    // Each level includes the next twice: 2^40 copies of "x" if nothing stopped it.
    let mut files = vec![("l40".to_owned(), "x".to_owned())];
    for i in (0..40).rev() {
        files.push((
            format!("l{i}"),
            format!(
                r#"{{{{ include "l{}" . }}}}{{{{ include "l{}" . }}}}"#,
                i + 1,
                i + 1
            ),
        ));
    }
    let defs: String = files
        .iter()
        .map(|(n, body)| format!(r#"{{{{ define "{n}" }}}}{body}{{{{ end }}}}"#))
        .collect();
    let mut set = mk_set(&[("defs", &defs), ("main", r#"{{ include "l0" . }}"#)]);
    // Small budgets keep the test quick (an unoptimised build runs ~1M steps/s); the defaults are
    // the same mechanism with larger numbers.
    set.set_render_budget(1 << 20, 1_000_000);
    let e = set
        .execute("main", &Value::Nil)
        .expect_err("too much output");
    assert!(
        e.to_string().ends_with(
            "template: l40: render budget exceeded: more than 1048576 bytes of output written"
        ),
        "{e}"
    );
    // The same fan-out with no output at all is stopped by the step budget.
    let mut files = vec![("m40".to_owned(), String::new())];
    for i in (0..40).rev() {
        files.push((
            format!("m{i}"),
            format!(
                r#"{{{{ $a := include "m{}" . }}}}{{{{ $b := include "m{}" . }}}}"#,
                i + 1,
                i + 1
            ),
        ));
    }
    let defs: String = files
        .iter()
        .map(|(n, body)| format!(r#"{{{{ define "{n}" }}}}{body}{{{{ end }}}}"#))
        .collect();
    let mut set = mk_set(&[("defs", &defs), ("main", r#"{{ include "m0" . }}"#)]);
    set.set_render_budget(1 << 20, 100_000);
    let e = set
        .execute("main", &Value::Nil)
        .expect_err("too many steps");
    assert!(
        e.to_string()
            .ends_with("render budget exceeded: more than 100000 template steps executed"),
        "{e}"
    );
}

#[test]
fn tpl_self_recursion_ends_in_an_error() {
    let set = mk_set(&[("main", r#"{{ tpl .Values.t . }}"#)]);
    let data = super::mk_data(r#"{"t": "{{ tpl .Values.t . }}"}"#);
    let e = set.execute("main", &data).expect_err("recursion");
    assert!(
        e.to_string().contains("exceeded maximum template depth"),
        "{e}"
    );
}
