//! A port of the parts of libyaml's emitter (as carried by go-yaml v2) that `yaml.Marshal` of
//! plain data reaches: block mappings and sequences, `{}`/`[]` for empty ones, scalar style
//! selection, quoting and escaping, and folding of long scalars at column 80.

use std::borrow::Cow;

use capstan_strconv::{format_float, format_json_float};
use capstan_yaml::{
    Node, ScalarKind, is_base60_float, is_break, is_printable, resolve_kind, resolve_plain,
    write_escape,
};

use super::sort::sort_by_key_less;

const BEST_INDENT: i32 = 2;
const BEST_WIDTH: usize = 80;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// A scalar ready for the emitter: its text (borrowed from the node when it is a string) and
/// the style go-yaml's encoder asks for.
struct Scalar<'a> {
    text: Cow<'a, str>,
    style: Style,
}

#[derive(Default)]
struct Analysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// What [`analyze`] learns from one pass over a scalar's characters.
#[derive(Debug, PartialEq, Eq)]
struct Flags {
    block_ind: bool,
    flow_ind: bool,
    line_breaks: bool,
    special: bool,
    leading_space: bool,
    leading_break: bool,
    trailing_space: bool,
    trailing_break: bool,
    break_space: bool,
    space_break: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar` loop over the characters of a non-empty scalar: the
/// flags so far and what the previous character was.
struct Scan {
    f: Flags,
    preceded_by_ws: bool,
    prev_space: bool,
    prev_break: bool,
}

impl Scan {
    fn new() -> Self {
        Scan {
            f: Flags {
                block_ind: false,
                flow_ind: false,
                line_breaks: false,
                special: false,
                leading_space: false,
                leading_break: false,
                trailing_space: false,
                trailing_break: false,
                break_space: false,
                space_break: false,
            },
            preceded_by_ws: true,
            prev_space: false,
            prev_break: false,
        }
    }

    /// One character `c` at position `i` (in characters), followed by `next`.
    fn step(&mut self, i: usize, c: char, next: Option<char>) {
        let f = &mut self.f;
        let last = next.is_none();
        let followed_by_ws = next.is_none_or(is_blank);
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    f.flow_ind = true;
                    f.block_ind = true;
                }
                '?' | ':' => {
                    f.flow_ind = true;
                    if followed_by_ws {
                        f.block_ind = true;
                    }
                }
                '-' if followed_by_ws => {
                    f.flow_ind = true;
                    f.block_ind = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => f.flow_ind = true,
                ':' => {
                    f.flow_ind = true;
                    if followed_by_ws {
                        f.block_ind = true;
                    }
                }
                '#' if self.preceded_by_ws => {
                    f.flow_ind = true;
                    f.block_ind = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            f.special = true;
        }
        if c == ' ' {
            if i == 0 {
                f.leading_space = true;
            }
            if last {
                f.trailing_space = true;
            }
            if self.prev_break {
                f.break_space = true;
            }
            self.prev_space = true;
            self.prev_break = false;
        } else if is_break(c) {
            f.line_breaks = true;
            if i == 0 {
                f.leading_break = true;
            }
            if last {
                f.trailing_break = true;
            }
            if self.prev_space {
                f.space_break = true;
            }
            self.prev_space = false;
            self.prev_break = true;
        } else {
            self.prev_space = false;
            self.prev_break = false;
        }
        self.preceded_by_ws = is_blank(c) || is_break(c) || c == '\0';
    }
}

/// [`Scan`] over any text.
fn scan(chars: impl Iterator<Item = char>) -> Flags {
    let mut chars = chars.peekable();
    let mut s = Scan::new();
    let mut i = 0;
    while let Some(c) = chars.next() {
        s.step(i, c, chars.peek().copied());
        i += 1;
    }
    s.f
}

/// Whether [`Scan::step`] on this ASCII byte, anywhere but first, only clears the previous-
/// character state: printable, not blank or a break, and no indicator after the first position.
const fn plain_tail(b: u8) -> bool {
    matches!(b, 0x21..=0x7E) && !matches!(b, b',' | b'?' | b'[' | b']' | b'{' | b'}' | b':' | b'#')
}

const PLAIN_TAIL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = plain_tail(b as u8);
        b += 1;
    }
    t
};

/// [`scan`] of ASCII text, a byte at a time: the bytes [`plain_tail`] accepts (most of any key
/// or value) skip the full step.
fn scan_ascii(bytes: &[u8]) -> Flags {
    let mut s = Scan::new();
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 && PLAIN_TAIL[usize::from(b)] {
            s.preceded_by_ws = false;
            s.prev_space = false;
            s.prev_break = false;
            continue;
        }
        s.step(i, char::from(b), bytes.get(i + 1).map(|&n| char::from(n)));
    }
    s.f
}

fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut f = if value.is_ascii() {
        scan_ascii(value.as_bytes())
    } else {
        scan(value.chars())
    };
    if value.starts_with("---") || value.starts_with("...") {
        f.block_ind = true;
        f.flow_ind = true;
    }
    let mut a = Analysis {
        multiline: f.line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if f.leading_space || f.leading_break || f.trailing_space || f.trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if f.trailing_space {
        a.block_allowed = false;
    }
    if f.break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if f.space_break || f.special {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if f.line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if f.flow_ind {
        a.flow_plain_allowed = false;
    }
    if f.block_ind {
        a.block_plain_allowed = false;
    }
    a
}

struct Emitter {
    out: String,
    column: usize,
    indent: i32,
    indents: Vec<i32>,
    whitespace: bool,
    indention: bool,
    flow_level: usize,
    mapping_context: bool,
    simple_key_context: bool,
}

impl Emitter {
    fn new() -> Self {
        Emitter {
            out: String::new(),
            column: 0,
            indent: -1,
            indents: Vec::new(),
            whitespace: true,
            indention: true,
            flow_level: 0,
            mapping_context: false,
            simple_key_context: false,
        }
    }

    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break_char(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = self.indent.max(0) as usize;
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, ind: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in ind.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn emit_node(&mut self, node: &Node, mapping: bool, simple_key: bool) {
        self.mapping_context = mapping;
        self.simple_key_context = simple_key;
        match node {
            Node::Seq(items) if items.is_empty() || self.flow_level > 0 => {
                self.write_indicator("[", true, true, false);
                self.write_indicator("]", false, false, false);
            }
            Node::Map(items) if items.is_empty() || self.flow_level > 0 => {
                self.write_indicator("{", true, true, false);
                self.write_indicator("}", false, false, false);
            }
            Node::Seq(items) => {
                let indentless = self.mapping_context && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.emit_node(item, false, false);
                }
                self.pop_indent();
            }
            Node::Map(items) => {
                self.increase_indent(false, false);
                for (k, v) in items {
                    self.write_indent();
                    // A scalar key is analysed once, for the simple-key test and its style.
                    match scalar_of(k) {
                        Some(key) => {
                            let a = analyze(&key.text);
                            if !a.multiline && key.text.len() <= 128 {
                                self.mapping_context = false;
                                self.simple_key_context = true;
                                self.emit_scalar(&key, &a);
                                self.write_indicator(":", false, false, false);
                            } else {
                                self.write_indicator("?", true, false, true);
                                self.mapping_context = true;
                                self.simple_key_context = false;
                                self.emit_scalar(&key, &a);
                                self.write_indent();
                                self.write_indicator(":", true, false, true);
                            }
                        }
                        None => {
                            let simple = matches!(k, Node::Seq(x) if x.is_empty())
                                || matches!(k, Node::Map(x) if x.is_empty());
                            if simple {
                                self.emit_node(k, false, true);
                                self.write_indicator(":", false, false, false);
                            } else {
                                self.write_indicator("?", true, false, true);
                                self.emit_node(k, true, false);
                                self.write_indent();
                                self.write_indicator(":", true, false, true);
                            }
                        }
                    }
                    self.emit_node(v, true, false);
                }
                self.pop_indent();
            }
            scalar => {
                if let Some(s) = scalar_of(scalar) {
                    let a = analyze(&s.text);
                    self.emit_scalar(&s, &a);
                }
            }
        }
    }

    fn emit_scalar(&mut self, s: &Scalar<'_>, a: &Analysis) {
        let mut style = s.style;
        if self.simple_key_context && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain {
            if (self.flow_level > 0 && !a.flow_plain_allowed)
                || (self.flow_level == 0 && !a.block_plain_allowed)
            {
                style = Style::Single;
            }
            if s.text.is_empty() && (self.flow_level > 0 || self.simple_key_context) {
                style = Style::Single;
            }
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal
            && (!a.block_allowed || self.flow_level > 0 || self.simple_key_context)
        {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !self.simple_key_context;
        match style {
            Style::Plain => self.write_plain(&s.text, allow_breaks),
            Style::Single => self.write_single(&s.text, allow_breaks),
            Style::Double => self.write_double(&s.text, allow_breaks),
            Style::Literal => self.write_literal(&s.text),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let bytes = value.as_bytes();
        let (mut spaces, mut breaks) = (false, false);
        for (i, c) in value.char_indices() {
            if c == ' ' {
                let next_space = bytes.get(i + 1) == Some(&b' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_space {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break_char(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, value: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let bytes = value.as_bytes();
        let (mut spaces, mut breaks) = (false, false);
        for (i, c) in value.char_indices() {
            // A space is one byte: the next character starts at `i + 1`.
            if c == ' ' {
                let next_space = bytes.get(i + 1) == Some(&b' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < bytes.len()
                    && !next_space
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break_char(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double(&mut self, value: &str, allow_breaks: bool) {
        let mut spaces = false;
        self.write_indicator("\"", true, false, false);
        let bytes = value.as_bytes();
        // go-yaml's `is_bom(value, i)` looks at the start of the value, not at `i`: a value
        // starting with a BOM has every character escaped.
        let starts_with_bom = value.starts_with('\u{FEFF}');
        for (i, c) in value.char_indices() {
            if starts_with_bom
                || !is_printable(c)
                || c == '\u{FEFF}'
                || is_break(c)
                || c == '"'
                || c == '\\'
            {
                let before = self.out.len();
                write_escape(&mut self.out, c);
                // The escape is ASCII: one column a byte.
                self.column += self.out.len() - before;
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < bytes.len()
                {
                    self.write_indent();
                    if bytes.get(i + 1) == Some(&b' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints: an indentation hint when the text starts with a space or break,
        // then the chomping indicator.
        let first = value.chars().next();
        if matches!(first, Some(c) if c == ' ' || is_break(c)) {
            let hint = char::from_digit(BEST_INDENT as u32, 10).unwrap_or('2');
            self.write_indicator(&hint.to_string(), false, false, false);
        }
        let mut rev = value.chars().rev();
        let chomp = match (rev.next(), rev.next()) {
            (None, _) => Some('-'),
            (Some(last), _) if !is_break(last) => Some('-'),
            (Some(_), None) => Some('+'),
            (Some(_), Some(prev)) if is_break(prev) => Some('+'),
            _ => None,
        };
        if let Some(ch) = chomp {
            self.write_indicator(&ch.to_string(), false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in value.chars() {
            if is_break(c) {
                self.write_break_char(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// The text and requested style of a scalar node, as go-yaml v2's encoder chooses them.
fn scalar_of(node: &Node) -> Option<Scalar<'_>> {
    let plain = |text: String| {
        Some(Scalar {
            text: Cow::Owned(text),
            style: Style::Plain,
        })
    };
    match node {
        Node::Null => plain("null".to_owned()),
        Node::Bool(b) => plain(b.to_string()),
        Node::Int(i) => plain(i.to_string()),
        Node::Uint(u) => plain(u.to_string()),
        Node::Float(f) => plain(match format_float(*f, 'g', -1).as_str() {
            "+Inf" => ".inf".to_owned(),
            "-Inf" => "-.inf".to_owned(),
            "NaN" => ".nan".to_owned(),
            s => s.to_owned(),
        }),
        Node::Str(s) => {
            let kind = resolve_kind(s);
            let can_plain = kind == ScalarKind::Str && !is_base60_float(s);
            let style = if s.contains('\n') {
                Style::Literal
            } else if can_plain {
                Style::Plain
            } else {
                Style::Double
            };
            Some(Scalar {
                text: Cow::Borrowed(s),
                style,
            })
        }
        Node::Seq(_) | Node::Map(_) => None,
    }
}

/// Emits one YAML document the way go-yaml v2's `Marshal` does (always ends in a newline).
/// Mapping keys are emitted in the order given.
pub fn to_yaml_document(node: &Node) -> String {
    let mut e = Emitter::new();
    e.emit_node(node, false, false);
    // Document end: an implicit end still breaks the last line.
    e.indent = -1;
    e.write_indent();
    e.out
}

/// Turns JSON data into the node go-yaml v2 reads back from `json.Marshal`'s text: numbers are
/// re-resolved from their JSON spelling (so `1000000.0` becomes the int `1000000`) and map keys
/// are put in go-yaml's sort order.
pub fn json_to_node(v: &serde_json::Value) -> Node {
    match v {
        serde_json::Value::Null => Node::Null,
        serde_json::Value::Bool(b) => Node::Bool(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Node::Int(i)
            } else if let Some(u) = n.as_u64() {
                Node::Uint(u)
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                match format_json_float(f) {
                    Some(text) => resolve_plain(&text).1,
                    None => Node::Float(f),
                }
            }
        }
        serde_json::Value::String(s) => Node::Str(s.clone()),
        serde_json::Value::Array(items) => Node::Seq(items.iter().map(json_to_node).collect()),
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, Node)> = map
                .iter()
                .map(|(k, v)| (k.clone(), json_to_node(v)))
                .collect();
            sort_by_key_less(&mut entries);
            Node::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (Node::Str(k), v))
                    .collect(),
            )
        }
    }
}

/// `sigs.k8s.io/yaml.Marshal` of data that has already been through `json.Marshal`: the text
/// `toYaml` starts from (with its trailing newline).
pub fn json_to_yaml(v: &serde_json::Value) -> String {
    to_yaml_document(&json_to_node(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_styles() {
        let v = json!({"b": [1, "two", {"x": null}], "a": {"c": "yes", "d": "", "e": []}, "m": "l1\nl2\n"});
        assert_eq!(
            json_to_yaml(&v),
            "a:\n  c: \"yes\"\n  d: \"\"\n  e: []\nb:\n- 1\n- two\n- x: null\nm: |\n  l1\n  l2\n"
        );
    }

    #[test]
    fn numbers_round_trip_through_json() {
        let v = json!({"a": 1_000_000.0, "b": 1.5, "c": 1_234_567.5, "d": 1e21});
        assert_eq!(
            json_to_yaml(&v),
            "a: 1000000\nb: 1.5\nc: 1.2345675e+06\nd: 1e+21\n"
        );
    }

    #[test]
    fn ascii_scan_agrees_with_the_character_scan() {
        // Every string of up to four characters over the ones the scan tells apart.
        let alphabet = [
            ' ', '\t', '\n', '\r', '\0', '\x7f', '#', ',', '?', '[', '}', ':', '-', '\'', '&', 'a',
        ];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let mut longer = Vec::new();
            for t in &texts {
                for c in alphabet {
                    let mut s = t.clone();
                    s.push(c);
                    assert_eq!(scan_ascii(s.as_bytes()), scan(s.chars()), "{s:?}");
                    longer.push(s);
                }
            }
            texts = longer;
        }
    }

    #[test]
    fn long_keys_and_folded_scalars_read_back_unchanged() {
        let words = "word  two ".repeat(12);
        let v = json!({
            "k".repeat(130): words,
            "s": format!("'{words}'"),
            "d": format!("\t{words}\u{e9}"),
            "l": format!("{words}\n{words}\n"),
            "p": words.trim_end(),
        });
        let text = json_to_yaml(&v);
        assert!(text.contains("\n? kkk"), "{text}");
        assert!(text.lines().all(|l| l.len() < 160), "{text}");
        assert_eq!(crate::yaml::parse_json_like(&text).ok(), Some(v), "{text}");
    }

    #[test]
    fn quoting() {
        let v = json!({"a": "foo: bar", "b": "- x", "c": "tab\there", "d": " lead", "e": "0755"});
        assert_eq!(
            json_to_yaml(&v),
            "a: 'foo: bar'\nb: '- x'\nc: \"tab\\there\"\nd: ' lead'\ne: \"0755\"\n"
        );
    }
}
