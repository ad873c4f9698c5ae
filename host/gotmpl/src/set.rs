//! The named-template set (Go's `*template.Template` with its shared `common` map): every file is
//! parsed into it, `define`s from all files share one namespace, and execution starts from a name.

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;

use crate::error::Result;
use crate::exec;
use crate::func::FuncMap;
use crate::parse::{ParseCache, Tree};
use crate::value::Value;

/// What a field lookup of a missing map key yields (Go's `missingkey=` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `missingkey=default` / `invalid`: the "no value" (chains through it silently).
    Default,
    /// `missingkey=zero`: the zero value of the map's element type, a nil `interface{}` (what Helm
    /// uses; a further `.field` on it fails with `nil pointer evaluating interface {}.field`).
    #[default]
    Zero,
    /// `missingkey=error`: fail with `map has no entry for key "x"`.
    Error,
}

/// A set of named templates sharing one function map, as built by Go's
/// `template.New(..).Funcs(..)` followed by `t.New(name).Parse(src)` for every file.
#[derive(Clone, Debug)]
pub struct TemplateSet {
    pub(crate) funcs: Arc<FuncMap>,
    pub(crate) trees: HashMap<String, Arc<Tree>>,
    /// Earlier parses by text, shared by clones (the function map, which parsing checks names
    /// against, never changes).
    pub(crate) parsed: Arc<ParseCache>,
    pub(crate) missing_key: MissingKey,
    pub(crate) max_depth: usize,
    /// Most bytes of output one render may write ([`crate::budget::MAX_RENDER_OUTPUT`]).
    pub(crate) max_output: u64,
    /// Most template nodes one render may execute ([`crate::budget::MAX_RENDER_STEPS`]).
    pub(crate) max_steps: u64,
}

impl TemplateSet {
    /// An empty set using `funcs` (built-ins are always available); `missingkey=zero` as Helm.
    pub fn new(funcs: FuncMap) -> TemplateSet {
        TemplateSet {
            funcs: Arc::new(funcs),
            trees: HashMap::new(),
            parsed: Arc::default(),
            missing_key: MissingKey::Zero,
            max_depth: exec::DEFAULT_MAX_DEPTH,
            max_output: crate::budget::MAX_RENDER_OUTPUT,
            max_steps: crate::budget::MAX_RENDER_STEPS,
        }
    }

    /// Sets the `missingkey` option.
    pub fn set_missing_key(&mut self, missing_key: MissingKey) {
        self.missing_key = missing_key;
    }

    /// Limits how deeply `template`/`include`/`tpl` calls may nest before execution fails with
    /// Go's `exceeded maximum template depth` error (Go allows 100000; the default here is lower
    /// so deep recursion fails cleanly instead of exhausting the stack).
    pub fn set_max_depth(&mut self, depth: usize) {
        self.max_depth = depth;
    }

    /// Sets the render budget: most bytes of output and most template steps one render may use
    /// (defaults: [`crate::budget::MAX_RENDER_OUTPUT`], [`crate::budget::MAX_RENDER_STEPS`]).
    pub fn set_render_budget(&mut self, max_output: u64, max_steps: u64) {
        self.max_output = max_output;
        self.max_steps = max_steps;
    }

    /// The function map.
    pub fn funcs(&self) -> &FuncMap {
        &self.funcs
    }

    /// Parses `src` as the template `name` (Go's `t.New(name).Parse(src)`): the file's top-level
    /// text becomes template `name`, each `define`/`block` becomes its own template. A later
    /// definition replaces an earlier one of the same name unless the later one is empty (only
    /// whitespace and comments), exactly as Go's `AddParseTree` does.
    pub fn parse(&mut self, name: &str, src: &str) -> Result<()> {
        let trees = self.parsed.parse(name, src, &self.funcs)?;
        for tree in trees {
            add_tree(&mut self.trees, tree);
        }
        Ok(())
    }

    /// Whether a template called `name` exists.
    pub fn has_template(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Names of all templates (unordered).
    pub fn template_names(&self) -> impl Iterator<Item = &str> {
        self.trees.keys().map(String::as_str)
    }

    /// Executes template `name` with `data` as dot (Go's `ExecuteTemplate`).
    pub fn execute(&self, name: &str, data: &Value) -> Result<String> {
        let mut out = String::new();
        self.execute_into(name, data, &mut out)?;
        Ok(out)
    }

    /// Like [`TemplateSet::execute`], appending to `out` (on error `out` holds partial output).
    pub fn execute_into(&self, name: &str, data: &Value, out: &mut String) -> Result<()> {
        exec::execute(self, name, data, out)
    }
}

/// Go's `associate`: replace unless the new tree is empty and an old one exists.
pub(crate) fn add_tree(trees: &mut HashMap<String, Arc<Tree>>, tree: Tree) {
    if tree.is_empty() && trees.contains_key(&tree.name) {
        return;
    }
    trees.insert(tree.name.clone(), Arc::new(tree));
}
