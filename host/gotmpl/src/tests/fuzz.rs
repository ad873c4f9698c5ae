//! Robustness: pseudo-random template sources built from template tokens must parse or fail
//! with an error, and execute or fail with an error — never panic.

use super::{mk_data, mk_funcs};
use crate::TemplateSet;

const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "\n",
    ".",
    ".Values",
    ".a",
    ".b",
    "$",
    "$x",
    ":=",
    "=",
    "|",
    "(",
    ")",
    "\"s\"",
    "`r`",
    "'c'",
    "1",
    "-2",
    "3.5",
    "0x1F",
    "1e3",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "nil",
    "true",
    "printf",
    "\"%v %d\"",
    "len",
    "index",
    "eq",
    "and",
    "or",
    "not",
    "default",
    "list",
    "dict",
    "include",
    "tpl",
    "upper",
    "quote",
    "/*",
    "*/",
    ",",
    "é",
    "{",
    "}",
    "#",
    "\\",
    "\"",
    "'",
    "`",
    "%",
    "@",
    "trim",
    "toJson",
    "semverCompare",
    "urlParse",
    "\"%\"",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
}

#[test]
fn random_templates_never_panic() {
    let data = mk_data(r#"{"a": {"b": [1, "x", null]}, "b": "s"}"#);
    let mut rng = Lcg(0x5eed);
    let mut parsed = 0;
    for _ in 0..4000 {
        let len = 1 + rng.next() % 24;
        let mut src = String::new();
        for _ in 0..len {
            src.push_str(PIECES[rng.next() % PIECES.len()]);
        }
        let mut set = TemplateSet::new(mk_funcs());
        if set.parse("f", &src).is_ok() {
            parsed += 1;
            let _ = set.execute("f", &data);
        }
    }
    assert!(parsed > 100, "only {parsed} random templates parsed");
}
