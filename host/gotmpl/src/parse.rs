//! The parser, following Go's `text/template/parse/parse.go` step by step so that trees, variable
//! scoping, `else if`/`else with` desugaring and error messages (`template: x:3: unexpected "}" in
//! operand`) are the same.

mod lex;
mod node;

use foldhash::{HashMap, HashMapExt};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::func::FuncMap;
use lex::{Item, ItemType};
pub(crate) use node::{Arg, Branch, Command, Node, Number, Pipe, TemplateCall, Tree};

/// Names of functions every template has (Go's `builtins()`).
pub(crate) const BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Parses one source text called `name` into its trees (the top level plus every `define`/`block`);
/// also says whether a `define`/`block` of the text is called `name` (then the trees depend on the
/// name, not on the text alone).
fn parse_text(name: &str, src: Arc<str>, funcs: &FuncMap) -> Result<(Vec<Tree>, bool)> {
    let text = src.clone();
    let mut p = Parser {
        items: lex::lex(&src),
        i: 0,
        hw: 0,
        parse_name: Arc::from(name),
        text,
        funcs,
        vars: vec!["$".to_owned()],
        range_depth: 0,
        action_line: 0,
        tree_set: HashMap::new(),
        order: Vec::new(),
        top_shared: false,
    };
    p.parse_top(name)?;
    let defines_name = p.top_shared;
    let mut out = Vec::with_capacity(p.order.len());
    for n in p.order {
        if let Some(t) = p.tree_set.remove(&n) {
            out.push(t);
        }
    }
    Ok((out, defines_name))
}

/// Parsed texts by their text, for one function map: a chart tree parses the same text many
/// times (every subchart vendors its own copy of a library such as Bitnami's `common`, and
/// `tpl` renders the same value again and again), and lexing and parsing were a third of a
/// render. A hit gives exactly the trees a fresh parse under the new name would give: the
/// nodes are shared, the file name (`ParseName`, used in error locations) is the new one, and
/// a text with a `define` named like its file is always parsed afresh (Go's `AddParseTree`
/// rules then depend on the name). Parse errors are not kept.
#[derive(Debug, Default)]
pub(crate) struct ParseCache {
    texts: Mutex<CachedTexts>,
}

#[derive(Debug, Default)]
pub(crate) struct CachedTexts {
    by_text: HashMap<Arc<str>, Arc<ParsedText>>,
    /// Bytes of text held, bounded by [`ParseCache::MAX_BYTES`].
    bytes: usize,
}

impl CachedTexts {
    /// How many distinct texts are kept.
    #[cfg(test)]
    pub(crate) fn by_text_len(&self) -> usize {
        self.by_text.len()
    }
}

/// The trees of one text, in Go's order; `None` names the top level (the file's own name).
#[derive(Debug)]
struct ParsedText {
    text: Arc<str>,
    trees: Vec<(Option<String>, Arc<Vec<Node>>)>,
}

impl ParseCache {
    /// Most bytes of text kept: `tpl` may parse many large generated strings in one render.
    const MAX_BYTES: usize = 32 << 20;

    pub(crate) fn texts(&self) -> std::sync::MutexGuard<'_, CachedTexts> {
        self.texts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Parses `src` as the file `name`, reusing an earlier parse of the same text.
    pub(crate) fn parse(&self, name: &str, src: &str, funcs: &FuncMap) -> Result<Vec<Tree>> {
        let hit = self.texts().by_text.get(src).cloned();
        if let Some(hit) = hit {
            let parse_name: Arc<str> = Arc::from(name);
            return Ok(hit
                .trees
                .iter()
                .map(|(n, root)| Tree {
                    name: n.clone().unwrap_or_else(|| name.to_owned()),
                    parse_name: parse_name.clone(),
                    text: hit.text.clone(),
                    root: root.clone(),
                })
                .collect());
        }
        let (trees, defines_name) = parse_text(name, Arc::from(src), funcs)?;
        if !defines_name {
            let mut texts = self.texts();
            if texts.bytes + src.len() <= Self::MAX_BYTES {
                let text = match trees.first() {
                    Some(t) => t.text.clone(),
                    None => Arc::from(src),
                };
                let parsed = ParsedText {
                    text: text.clone(),
                    trees: trees
                        .iter()
                        .map(|t| ((t.name != name).then(|| t.name.clone()), t.root.clone()))
                        .collect(),
                };
                texts.bytes += src.len();
                texts.by_text.insert(text, Arc::new(parsed));
            }
        }
        Ok(trees)
    }
}

