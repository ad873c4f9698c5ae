//! Who the controller acts as for a release. A tenant's release must not be able to do more than
//! the tenant could with `kubectl`, so every operation on a release's objects and Helm storage
//! runs impersonating a service account of the release's namespace, as Flux does:
//! `spec.serviceAccountName`, else `--default-service-account`, else (single-tenant clusters)
//! the controller's own identity. The choice is a pure function; the clients are built once per
//! account from the controller's own `kube::Config` and cached.

use std::collections::HashMap;
use std::sync::Mutex;

use capstan_api::HelmRelease;
use kube::Client;

/// The account a release's operations impersonate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceAccount {
    /// The release's namespace.
    pub namespace: String,
    /// The service account name.
    pub name: String,
}

impl ServiceAccount {
    /// The user name the API server knows it by (`system:serviceaccount:<ns>:<name>`).
    pub fn user(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

impl std::fmt::Display for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "service account {}/{}", self.namespace, self.name)
    }
}

/// Flux's rule: `spec.serviceAccountName`, else the operator's `--default-service-account`,
/// both in the release's namespace; `None` means the controller's own identity.
pub fn service_account(release: &HelmRelease, default: Option<&str>) -> Option<ServiceAccount> {
    let name = release
        .spec
        .service_account_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .or(default.filter(|n| !n.is_empty()))?;
    Some(ServiceAccount {
        namespace: release.namespace_or_default().to_owned(),
        name: name.to_owned(),
    })
}

/// Building an impersonating client failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot build a client impersonating {account}")]
pub struct ImpersonateError {
    /// The account.
    pub account: ServiceAccount,
    /// Why.
    #[source]
    pub source: kube::Error,
}

/// The controller's client and, per service account, a client impersonating it.
pub struct Clients {
    base: Client,
    config: Option<kube::Config>,
    by_account: Mutex<HashMap<ServiceAccount, Client>>,
}

impl Clients {
    /// `config` is the configuration `base` was built from; without it impersonation is
    /// impossible and asking for it is an error (never a silent fallback to `base`).
    pub fn new(base: Client, config: Option<kube::Config>) -> Self {
        Clients {
            base,
            config,
            by_account: Mutex::new(HashMap::new()),
        }
    }

    /// The controller's own client.
    pub fn base(&self) -> &Client {
        &self.base
    }

    /// A client acting as `account` (the controller's own for `None`).
    pub fn acting_as(&self, account: Option<&ServiceAccount>) -> Result<Client, ImpersonateError> {
        let Some(account) = account else {
            return Ok(self.base.clone());
        };
        let mut cache = self
            .by_account
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cache.get(account) {
            return Ok(c.clone());
        }
        let fail = |source| ImpersonateError {
            account: account.clone(),
            source,
        };
        let mut config = self.config.clone().ok_or_else(|| {
            fail(kube::Error::Service(
                "the controller was started without a kube::Config to impersonate from".into(),
            ))
        })?;
        config.auth_info.impersonate = Some(account.user());
        config.auth_info.impersonate_groups = None;
        let client = Client::try_from(config).map_err(fail)?;
        cache.insert(account.clone(), client.clone());
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_api::HelmReleaseSpec;

    fn mk_release(namespace: &str, account: Option<&str>) -> HelmRelease {
        let mut r = HelmRelease::new(
            "web",
            HelmReleaseSpec {
                service_account_name: account.map(str::to_owned),
                ..Default::default()
            },
        );
        r.metadata.namespace = Some(namespace.into());
        r
    }

    fn sa(ns: &str, name: &str) -> Option<ServiceAccount> {
        Some(ServiceAccount {
            namespace: ns.into(),
            name: name.into(),
        })
    }

    #[test]
    fn the_release_account_wins_then_the_operator_default_then_none() {
        assert_eq!(
            service_account(&mk_release("team-a", Some("deployer")), Some("fallback")),
            sa("team-a", "deployer")
        );
        assert_eq!(
            service_account(&mk_release("team-a", None), Some("fallback")),
            sa("team-a", "fallback")
        );
        assert_eq!(
            service_account(&mk_release("team-a", Some("")), Some("fallback")),
            sa("team-a", "fallback")
        );
        assert_eq!(service_account(&mk_release("team-a", None), None), None);
    }

    #[test]
    fn the_user_is_the_api_servers_service_account_name() {
        let account = sa("team-a", "deployer").expect("an account");
        assert_eq!(account.user(), "system:serviceaccount:team-a:deployer");
        assert_eq!(account.to_string(), "service account team-a/deployer");
    }
}
