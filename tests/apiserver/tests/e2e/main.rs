//! End-to-end tests of the test API server through real clients (the `kube` client, kube-runtime's
//! watcher, the real `kubectl` and `helm`). Each test runs unchanged against a real cluster when
//! `CAPSTAN_E2E_KUBECONFIG` is set. One binary with a module per area keeps link time down.

mod apply;
mod crud;
mod finalizers;
mod kubectl;
mod rbac;
mod runtime;
mod watch;
mod workloads;

use kube::core::Status;

/// The `Status` of a failed API call.
pub(crate) fn api_error<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> Box<Status> {
    match r {
        Err(kube::Error::Api(s)) => s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Builds a typed object from JSON.
pub(crate) fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("valid object")
}
