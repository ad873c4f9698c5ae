//! Execution: walks parse trees over Go values the way Go's `text/template/exec.go` does —
//! including which values sit in an `interface{}` slot (so `.a.b` on a missing `a` fails with
//! `nil pointer evaluating interface {}.b` while `$x.b` on a nil `$x` is silently empty), argument
//! conversion against function signatures, and Go-shaped error messages.

mod builtins;

use foldhash::{HashMap, HashMapExt};
use std::fmt::Display;
use std::sync::Arc;

use crate::error::{Error, FuncError, Result};
use crate::func::{CallContext, Extensions, Func, Host, Signature, Ty};
use crate::parse::{self, Arg, Command, Node, Number, Pipe, TemplateCall, Tree};
use crate::set::{MissingKey, TemplateSet};
use crate::value::{Object, Value};

/// Default nesting limit for `template`/`include`/`tpl` (Go uses 100000, which a native stack
/// cannot hold; deep enough for Helm's own include limit of 1000).
pub(crate) const DEFAULT_MAX_DEPTH: usize = 2000;

/// Stack left before a nested template runs on a fresh segment, and that segment's size.
const STACK_RED_ZONE: usize = 128 * 1024;
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// Name Helm gives its root template (`template.New("gotpl")`), used in "no template" errors.
const ROOT_NAME: &str = "gotpl";

/// A value as the executor sees it: `boxed` means it sits in an `interface{}` slot (a map or
/// slice element), so Go's reflect sees an interface (nil-able, typed `interface {}` in errors).
/// `Nil` unboxed is Go's invalid `reflect.Value` ("no value").
#[derive(Clone, Debug)]
pub(crate) struct V {
    pub(crate) v: Value,
    pub(crate) boxed: bool,
}

impl V {
    fn plain(v: Value) -> V {
        V { v, boxed: false }
    }

    fn boxed(v: Value) -> V {
        V { v, boxed: true }
    }

    fn invalid() -> V {
        V::plain(Value::Nil)
    }

    fn is_invalid(&self) -> bool {
        !self.boxed && self.v.is_nil()
    }

    /// Go's "dig down one level" after each pipeline command.
    fn unbox(self) -> V {
        V::plain(self.v)
    }

