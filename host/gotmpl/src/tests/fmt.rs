//! Tests of the Go `fmt`/`strconv`/`encoding/json` emulation used by printing and `printf`.

use crate::fmt::{go_quote, go_unquote, parse_go_int};
use crate::{Value, sprint, sprintf, sprintln};

fn mk_list(items: &[Value]) -> Value {
    Value::list(items.to_vec())
}

#[test]
fn sprint_spacing_rules() {
    let args = [
        Value::Int(1),
        Value::Int(2),
        Value::from("a"),
        Value::Int(3),
        Value::Nil,
    ];
    assert_eq!(sprint(&args), "1 2a3 <nil>");
    assert_eq!(sprintln(&args), "1 2 a 3 <nil>\n");
}

#[test]
fn sprintf_verbs_and_errors() {
    let l = mk_list(&[Value::Int(1), Value::from("x")]);
    assert_eq!(
        sprintf("%v|%d|%s", &[l.clone(), l.clone(), l]),
        "[1 x]|[1 %!d(string=x)]|[%!s(int=1) x]"
    );
    assert_eq!(
        sprintf(
            "%-4s|%4s|%04d",
            &[Value::from("a"), Value::from("b"), Value::Int(-7)]
        ),
        "a   |   b|-007"
    );
    assert_eq!(sprintf("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
    assert_eq!(
        sprintf("%d", &[Value::Int(1), Value::Nil]),
        "1%!(EXTRA <nil>)"
    );
    assert_eq!(sprintf("%z", &[Value::Bool(true)]), "%!z(bool=true)");
    assert_eq!(sprintf("%6.2f%%", &[Value::Float(99.555)]), " 99.56%");
    assert_eq!(
        sprintf("%#v", &[Value::list(vec![Value::Nil, Value::Int(2)])]),
        "[]interface {}{interface {}(nil), 2}"
    );
}

#[test]
fn quoting_round_trips() {
    for s in [
        "plain",
        "tab\there",
        "quote\"back\\",
        "uni é ✓",
        "\u{1}\u{7f}",
    ] {
        let q = go_quote(s);
        assert_eq!(go_unquote(&q).as_deref(), Some(s), "{q}");
    }
    assert_eq!(go_quote("\u{1}"), "\"\\x01\"");
    assert_eq!(go_unquote("`raw\r\nx`").as_deref(), Some("raw\nx"));
    assert_eq!(go_unquote("\"\\q\""), None);
}

#[test]
fn go_integer_literals() {
    assert_eq!(parse_go_int("0x_1F"), Some(31));
    assert_eq!(parse_go_int("017"), Some(15));
    assert_eq!(parse_go_int("-9223372036854775808"), Some(i64::MIN));
    assert_eq!(parse_go_int("9223372036854775808"), None);
    assert_eq!(parse_go_int("1__0"), None);
    assert_eq!(parse_go_int("08"), None);
}