struct Parser<'a> {
    items: Vec<Item<'a>>,
    i: usize,
    /// One past the furthest item fetched (Go's `token[0]`, whose line errors report).
    hw: usize,
    parse_name: Arc<str>,
    text: Arc<str>,
    funcs: &'a FuncMap,
    vars: Vec<String>,
    range_depth: usize,
    action_line: usize,
    tree_set: HashMap<String, Tree>,
    order: Vec<String>,
    /// The top level was added where a `define` of the same name already was.
    top_shared: bool,
}

type PResult<T> = std::result::Result<T, Error>;

enum Parsed {
    Node(Node),
    End,
    Else,
}

impl<'a> Parser<'a> {
    fn item(&self, i: usize) -> &Item<'a> {
        let last = self.items.len() - 1;
        &self.items[i.min(last)]
    }

    fn next(&mut self) -> Item<'a> {
        let it = self.item(self.i).clone();
        self.i += 1;
        self.hw = self.hw.max(self.i);
        it
    }

    fn peek(&mut self) -> Item<'a> {
        self.hw = self.hw.max(self.i + 1);
        self.item(self.i).clone()
    }

    fn backup(&mut self) {
        self.i -= 1;
    }

    fn next_non_space(&mut self) -> Item<'a> {
        loop {
            let it = self.next();
            if it.typ != ItemType::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'a> {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn errorf(&self, msg: impl std::fmt::Display) -> Error {
        let line = self.item(self.hw.saturating_sub(1)).line;
        Error::ParseTemplate {
            message: format!("template: {}:{line}: {msg}", self.parse_name),
        }
    }

    fn unexpected(&self, token: &Item<'_>, context: &str) -> Error {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.errorf(format!("{token}{extra}"));
        }
        self.errorf(format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> PResult<Item<'a>> {
        let token = self.next_non_space();
        if token.typ != expected {
            return Err(self.unexpected(&token, context));
        }
        Ok(token)
    }

    fn new_tree(&self, name: String, root: Vec<Node>) -> Tree {
        Tree {
            name,
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root: Arc::new(root),
        }
    }

    /// Go's `Tree.add`.
    fn add(&mut self, tree: Tree) -> PResult<()> {
        match self.tree_set.get(&tree.name) {
            Some(old) if !old.is_empty() => {
                if !tree.is_empty() {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        crate::fmt::go_quote(&tree.name)
                    )));
                }
                Ok(())
            }
            Some(_) => {
                self.tree_set.insert(tree.name.clone(), tree);
                Ok(())
            }
            None => {
                self.order.push(tree.name.clone());
                self.tree_set.insert(tree.name.clone(), tree);
                Ok(())
            }
        }
    }

    fn parse_top(&mut self, name: &str) -> PResult<()> {
        let mut root = Vec::new();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let save = self.i;
                self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.i = save;
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                Parsed::End => return Err(self.errorf("unexpected {{end}}")),
                Parsed::Else => return Err(self.errorf("unexpected {{else}}")),
            }
        }
        self.top_shared = self.tree_set.contains_key(name);
        let tree = self.new_tree(name.to_owned(), root);
        self.add(tree)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let token = self.next_non_space();
        if token.typ != ItemType::String && token.typ != ItemType::RawString {
            return Err(self.unexpected(&token, CONTEXT));
        }
        let name = self.unquote(&token.val)?;
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let (root, end) = self.item_list()?;
        if let Parsed::Else = end {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {CONTEXT}")));
        }
        let tree = self.new_tree(name, root);
        self.add(tree)?;
        self.vars = saved_vars;
        Ok(())
    }

    fn unquote(&self, quoted: &str) -> PResult<String> {
        crate::fmt::go_unquote(quoted).ok_or_else(|| self.errorf("invalid syntax"))
    }

    /// Go's `itemList`: nodes up to (and returning) the closing `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                other => return Ok((list, other)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text(token.val.into_owned()))),
            ItemType::LeftDelim => {
                self.action_line = token.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Block => return self.block_control().map(Parsed::Node),
            ItemType::Break => return self.break_control(true),
            ItemType::Continue => return self.break_control(false),
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => return self.if_control().map(Parsed::Node),
            ItemType::Range => return self.control("range").map(|b| Parsed::Node(Node::Range(b))),
            ItemType::Template => return self.template_control().map(Parsed::Node),
            ItemType::With => return self.with_control().map(Parsed::Node),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action(node::Action { pipe })))
    }

    fn break_control(&mut self, is_break: bool) -> PResult<Parsed> {
        let what = if is_break {
            "{{break}}"
        } else {
            "{{continue}}"
        };
        let token = self.next_non_space();
        if token.typ != ItemType::RightDelim {
            return Err(self.unexpected(&token, what));
        }
        if self.range_depth == 0 {
            return Err(self.errorf(format!("{what} outside {{{{range}}}}")));
        }
        Ok(Parsed::Node(if is_break {
            Node::Break
        } else {
            Node::Continue
        }))
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else);
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn if_control(&mut self) -> PResult<Node> {
        self.control("if").map(Node::If)
    }

    fn with_control(&mut self) -> PResult<Node> {
        self.control("with").map(Node::With)
    }

    /// Go's `parseControl`.
    fn control(&mut self, context: &str) -> PResult<Branch> {
        let mark = self.vars.len();
        let r = self.control_inner(context);
        self.vars.truncate(mark);
        r
    }

    fn control_inner(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        match next {
            Parsed::End | Parsed::Node(_) => {}
            Parsed::Else => {
                if context == "if" && self.peek().typ == ItemType::If {
                    self.next();
                    else_list = Some(vec![self.if_control()?]);
                } else if context == "with" && self.peek().typ == ItemType::With {
                    self.next();
                    else_list = Some(vec![self.with_control()?]);
                } else {
                    let (l, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return Err(self.errorf("expected end; found {{else}}"));
                    }
                    else_list = Some(l);
                }
            }
        }
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn parse_template_name(&mut self, token: &Item<'_>, context: &str) -> PResult<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => self.unquote(&token.val),
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template(TemplateCall {
            pos: token.pos,
            name,
            pipe,
        }))
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let r = self.item_list();
        // Restored on errors too: an enclosing `range` still counts itself out afterwards.
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        let (root, end) = r?;
        if let Parsed::Else = end {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {CONTEXT}")));
        }
        let tree = self.new_tree(name.clone(), root);
        self.add(tree)?;
        Ok(Node::Template(TemplateCall {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        }))
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> PResult<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        'decls: loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break 'decls;
            }
            let save = self.i;
            self.next_non_space();
            let token_after = self.peek();
            let next = self.peek_non_space();
            match next.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = next.typ == ItemType::Assign;
                    self.next_non_space();
                    pipe.decl.push(Arc::from(&*v.val));
                    self.vars.push(v.val.into_owned());
                    break 'decls;
                }
                ItemType::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(Arc::from(&*v.val));
                    self.vars.push(v.val.into_owned());
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue 'decls;
                            }
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ => {
                    let _ = token_after;
                    self.i = save;
                    break 'decls;
                }
            }
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.typ {
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool(..)
                        | Arg::Dot(_)
                        | Arg::Nil(_)
                        | Arg::Number(..)
                        | Arg::String { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut cmd = Command {
            pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            let f = self.next();
            fields.push(f.val[1..].to_owned());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field {
                    pos: chain_pos,
                    idents,
                }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable {
                    pos: chain_pos,
                    idents,
                }
            }
            n @ (Arg::Bool(..)
            | Arg::String { .. }
            | Arg::Number(..)
            | Arg::Nil(_)
            | Arg::Dot(_)) => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    crate::fmt::go_quote(&n.to_string())
                )));
            }
            n => Arg::Chain {
                pos: chain_pos,
                node: Box::new(n),
                fields,
            },
        }))
    }

    fn has_function(&self, name: &str) -> bool {
        self.funcs.contains(name) || BUILTINS.contains(&name)
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        Ok(Some(match token.typ {
            ItemType::Identifier => {
                if !self.has_function(&token.val) {
                    return Err(self.errorf(format!(
                        "function {} not defined",
                        crate::fmt::go_quote(&token.val)
                    )));
                }
                Arg::Identifier {
                    pos: token.pos,
                    name: token.val.into_owned(),
                }
            }
            ItemType::Dot => Arg::Dot(token.pos),
            ItemType::Nil => Arg::Nil(token.pos),
            ItemType::Variable => {
                let idents: Vec<String> = token.val.split('.').map(str::to_owned).collect();
                if !self.vars.iter().any(|v| *v == idents[0]) {
                    return Err(self.errorf(format!(
                        "undefined variable {}",
                        crate::fmt::go_quote(&idents[0])
                    )));
                }
                Arg::Variable {
                    pos: token.pos,
                    idents,
                }
            }
            ItemType::Field => Arg::Field {
                pos: token.pos,
                idents: token.val[1..].split('.').map(str::to_owned).collect(),
            },
            ItemType::Bool => Arg::Bool(token.pos, token.val == "true"),
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let n = parse_number(&token.val, token.typ).map_err(|e| self.errorf(e))?;
                Arg::Number(token.pos, Box::new(n))
            }
            ItemType::LeftParen => Arg::Pipe(Box::new(
                self.pipeline("parenthesized pipeline", ItemType::RightParen)?,
            )),
            ItemType::String | ItemType::RawString => {
                let text = self.unquote(&token.val)?;
                Arg::String {
                    pos: token.pos,
                    quoted: token.val.into_owned(),
                    text: Arc::from(text),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// Go's `newNumber`.
fn parse_number(text: &str, typ: ItemType) -> std::result::Result<Number, String> {
    let mut n = Number {
        text: text.to_owned(),
        is_int: false,
        is_uint: false,
        is_float: false,
        is_complex: false,
        int: 0,
        float: 0.0,
    };
    if typ == ItemType::CharConstant {
        let inner = &text[1..];
        let (c, tail) = crate::fmt::unquote_char(inner, '\'').ok_or("invalid syntax")?;
        if tail != "'" {
            return Err(format!("malformed character constant: {text}"));
        }
        n.int = i64::from(u32::from(c));
        n.is_int = true;
        n.is_uint = true;
        n.is_float = true;
        n.float = n.int as f64;
        return Ok(n);
    }
    if typ == ItemType::Complex || text.ends_with('i') {
        n.is_complex = true;
        return Err(format!("complex constants are not supported: {text}"));
    }
    let u = crate::fmt::parse_go_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        let _ = u;
    }
    if let Some(i) = crate::fmt::parse_go_int(text) {
        n.is_int = true;
        n.int = i;
    }
    if n.is_int {
        n.is_float = true;
        n.float = n.int as f64;
    } else if let Some(u) = u {
        n.is_float = true;
        n.float = u as f64;
    } else if let Some(f) = crate::fmt::parse_go_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", crate::fmt::go_quote(text)));
        }
        n.is_float = true;
        n.float = f;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "Go's float64(int64(f)) == f check"
        )]
        let as_int = f as i64;
        if !n.is_int && as_int as f64 == f {
            n.is_int = true;
            n.int = as_int;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!(
            "illegal number syntax: {}",
            crate::fmt::go_quote(text)
        ));
    }
    Ok(n)
}