    /// The static type Go's error messages name.
    fn type_name(&self) -> &str {
        if self.boxed {
            "interface {}"
        } else {
            self.v.type_name()
        }
    }
}

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Something an error can be blamed on (Go's `s.node`), giving position and context text.
#[derive(Clone, Copy)]
enum Blame<'a> {
    Arg(&'a Arg),
    Cmd(&'a Command),
    Tmpl(&'a TemplateCall),
}

impl Blame<'_> {
    fn pos(&self) -> usize {
        match self {
            Blame::Arg(a) => a.pos(),
            Blame::Cmd(c) => c.pos,
            Blame::Tmpl(t) => t.pos,
        }
    }

    fn context(&self) -> String {
        match self {
            Blame::Arg(a) => a.to_string(),
            Blame::Cmd(c) => c.to_string(),
            Blame::Tmpl(t) => t.to_string(),
        }
    }
}

/// The node Go's `s.node` points at after successfully evaluating `arg`.
fn last_at(arg: &Arg) -> &Arg {
    match arg {
        Arg::Pipe(p) => last_at_pipe(p).unwrap_or(arg),
        Arg::Chain { node, .. } => last_at(node),
        _ => arg,
    }
}

fn last_at_pipe(p: &Pipe) -> Option<&Arg> {
    let cmd = p.cmds.last()?;
    let first = cmd.args.first()?;
    match first {
        Arg::Identifier { .. } | Arg::Field { .. } | Arg::Variable { .. } | Arg::Chain { .. } => {
            if cmd.args.len() > 1 {
                cmd.args.last().map(last_at)
            } else {
                Some(last_at(first))
            }
        }
        other => Some(last_at(other)),
    }
}

/// A callable: a registered function, a host-object method, or a builtin.
enum Callee<'f> {
    Func(&'f Func),
    Method(Arc<dyn Object>, Signature),
    Builtin(builtins::Builtin),
}

pub(crate) struct State<'s> {
    set: &'s TemplateSet,
    /// Templates added by enclosing `tpl` calls, innermost last.
    overlays: Vec<Arc<HashMap<String, Arc<Tree>>>>,
    vars: Vec<(Arc<str>, V)>,
    depth: usize,
    current: Arc<Tree>,
    ext: Extensions,
    /// Bytes written so far by this render, at every nesting level (`max_output`).
    written: u64,
    /// Template nodes executed so far (`max_steps`).
    steps: u64,
}

pub(crate) fn execute(set: &TemplateSet, name: &str, data: &Value, out: &mut String) -> Result<()> {
    let Some(tree) = set.trees.get(name).cloned() else {
        return Err(no_template(name));
    };
    let mut st = State {
        set,
        overlays: Vec::new(),
        vars: Vec::new(),
        depth: 0,
        current: tree.clone(),
        ext: Extensions::default(),
        written: 0,
        steps: 0,
    };
    st.run_tree(&tree, V::plain(data.clone()), out)
}

fn no_template(name: &str) -> Error {
    Error::ExecuteTemplate {
        message: format!(
            "template: no template {} associated with template {}",
            crate::fmt::go_quote(name),
            crate::fmt::go_quote(ROOT_NAME)
        ),
        source: None,
    }
}

type R<T> = std::result::Result<T, Error>;

impl State<'_> {
    fn lookup(&self, name: &str) -> Option<Arc<Tree>> {
        for o in self.overlays.iter().rev() {
            if let Some(t) = o.get(name) {
                return Some(t.clone());
            }
        }
        self.set.trees.get(name).cloned()
    }

    /// Runs `tree` (the template `name`) as a nested call: depth-limited, output returned.
    fn execute_tree(
        &mut self,
        name: &str,
        tree: &Arc<Tree>,
        data: &Value,
    ) -> Result<String, Error> {
        if self.depth >= self.set.max_depth {
            return Err(Error::ExecuteTemplate {
                message: format!(
                    "template: {name}: exceeded maximum template depth ({})",
                    self.set.max_depth
                ),
                source: None,
            });
        }
        let mut out = String::new();
        self.depth += 1;
        let r = self.run_tree(tree, V::plain(data.clone()), &mut out);
        self.depth -= 1;
        r.map(|()| out)
    }

    /// Runs a whole template with fresh variables (`$` = dot), restoring state afterwards. Deep
    /// `template`/`include` recursion continues on a heap-allocated stack segment when the
    /// thread's stack runs low, so Helm's 1000-deep include limit is reachable on any thread.
    fn run_tree(&mut self, tree: &Arc<Tree>, dot: V, out: &mut String) -> R<()> {
        stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || {
            self.run_tree_inner(tree, dot, out)
        })
    }

    fn run_tree_inner(&mut self, tree: &Arc<Tree>, dot: V, out: &mut String) -> R<()> {
        let saved_vars = std::mem::replace(&mut self.vars, vec![(Arc::from("$"), dot.clone())]);
        let saved_tree = std::mem::replace(&mut self.current, tree.clone());
        let r = self.walk_list(tree, &dot, &tree.root, out);
        self.vars = saved_vars;
        self.current = saved_tree;
        r.map(|_| ())
    }

    /// Adds `n` written bytes to the render's output budget.
    fn count_output(&mut self, tree: &Tree, n: usize) -> R<()> {
        self.written = self.written.saturating_add(n as u64);
        if self.written > self.set.max_output {
            return Err(self.over_budget(
                tree,
                format_args!("more than {} bytes of output written", self.set.max_output),
            ));
        }
        Ok(())
    }

    fn over_budget(&self, tree: &Tree, what: impl Display) -> Error {
        Error::ExecuteTemplate {
            message: format!("template: {}: render budget exceeded: {what}", tree.name),
            source: None,
        }
    }

    fn errorf(&self, tree: &Tree, blame: Blame<'_>, msg: impl Display) -> Error {
        Error::ExecuteTemplate {
            message: format!(
                "template: {}: executing {} at <{}>: {msg}",
                tree.location(blame.pos()),
                crate::fmt::go_quote(&tree.name),
                blame.context()
            ),
            source: None,
        }
    }

    fn walk_list(&mut self, tree: &Tree, dot: &V, list: &[Node], out: &mut String) -> R<Flow> {
        for n in list {
            match self.walk(tree, dot, n, out)? {
                Flow::Normal => {}
                f => return Ok(f),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, tree: &Tree, dot: &V, node: &Node, out: &mut String) -> R<Flow> {
        self.steps += 1;
        if self.steps > self.set.max_steps {
            return Err(self.over_budget(
                tree,
                format_args!("more than {} template steps executed", self.set.max_steps),
            ));
        }
        match node {
            Node::Text(t) => {
                out.push_str(t);
                self.count_output(tree, t.len())?;
            }
            Node::Action(a) => {
                let v = self.eval_pipeline(tree, dot, &a.pipe)?;
                if a.pipe.decl.is_empty() {
                    let before = out.len();
                    print_value(out, &v.v);
                    self.count_output(tree, out.len() - before)?;
                }
            }
            Node::If(b) | Node::With(b) => {
                let mark = self.vars.len();
                let r = self.walk_if_or_with(tree, dot, b, matches!(node, Node::With(_)), out);
                self.vars.truncate(mark);
                return r;
            }
            Node::Range(b) => {
                let mark = self.vars.len();
                let r = self.walk_range(tree, dot, b, out);
                self.vars.truncate(mark);
                return r;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
            Node::Template(t) => self.walk_template(tree, dot, t, out)?,
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(
        &mut self,
        tree: &Tree,
        dot: &V,
        b: &parse::Branch,
        is_with: bool,
        out: &mut String,
    ) -> R<Flow> {
        let val = self.eval_pipeline(tree, dot, &b.pipe)?;
        if val.v.is_true() {
            if is_with {
                self.walk_list(tree, &val, &b.list, out)
            } else {
                self.walk_list(tree, dot, &b.list, out)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(tree, dot, e, out)
        } else {
            Ok(Flow::Normal)
        }
    }

    fn walk_range(&mut self, tree: &Tree, dot: &V, b: &parse::Branch, out: &mut String) -> R<Flow> {
        let val = self.eval_pipeline(tree, dot, &b.pipe)?;
        let mark = self.vars.len();
        let decl = &b.pipe.decl;
        let one = |st: &mut State<'_>, index: V, elem: V, out: &mut String| -> R<bool> {
            if !decl.is_empty() {
                if b.pipe.is_assign {
                    if decl.len() > 1 {
                        st.set_var(&decl[0], index.clone());
                    } else {
                        st.set_var(&decl[0], elem.clone());
                    }
                } else {
                    st.set_top_var(1, elem.clone());
                }
            }
            if decl.len() > 1 {
                if b.pipe.is_assign {
                    st.set_var(&decl[1], elem.clone());
                } else {
                    st.set_top_var(2, index);
                }
            }
            let r = st.walk_list(tree, &elem, &b.list, out);
            st.vars.truncate(mark);
            match r? {
                Flow::Break => Ok(false),
                Flow::Normal | Flow::Continue => Ok(true),
            }
        };
        let coll = match &val.v {
            Value::Object(o) => o.as_value().unwrap_or_else(|| val.v.clone()),
            v => v.clone(),
        };
        // Elements of `[]interface{}`/`map[string]interface{}` sit in interface slots; those of
        // typed slices and maps (`[]string`, `map[string]string`) are plain values.
        let typed = match &val.v {
            Value::Map(m) => !m.zero_value().is_nil(),
            Value::Object(o) => o.as_any().is::<crate::value::GoSlice>(),
            _ => false,
        };
        let elem = |e: &Value| V {
            v: e.clone(),
            boxed: !typed,
        };
        match &coll {
            Value::List(l) if !l.is_empty() => {
                for (i, e) in l.iter().enumerate() {
                    if !one(self, V::plain(Value::from(i)), elem(e), out)? {
                        break;
                    }
                }
                return Ok(Flow::Normal);
            }
            Value::Map(m) if !m.is_empty() => {
                for (k, e) in m.entries() {
                    if !one(self, V::plain(Value::string(k.as_str())), elem(&e), out)? {
                        break;
                    }
                }
                return Ok(Flow::Normal);
            }
            Value::List(_) | Value::Map(_) | Value::Nil => {}
            other => {
                let blame = last_at_pipe(&b.pipe).map_or(Blame::Cmd(&b.pipe.cmds[0]), Blame::Arg);
                return Err(self.errorf(
                    tree,
                    blame,
                    format_args!("range can't iterate over {}", other.to_go_string()),
                ));
            }
        }
        if let Some(e) = &b.else_list {
            return self.walk_list(tree, dot, e, out);
        }
        Ok(Flow::Normal)
    }

    fn walk_template(&mut self, tree: &Tree, dot: &V, t: &TemplateCall, out: &mut String) -> R<()> {
        let Some(target) = self.lookup(&t.name) else {
            return Err(self.errorf(
                tree,
                Blame::Tmpl(t),
                format_args!("template {} not defined", crate::fmt::go_quote(&t.name)),
            ));
        };
        if self.depth >= self.set.max_depth {
            return Err(self.errorf(
                tree,
                Blame::Tmpl(t),
                format_args!("exceeded maximum template depth ({})", self.set.max_depth),
            ));
        }
        let new_dot = match &t.pipe {
            Some(p) => self.eval_pipeline(tree, dot, p)?,
            None => V::invalid(),
        };
        self.depth += 1;
        let r = self.run_tree(&target, new_dot, out);
        self.depth -= 1;
        r
    }

    fn set_var(&mut self, name: &str, v: V) {
        for slot in self.vars.iter_mut().rev() {
            if &*slot.0 == name {
                slot.1 = v;
                return;
            }
        }
    }

    fn set_top_var(&mut self, n: usize, v: V) {
        let len = self.vars.len();
        if let Some(slot) = self.vars.get_mut(len.wrapping_sub(n)) {
            slot.1 = v;
        }
    }

    fn var_value(&self, name: &str) -> Option<V> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.clone())
    }

    fn eval_pipeline(&mut self, tree: &Tree, dot: &V, pipe: &Pipe) -> R<V> {
        let mut value: Option<V> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(tree, dot, cmd, value.take())?;
            value = Some(v.unbox());
        }
        let value = value.unwrap_or_else(V::invalid);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, tree: &Tree, args: &[Arg], fin: &Option<V>) -> R<()> {
        if args.len() > 1 || fin.is_some() {
            return Err(self.errorf(
                tree,
                Blame::Arg(&args[0]),
                format_args!("can't give argument to non-function {}", args[0]),
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, tree: &Tree, dot: &V, cmd: &Command, fin: Option<V>) -> R<V> {
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                return self.eval_field_chain(
                    tree,
                    dot,
                    dot.clone(),
                    first,
                    idents,
                    &cmd.args,
                    fin,
                );
            }
            Arg::Chain { node, fields, .. } => {
                if let Arg::Nil(_) = **node {
                    return Err(self.errorf(
                        tree,
                        Blame::Arg(first),
                        format_args!("indirection through explicit nil in {first}"),
                    ));
                }
                let recv = self.eval_arg_any(tree, dot, node)?;
                return self.eval_field_chain(tree, dot, recv, first, fields, &cmd.args, fin);
            }
            Arg::Identifier { name, .. } => {
                return self.eval_function(tree, dot, name, cmd, &cmd.args, fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(tree, &cmd.args, &fin)?;
                return self.eval_pipeline(tree, dot, p);
            }
            Arg::Variable { idents, .. } => {
                return self.eval_variable(tree, dot, first, idents, &cmd.args, fin);
            }
            _ => {}
        }
        self.not_a_function(tree, &cmd.args, &fin)?;
        match first {
            Arg::Bool(_, b) => Ok(V::plain(Value::Bool(*b))),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Err(self.errorf(tree, Blame::Arg(first), "nil is not a command")),
            Arg::Number(_, n) => self.ideal_constant(tree, first, n),
            Arg::String { text, .. } => Ok(V::plain(Value::String(text.clone()))),
            _ => Err(self.errorf(
                tree,
                Blame::Arg(first),
                format_args!(
                    "can't evaluate command {}",
                    crate::fmt::go_quote(&first.to_string())
                ),
            )),
        }
    }

    fn ideal_constant(&self, tree: &Tree, arg: &Arg, n: &Number) -> R<V> {
        let t = n.text.trim_start_matches(['+', '-']);
        let is_hex_int =
            t.len() > 2 && (t.starts_with("0x") || t.starts_with("0X")) && !t.contains(['p', 'P']);
        let is_rune = n.text.starts_with('\'');
        if n.is_float && !is_hex_int && !is_rune && n.text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(V::plain(Value::Float(n.float)));
        }
        if n.is_int {
            return Ok(V::plain(Value::Int(n.int)));
        }
        Err(self.errorf(
            tree,
            Blame::Arg(arg),
            format_args!("{} overflows int", n.text),
        ))
    }

    fn eval_variable(
        &mut self,
        tree: &Tree,
        dot: &V,
        node: &Arg,
        idents: &[String],
        args: &[Arg],
        fin: Option<V>,
    ) -> R<V> {
        let Some(value) = self.var_value(&idents[0]) else {
            return Err(self.errorf(
                tree,
                Blame::Arg(node),
                format_args!("undefined variable: {}", idents[0]),
            ));
        };
        if idents.len() == 1 {
            self.not_a_function(tree, args, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(tree, dot, value, node, &idents[1..], args, fin)
    }

    #[expect(clippy::too_many_arguments, reason = "mirrors Go's evalFieldChain")]
    fn eval_field_chain(
        &mut self,
        tree: &Tree,
        dot: &V,
        receiver: V,
        node: &Arg,
        idents: &[String],
        args: &[Arg],
        fin: Option<V>,
    ) -> R<V> {
        let n = idents.len();
        let mut r = receiver;
        for id in &idents[..n - 1] {
            r = self.eval_field(tree, dot, id, node, &[], None, r)?;
        }
        self.eval_field(tree, dot, &idents[n - 1], node, args, fin, r)
    }

    #[expect(clippy::too_many_arguments, reason = "mirrors Go's evalField")]
    fn eval_field(
        &mut self,
        tree: &Tree,
        dot: &V,
        name: &str,
        node: &Arg,
        args: &[Arg],
        fin: Option<V>,
        receiver: V,
    ) -> R<V> {
        // Go blames the last node it evaluated: for `(pipe).f` that is inside the pipe.
        let call_node = node;
        let node = match node {
            Arg::Chain { node: inner, .. } => last_at(inner),
            n => n,
        };
        if receiver.is_invalid() {
            if self.set.missing_key == MissingKey::Error {
                return Err(self.errorf(
                    tree,
                    Blame::Arg(node),
                    format_args!("nil data; no entry for key {}", crate::fmt::go_quote(name)),
                ));
            }
            return Ok(V::invalid());
        }
        let typ = receiver.type_name().to_owned();
        if receiver.v.is_nil() {
            return Err(self.errorf(
                tree,
                Blame::Arg(node),
                format_args!("nil pointer evaluating {typ}.{name}"),
            ));
        }
        let has_args = args.len() > 1 || fin.is_some();
        let map_lookup = |m: &crate::value::Map| m.get(name);
        let found = match &receiver.v {
            Value::Object(o) => {
                if let Some(sig) = o.method(name) {
                    return self.eval_call(
                        tree,
                        dot,
                        Callee::Method(o.clone(), sig),
                        Blame::Arg(call_node),
                        Blame::Arg(call_node),
                        name,
                        args,
                        fin,
                    );
                }
                if let Some(v) = o.field(name) {
                    if has_args {
                        return Err(self.errorf(
                            tree,
                            Blame::Arg(node),
                            format_args!("{name} has arguments but cannot be invoked as function"),
                        ));
                    }
                    let boxed = v.is_nil();
                    return Ok(V { v, boxed });
                }
                match o.as_value() {
                    Some(Value::Map(m)) => Some(map_lookup(&m)),
                    _ => None,
                }
            }
            Value::Map(m) => Some(map_lookup(m)),
            _ => None,
        };
        let Some(found) = found else {
            return Err(self.errorf(
                tree,
                Blame::Arg(node),
                format_args!("can't evaluate field {name} in type {typ}"),
            ));
        };
        if has_args {
            return Err(self.errorf(
                tree,
                Blame::Arg(node),
                format_args!("{name} is not a method but has arguments"),
            ));
        }
        match found {
            Some(v) => Ok(V::boxed(v)),
            None => match self.set.missing_key {
                MissingKey::Default => Ok(V::invalid()),
                MissingKey::Zero => Ok(match &receiver.v {
                    Value::Map(m) if !m.zero_value().is_nil() => V::plain(m.zero_value()),
                    _ => V::boxed(Value::Nil),
                }),
                MissingKey::Error => Err(self.errorf(
                    tree,
                    Blame::Arg(node),
                    format_args!("map has no entry for key {}", crate::fmt::go_quote(name)),
                )),
            },
        }
    }

    fn eval_function(
        &mut self,
        tree: &Tree,
        dot: &V,
        name: &str,
        cmd: &Command,
        args: &[Arg],
        fin: Option<V>,
    ) -> R<V> {
        let set = self.set;
        let callee = if let Some(f) = set.funcs.get(name) {
            Callee::Func(f)
        } else if let Some(b) = builtins::Builtin::from_name(name) {
            Callee::Builtin(b)
        } else {
            return Err(self.errorf(
                tree,
                Blame::Arg(&args[0]),
                format_args!("{} is not a defined function", crate::fmt::go_quote(name)),
            ));
        };
        self.eval_call(
            tree,
            dot,
            callee,
            Blame::Cmd(cmd),
            Blame::Arg(&args[0]),
            name,
            args,
            fin,
        )
    }

    /// Evaluates an argument with no expected type (Go's `evalArg(dot, nil, n)`).
    fn eval_arg_any(&mut self, tree: &Tree, dot: &V, arg: &Arg) -> R<V> {
        match arg {
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(_) => Ok(V::invalid()),
            Arg::Field { idents, .. } => self.eval_field_chain(
                tree,
                dot,
                dot.clone(),
                arg,
                idents,
                std::slice::from_ref(arg),
                None,
            ),
            Arg::Variable { idents, .. } => {
                self.eval_variable(tree, dot, arg, idents, std::slice::from_ref(arg), None)
            }
            Arg::Pipe(p) => Ok(self.eval_pipeline(tree, dot, p)?.unbox()),
            Arg::Identifier { name, .. } => {
                let cmd = Command {
                    pos: arg.pos(),
                    args: Vec::new(),
                };
                let _ = cmd;
                self.eval_function_bare(tree, dot, arg, name)
            }
            Arg::Chain { node, fields, .. } => {
                if let Arg::Nil(_) = **node {
                    return Err(self.errorf(
                        tree,
                        Blame::Arg(arg),
                        format_args!("indirection through explicit nil in {arg}"),
                    ));
                }
                let recv = self.eval_arg_any(tree, dot, node)?;
                self.eval_field_chain(tree, dot, recv, arg, fields, &[], None)
            }
            Arg::Bool(_, b) => Ok(V::plain(Value::Bool(*b))),
            Arg::Number(_, n) => self.ideal_constant(tree, arg, n),
            Arg::String { text, .. } => Ok(V::plain(Value::String(text.clone()))),
        }
    }

    /// A function named as an argument without parentheses: called with no arguments.
    fn eval_function_bare(&mut self, tree: &Tree, dot: &V, arg: &Arg, name: &str) -> R<V> {
        let set = self.set;
        let callee = if let Some(f) = set.funcs.get(name) {
            Callee::Func(f)
        } else if let Some(b) = builtins::Builtin::from_name(name) {
            Callee::Builtin(b)
        } else {
            return Err(self.errorf(
                tree,
                Blame::Arg(arg),
                format_args!("{} is not a defined function", crate::fmt::go_quote(name)),
            ));
        };
        self.eval_call(
            tree,
            dot,
            callee,
            Blame::Arg(arg),
            Blame::Arg(arg),
            name,
            std::slice::from_ref(arg),
            None,
        )
    }

    /// Evaluates `arg` for a parameter of type `ty` (Go's `evalArg`).
    fn eval_arg(&mut self, tree: &Tree, dot: &V, ty: Ty, arg: &Arg) -> R<Value> {
        match arg {
            Arg::Dot(_)
            | Arg::Field { .. }
            | Arg::Variable { .. }
            | Arg::Pipe(_)
            | Arg::Identifier { .. }
            | Arg::Chain { .. } => {
                let v = self.eval_arg_any(tree, dot, arg)?;
                return self.validate_type(tree, Blame::Arg(last_at(arg)), v, ty);
            }
            Arg::Nil(_) => {
                return match ty {
                    Ty::Any => Ok(Value::Nil),
                    Ty::List => Ok(Value::list(Vec::new())),
                    Ty::Map => Ok(Value::empty_map()),
                    _ => Err(self.errorf(
                        tree,
                        Blame::Arg(arg),
                        format_args!("cannot assign nil to {}", ty.go_name()),
                    )),
                };
            }
            _ => {}
        }
        let bad = |st: &Self, what: &str| {
            Err(st.errorf(
                tree,
                Blame::Arg(arg),
                format_args!("expected {what}; found {arg}"),
            ))
        };
        match ty {
            Ty::Any => Ok(self.eval_arg_any(tree, dot, arg)?.v),
            Ty::Bool => match arg {
                Arg::Bool(_, b) => Ok(Value::Bool(*b)),
                _ => bad(self, "bool"),
            },
            Ty::String => match arg {
                Arg::String { text, .. } => Ok(Value::String(text.clone())),
                _ => bad(self, "string"),
            },
            Ty::Int => match arg {
                Arg::Number(_, n) if n.is_int => Ok(Value::Int(n.int)),
                _ => bad(self, "integer"),
            },
            Ty::Float => match arg {
                Arg::Number(_, n) if n.is_float => Ok(Value::Float(n.float)),
                _ => bad(self, "float"),
            },
            Ty::List | Ty::Map => Err(self.errorf(
                tree,
                Blame::Arg(arg),
                format_args!("can't handle {arg} for arg of type {}", ty.go_name()),
            )),
        }
    }

    /// Go's `validateType` for an evaluated value.
    fn validate_type(&self, tree: &Tree, blame: Blame<'_>, v: V, ty: Ty) -> R<Value> {
        if v.is_invalid() {
            return match ty {
                Ty::Any => Ok(Value::Nil),
                Ty::List => Ok(Value::list(Vec::new())),
                Ty::Map => Ok(Value::empty_map()),
                _ => Err(self.errorf(
                    tree,
                    blame,
                    format_args!("invalid value; expected {}", ty.go_name()),
                )),
            };
        }
        if ty == Ty::Any {
            return Ok(v.v);
        }
        let ok = match (&v.v, ty) {
            (Value::String(_), Ty::String)
            | (Value::Int(_), Ty::Int)
            | (Value::Float(_), Ty::Float)
            | (Value::Bool(_), Ty::Bool)
            | (Value::List(_), Ty::List)
            | (Value::Map(_), Ty::Map) => true,
            (Value::Object(o), Ty::String) if v.v.as_bytes().is_some() => {
                let _ = o;
                true
            }
            (Value::Object(o), _) => {
                // A named type is assignable to a parameter of its underlying type (Go's
                // `chartutil.Values` to `map[string]interface{}`); `int64` is not `int`.
                // `int64` is not `int`, and `[]string` is not `[]interface{}`.
                let distinct = (ty == Ty::Int && o.type_name() == "int64")
                    || (ty == Ty::List && o.as_any().is::<crate::value::GoSlice>());
                let inner = o.as_value().filter(|_| !distinct);
                match inner {
                    Some(inner @ Value::String(_)) if ty == Ty::String => return Ok(inner),
                    Some(inner @ Value::Int(_)) if ty == Ty::Int => return Ok(inner),
                    Some(inner @ Value::Float(_)) if ty == Ty::Float => return Ok(inner),
                    Some(inner @ Value::Bool(_)) if ty == Ty::Bool => return Ok(inner),
                    Some(inner @ Value::List(_)) if ty == Ty::List => return Ok(inner),
                    Some(inner @ Value::Map(_)) if ty == Ty::Map => return Ok(inner),
                    _ => false,
                }
            }
            _ => false,
        };
        if ok {
            return Ok(v.v);
        }
        let got = if v.v.is_nil() {
            "interface {}"
        } else {
            v.v.type_name()
        };
        Err(self.errorf(
            tree,
            blame,
            format_args!("wrong type for value; expected {}; got {got}", ty.go_name()),
        ))
    }

    #[expect(clippy::too_many_arguments, reason = "mirrors Go's evalCall")]
    fn eval_call(
        &mut self,
        tree: &Tree,
        dot: &V,
        callee: Callee<'_>,
        call_blame: Blame<'_>,
        id_blame: Blame<'_>,
        name: &str,
        args: &[Arg],
        fin: Option<V>,
    ) -> R<V> {
        let args = if args.is_empty() { args } else { &args[1..] };
        let sig = match &callee {
            Callee::Func(f) => f.signature().clone(),
            Callee::Method(_, s) => s.clone(),
            Callee::Builtin(b) => b.signature(),
        };
        let num_in = args.len() + usize::from(fin.is_some());
        let num_params = sig.params.len();
        if sig.variadic.is_some() {
            if num_in < num_params {
                return Err(self.errorf(
                    tree,
                    id_blame,
                    format_args!(
                        "wrong number of args for {name}: want at least {num_params} got {}",
                        args.len()
                    ),
                ));
            }
        } else if num_in != num_params {
            return Err(self.errorf(
                tree,
                id_blame,
                format_args!("wrong number of args for {name}: want {num_params} got {num_in}"),
            ));
        }
        let param_ty = |i: usize| -> Ty {
            sig.params
                .get(i)
                .copied()
                .or(sig.variadic)
                .unwrap_or(Ty::Any)
        };
        if let Callee::Builtin(b) = &callee {
            if b.is_and_or() {
                let is_or = *b == builtins::Builtin::Or;
                let mut v = V::invalid();
                for a in args {
                    v = self.eval_arg_reflect(tree, dot, a)?;
                    if v.v.is_true() == is_or {
                        return Ok(v);
                    }
                }
                if let Some(f) = fin {
                    v = f;
                }
                return Ok(v);
            }
            let mut argv = Vec::with_capacity(num_in);
            for (i, a) in args.iter().enumerate() {
                if b.param_is_reflect(i) {
                    argv.push(self.eval_arg_reflect(tree, dot, a)?);
                } else {
                    let ty = if i == 0 && *b == builtins::Builtin::Printf {
                        Ty::String
                    } else {
                        Ty::Any
                    };
                    argv.push(V::plain(self.eval_arg(tree, dot, ty, a)?));
                }
            }
            if let Some(f) = fin {
                if !b.param_is_reflect(argv.len()) {
                    let blame = args.last().map_or(id_blame, |a| Blame::Arg(last_at(a)));
                    let ty = if argv.is_empty() && *b == builtins::Builtin::Printf {
                        Ty::String
                    } else {
                        Ty::Any
                    };
                    argv.push(V::plain(self.validate_type(tree, blame, f, ty)?));
                } else {
                    argv.push(f);
                }
            }
            return match b.call(&argv, args) {
                Ok(v) => Ok(v),
                Err(e) => Err(self.call_error(tree, call_blame, name, e)),
            };
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            argv.push(self.eval_arg(tree, dot, param_ty(i), a)?);
        }
        if let Some(f) = fin {
            let blame = args.last().map_or(id_blame, |a| Blame::Arg(last_at(a)));
            let ty = param_ty(argv.len());
            argv.push(self.validate_type(tree, blame, f, ty)?);
        }
        let result = match callee {
            Callee::Func(f) => {
                let mut cx = CallContext::new(self);
                f.call(&mut cx, &argv)
            }
            Callee::Method(o, _) => {
                let mut cx = CallContext::new(self);
                o.call_method(name, &argv, &mut cx)
            }
            Callee::Builtin(_) => unreachable!("builtins handled above"),
        };
        match result {
            Ok(v) => Ok(V::plain(v)),
            Err(e) => Err(self.call_error(tree, call_blame, name, e)),
        }
    }

    fn call_error(&self, tree: &Tree, blame: Blame<'_>, name: &str, e: FuncError) -> Error {
        let message = format!(
            "template: {}: executing {} at <{}>: error calling {name}: {}",
            tree.location(blame.pos()),
            crate::fmt::go_quote(&tree.name),
            blame.context(),
            e.message()
        );
        Error::ExecuteTemplate {
            message,
            source: Some(Box::new(e)),
        }
    }

    /// Evaluates an argument for a `reflect.Value` parameter (builtins): anything goes, nil too.
    fn eval_arg_reflect(&mut self, tree: &Tree, dot: &V, arg: &Arg) -> R<V> {
        match arg {
            Arg::Nil(_) => Ok(V::invalid()),
            _ => self.eval_arg_any(tree, dot, arg),
        }
    }
}

/// Prints an action's value (Go's `printValue`): nil is `<no value>`.
fn print_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::String(s) => out.push_str(s),
        Value::Int(i) => {
            use std::fmt::Write;
            let _ = write!(out, "{i}");
        }
        Value::Object(o) if o.as_any().is::<crate::value::GoBytes>() => {
            crate::value::escape_raw_bytes(out, v.as_bytes().unwrap_or_default());
        }
        Value::Object(o) => match o.template_string() {
            Some(s) => out.push_str(&s),
            None => crate::fmt::write_v(out, v, true),
        },
        other => crate::fmt::write_v(out, other, true),
    }
}

impl Host for State<'_> {
    fn execute_named(&mut self, name: &str, data: &Value) -> Result<String, Error> {
        let Some(tree) = self.lookup(name) else {
            return Err(no_template(name));
        };
        self.execute_tree(name, &tree, data)
    }

    fn render_string(&mut self, name: &str, src: &str, data: &Value) -> Result<String, Error> {
        let trees = self.set.parsed.parse(name, src, &self.set.funcs)?;
        let mut overlay: HashMap<String, Arc<Tree>> = HashMap::new();
        let mut main = None;
        for t in trees {
            let t = Arc::new(t);
            if t.name == name {
                main = Some(t.clone());
            }
            // Go's `associate`: within the clone, an empty re-definition keeps the existing
            // template in the set…
            if t.is_empty() && (overlay.contains_key(&t.name) || self.lookup(&t.name).is_some()) {
                continue;
            }
            overlay.insert(t.name.clone(), t);
        }
        self.overlays.push(Arc::new(overlay));
        // …but `t.New(name).Parse(src)` followed by `t.Execute` runs the new template's own tree
        // (`AddParseTree` sets it even when `associate` kept the old one), so an empty text
        // renders as "" instead of re-entering an enclosing template of the same name.
        let r = match main {
            Some(tree) => self.execute_tree(name, &tree, data),
            None => self.execute_named(name, data),
        };
        self.overlays.pop();
        r
    }

    fn has_template(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }

    fn extensions(&mut self) -> &mut Extensions {
        &mut self.ext
    }

    fn current_template(&self) -> &str {
        &self.current.name
    }
}
