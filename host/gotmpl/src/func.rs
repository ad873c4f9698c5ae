//! The function registry (Go's `template.FuncMap`) and the context functions receive, which lets
//! Helm-style functions (`include`, `tpl`) call back into the running template set.

use foldhash::HashMap;
use std::any::{Any, TypeId};
use std::fmt as stdfmt;
use std::sync::Arc;

use crate::error::{Error, FuncError};
use crate::value::Value;

/// What a template function returns: a value, or Go's non-nil `error`.
pub type FuncResult = Result<Value, FuncError>;

/// A Go parameter type; the engine converts and checks arguments against it exactly as Go's
/// `text/template` does for a reflected function (`wrong type for value; expected string; got int`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `interface{}`: anything, nil included.
    Any,
    /// `string`.
    String,
    /// `int` / `int64`.
    Int,
    /// `float64`.
    Float,
    /// `bool`.
    Bool,
    /// `[]interface{}` (nil becomes an empty list).
    List,
    /// `map[string]interface{}` (nil becomes an empty map).
    Map,
}

impl Ty {
    /// Go's spelling of the type, for error messages.
    pub fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::String => "string",
            Ty::Int => "int",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::List => "[]interface {}",
            Ty::Map => "map[string]interface {}",
        }
    }
}

/// A function's parameter list, optionally variadic (Go's `...T` last parameter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Fixed parameters.
    pub params: Vec<Ty>,
    /// Type of the trailing variadic parameter, if any.
    pub variadic: Option<Ty>,
}

impl Signature {
    /// Fixed parameters only.
    pub fn new(params: &[Ty]) -> Signature {
        Signature {
            params: params.to_vec(),
            variadic: None,
        }
    }

    /// Fixed parameters followed by `...rest`.
    pub fn variadic(params: &[Ty], rest: Ty) -> Signature {
        Signature {
            params: params.to_vec(),
            variadic: Some(rest),
        }
    }

    /// `n` parameters of type `interface{}`.
    pub fn any(n: usize) -> Signature {
        Signature {
            params: vec![Ty::Any; n],
            variadic: None,
        }
    }
}

