//! The WIT contracts the host runs: the current `capstan:transform@0.2.0` and the frozen `0.1.0`
//! (`sdk/wit/compat/0.1.0`), so components built before `describe` keep working. Both share
//! one set of generated types (0.1.0's types are 0.2.0's minus `plugin-info`); a module is
//! linked against the newest contract it implements, and a call is one `match` away from
//! either.

use wasmtime::Store;

use crate::sandbox::StoreState;

mod current {
    wasmtime::component::bindgen!({
        path: "../../sdk/wit",
        world: "transform",
    });
}

mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../sdk/wit/compat/0.1.0",
        world: "transform",
        with: {
            "capstan:transform/types": super::current::capstan::transform::types,
        },
    });
}

pub(crate) use current::capstan::transform::types as wit;

/// A module linked against one of the contracts.
pub(crate) enum Pre {
    /// `0.2.0`: has `describe`.
    Current(current::TransformPre<StoreState>),
    /// `0.1.0`: no `describe`; always the whole list in one call.
    V0_1(v0_1::TransformPre<StoreState>),
}

/// One instance of a module, for one call.
pub(crate) enum Instance {
    Current(current::Transform),
    V0_1(v0_1::Transform),
}

/// What a `transform` call returns: the guest's own result, or how the call itself failed.
pub(crate) type TransformResult =
    wasmtime::Result<Result<wit::TransformOutput, wit::TransformError>>;

impl Pre {
    /// Links `instance_pre` against the current contract, else against 0.1.0. On failure, the
    /// current contract's complaint (what an author should build against).
    pub(crate) fn new(
        instance_pre: wasmtime::component::InstancePre<StoreState>,
    ) -> wasmtime::Result<Pre> {
        match current::TransformPre::new(instance_pre.clone()) {
            Ok(pre) => Ok(Pre::Current(pre)),
            Err(current_err) => v0_1::TransformPre::new(instance_pre)
                .map(Pre::V0_1)
                .map_err(|_| current_err),
        }
    }

    /// The contract version the module implements.
    pub(crate) fn version(&self) -> &'static str {
        match self {
            Pre::Current(_) => "0.2.0",
            Pre::V0_1(_) => "0.1.0",
        }
    }

    pub(crate) fn instantiate(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Instance> {
        Ok(match self {
            Pre::Current(pre) => Instance::Current(pre.instantiate(&mut *store)?),
            Pre::V0_1(pre) => Instance::V0_1(pre.instantiate(&mut *store)?),
        })
    }
}

impl Instance {
    pub(crate) fn call_transform(
        &self,
        store: &mut Store<StoreState>,
        ctx: &wit::ReleaseContext,
        config: &str,
        objects: &[String],
    ) -> TransformResult {
        match self {
            Instance::Current(i) => i.call_transform(store, ctx, config, objects),
            Instance::V0_1(i) => i.call_transform(store, ctx, config, objects),
        }
    }

    pub(crate) fn call_validate_config(
        &self,
        store: &mut Store<StoreState>,
        config: &str,
    ) -> wasmtime::Result<Vec<wit::Diagnostic>> {
        match self {
            Instance::Current(i) => i.call_validate_config(store, config),
            Instance::V0_1(i) => i.call_validate_config(store, config),
        }
    }

    /// `describe`'s `per-object`; `false` for a 0.1.0 module, which cannot say.
    pub(crate) fn call_per_object(&self, store: &mut Store<StoreState>) -> wasmtime::Result<bool> {
        match self {
            Instance::Current(i) => Ok(i.call_describe(store)?.per_object),
            Instance::V0_1(_) => Ok(false),
        }
    }
}