type FuncImpl = dyn Fn(&mut CallContext<'_>, &[Value]) -> FuncResult + Send + Sync;

/// A template function: a signature plus the implementation.
#[derive(Clone)]
pub struct Func {
    sig: Signature,
    imp: Arc<FuncImpl>,
}

impl Func {
    /// A function with signature `sig`; `f` receives arguments already converted to it.
    pub fn new(
        sig: Signature,
        f: impl Fn(&mut CallContext<'_>, &[Value]) -> FuncResult + Send + Sync + 'static,
    ) -> Func {
        Func {
            sig,
            imp: Arc::new(f),
        }
    }

    /// A function that does not need the context.
    pub fn pure(
        sig: Signature,
        f: impl Fn(&[Value]) -> FuncResult + Send + Sync + 'static,
    ) -> Func {
        Func::new(sig, move |_cx, args| f(args))
    }

    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.sig
    }

    /// Calls the function with already-converted arguments.
    pub fn call(&self, cx: &mut CallContext<'_>, args: &[Value]) -> FuncResult {
        (self.imp)(cx, args)
    }
}

impl stdfmt::Debug for Func {
    fn fmt(&self, f: &mut stdfmt::Formatter<'_>) -> stdfmt::Result {
        f.debug_struct("Func")
            .field("sig", &self.sig)
            .finish_non_exhaustive()
    }
}

/// Named functions available to templates (Go's `template.FuncMap`). Built-ins (`and`, `or`,
/// `not`, `len`, `index`, `slice`, `print*`, `eq`…, `html`, `js`, `urlquery`, `call`) are always
/// present and can be overridden by registering the same name.
#[derive(Clone, Debug, Default)]
pub struct FuncMap {
    funcs: HashMap<String, Func>,
}

impl FuncMap {
    /// An empty map (built-ins are still available to templates).
    pub fn new() -> FuncMap {
        FuncMap::default()
    }

    /// Adds or replaces `name`.
    pub fn insert(&mut self, name: impl Into<String>, f: Func) {
        self.funcs.insert(name.into(), f);
    }

    /// Adds or replaces `name` with a context-free function.
    pub fn register(
        &mut self,
        name: &str,
        sig: Signature,
        f: impl Fn(&[Value]) -> FuncResult + Send + Sync + 'static,
    ) {
        self.insert(name, Func::pure(sig, f));
    }

    /// Adds or replaces `name` with a function that uses the [`CallContext`].
    pub fn register_with_context(
        &mut self,
        name: &str,
        sig: Signature,
        f: impl Fn(&mut CallContext<'_>, &[Value]) -> FuncResult + Send + Sync + 'static,
    ) {
        self.insert(name, Func::new(sig, f));
    }

    /// Adds every function of `other`, replacing same-named ones.
    pub fn extend(&mut self, other: FuncMap) {
        self.funcs.extend(other.funcs);
    }

    /// The function called `name`.
    pub fn get(&self, name: &str) -> Option<&Func> {
        self.funcs.get(name)
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.funcs.contains_key(name)
    }

    /// Registered names (unordered).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.funcs.keys().map(String::as_str)
    }
}

/// Per-execution state that host functions can keep (e.g. Helm's include-recursion counters).
#[derive(Default)]
pub(crate) struct Extensions {
    map: HashMap<TypeId, Box<dyn Any + Send>>,
}

impl Extensions {
    pub(crate) fn get_or_default<T: Default + Send + 'static>(&mut self) -> &mut T {
        let slot = self
            .map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()));
        match slot.downcast_mut::<T>() {
            Some(t) => t,
            None => unreachable!("extension slot keyed by its own TypeId"),
        }
    }
}

/// What the executor offers to functions; implemented by the running execution.
pub(crate) trait Host {
    fn execute_named(&mut self, name: &str, data: &Value) -> Result<String, Error>;
    fn render_string(&mut self, name: &str, src: &str, data: &Value) -> Result<String, Error>;
    fn has_template(&self, name: &str) -> bool;
    fn extensions(&mut self) -> &mut Extensions;
    fn current_template(&self) -> &str;
}

/// The handle a function receives: it can execute named templates of the running set and parse and
/// run new template text in it, as Helm's `include` and `tpl` do.
pub struct CallContext<'a> {
    host: &'a mut dyn Host,
}

impl<'a> CallContext<'a> {
    pub(crate) fn new(host: &'a mut dyn Host) -> CallContext<'a> {
        CallContext { host }
    }

    /// Executes the named template of the running set (including templates defined by enclosing
    /// [`CallContext::render_string`] calls) with `data` as dot, returning its output.
    pub fn execute_template(&mut self, name: &str, data: &Value) -> Result<String, Error> {
        self.host.execute_named(name, data)
    }

    /// Parses `src` as a new template called `name` in a copy of the running set (so its
    /// `define`s are visible to templates it executes, but not afterwards) and executes it with
    /// `data` — Helm's `tpl`.
    pub fn render_string(&mut self, name: &str, src: &str, data: &Value) -> Result<String, Error> {
        self.host.render_string(name, src, data)
    }

    /// Whether a template called `name` exists in the running set.
    pub fn has_template(&self, name: &str) -> bool {
        self.host.has_template(name)
    }

    /// Name of the template being executed (Go's `s.tmpl.Name()`).
    pub fn current_template(&self) -> &str {
        self.host.current_template()
    }

    /// Per-execution state of type `T`, created with `T::default()` on first use and kept for the
    /// rest of the top-level execution (across nested includes).
    pub fn state<T: Default + Send + 'static>(&mut self) -> &mut T {
        self.host.extensions().get_or_default::<T>()
    }
}
