//! Impersonation and RBAC authorization.
//!
//! Requests without `Impersonate-User` are made by the cluster administrator (user `admin`,
//! group `system:masters`) and always allowed — the kubeconfig the server writes carries no
//! credentials. With `Impersonate-User` (and `Impersonate-Group`, repeatable) the request is
//! authorized as that user by the RBAC rules stored in the server (Kubernetes "Using RBAC
//! Authorization"): ClusterRoleBindings grant their ClusterRole everywhere, RoleBindings grant a
//! Role or ClusterRole in their namespace; rules match `apiGroups`, `resources` (with
//! `resource/subresource`), `verbs` and `resourceNames`, `*` as wildcard. A service-account user
//! `system:serviceaccount:<ns>:<name>` is in groups `system:serviceaccounts`,
//! `system:serviceaccounts:<ns>` and every user in `system:authenticated`. Denials are 403
//! `Forbidden` with the API server's message. Simplifications: no aggregated ClusterRoles, no
//! default roles except `cluster-admin` and `system:basic-user` (every authenticated user may
//! create SelfSubjectAccessReviews, which answers `kubectl auth can-i`), no non-resource URL checks, no escalation checks on
//! role creation, and the impersonating caller is not itself authorized for `impersonate`.

use crate::error::ApiError;
use crate::registry::ResourceType;
use crate::store::State;
use serde_json::Value;

/// The user a request acts as.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) groups: Vec<String>,
    pub(crate) admin: bool,
}

impl User {
    pub(crate) fn admin() -> User {
        User {
            name: "admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            admin: true,
        }
    }

    pub(crate) fn impersonated(name: &str, groups: Vec<String>) -> User {
        let mut groups = groups;
        if let Some(rest) = name.strip_prefix("system:serviceaccount:")
            && let Some((ns, _)) = rest.split_once(':')
        {
            groups.push("system:serviceaccounts".into());
            groups.push(format!("system:serviceaccounts:{ns}"));
        }
        groups.push("system:authenticated".into());
        let admin = groups.iter().any(|g| g == "system:masters");
        User {
            name: name.into(),
            groups,
            admin,
        }
    }

    fn is_subject(&self, subject: &Value, binding_ns: &str) -> bool {
        let name = subject["name"].as_str().unwrap_or_default();
        match subject["kind"].as_str().unwrap_or_default() {
            "User" => self.name == name,
            "Group" => self.groups.iter().any(|g| g == name),
            "ServiceAccount" => {
                let ns = subject["namespace"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or(binding_ns);
                self.name == format!("system:serviceaccount:{ns}:{name}")
            }
            _ => false,
        }
    }
}

fn matches(list: &Value, want: &str) -> bool {
    list.as_array()
        .is_some_and(|a| a.iter().any(|v| v == "*" || v == want))
}

fn rule_allows(rule: &Value, verb: &str, group: &str, resource: &str, name: &str) -> bool {
    matches(&rule["verbs"], verb)
        && matches(&rule["apiGroups"], group)
        && (matches(&rule["resources"], resource)
            || resource.split_once('/').is_some_and(|(r, s)| {
                matches(&rule["resources"], &format!("{r}/*"))
                    || matches(&rule["resources"], &format!("*/{s}"))
            }))
        && (rule["resourceNames"]
            .as_array()
            .is_none_or(|n| n.is_empty() || n.iter().any(|x| x == name)))
}

/// What is being asked.
pub(crate) struct Attributes<'a> {
    pub(crate) verb: &'a str,
    pub(crate) rt: &'a ResourceType,
    pub(crate) subresource: &'a str,
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
}

/// Whether RBAC allows `user` to `verb` the `resource` (`plural` or `plural/subresource`) of
/// `group` named `name` in `namespace` ("" for cluster scope).
pub(crate) fn allowed(
    state: &State,
    user: &User,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
) -> bool {
    if user.admin {
        return true;
    }
    let role_rules = |kind: &str, ns: &str, role: &str| -> Vec<Value> {
        let (storage, ns) = if kind == "ClusterRole" {
            ("rbac.authorization.k8s.io/clusterroles", "")
        } else {
            ("rbac.authorization.k8s.io/roles", ns)
        };
        state
            .lookup(storage, ns, role)
            .and_then(|r| r["rules"].as_array().cloned())
            .unwrap_or_default()
    };
    let allowed_by = |rules: Vec<Value>| {
        rules
            .iter()
            .any(|r| rule_allows(r, verb, group, resource, name))
    };
    for b in state.objects_of("rbac.authorization.k8s.io/clusterrolebindings", "") {
        let subjects = b["subjects"].as_array().cloned().unwrap_or_default();
        if subjects.iter().any(|s| user.is_subject(s, ""))
            && allowed_by(role_rules(
                "ClusterRole",
                "",
                b["roleRef"]["name"].as_str().unwrap_or_default(),
            ))
        {
            return true;
        }
    }
    if !namespace.is_empty() {
        for b in state.objects_of("rbac.authorization.k8s.io/rolebindings", namespace) {
            let subjects = b["subjects"].as_array().cloned().unwrap_or_default();
            let kind = b["roleRef"]["kind"].as_str().unwrap_or_default();
            let role = b["roleRef"]["name"].as_str().unwrap_or_default();
            if subjects.iter().any(|s| user.is_subject(s, namespace))
                && allowed_by(role_rules(kind, namespace, role))
            {
                return true;
            }
        }
    }
    false
}

/// The API server's reason text for a denial (`forbiddenMessage`).
pub(crate) fn denial(
    user: &User,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
) -> String {
    if namespace.is_empty() {
        format!(
            "User {:?} cannot {verb} resource {resource:?} in API group {group:?} at the cluster scope",
            user.name
        )
    } else {
        format!(
            "User {:?} cannot {verb} resource {resource:?} in API group {group:?} in the namespace {namespace:?}",
            user.name
        )
    }
}

/// Allows or denies with the API server's 403.
pub(crate) fn authorize(state: &State, user: &User, a: &Attributes<'_>) -> Result<(), ApiError> {
    let resource = if a.subresource.is_empty() {
        a.rt.plural.clone()
    } else {
        format!("{}/{}", a.rt.plural, a.subresource)
    };
    if allowed(
        state,
        user,
        a.verb,
        &a.rt.group,
        &resource,
        a.namespace,
        a.name,
    ) {
        return Ok(());
    }
    let why = denial(user, a.verb, &a.rt.group, &resource, a.namespace);
    Err(ApiError::forbidden(a.rt, a.name, &why))
}

/// Answers a SelfSubjectAccessReview (for the caller) or SubjectAccessReview (for `spec.user` and
/// `spec.groups`): `status.allowed`.
pub(crate) fn review(state: &State, caller: &User, mut body: Value, kind: &str) -> Value {
    let spec = &body["spec"];
    let user = if kind == "SubjectAccessReview" {
        let groups = spec["groups"]
            .as_array()
            .map(|g| {
                g.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        User::impersonated(spec["user"].as_str().unwrap_or_default(), groups)
    } else {
        caller.clone()
    };
    let ra = &spec["resourceAttributes"];
    let s = |k: &str| ra[k].as_str().unwrap_or_default().to_string();
    let resource = if s("subresource").is_empty() {
        s("resource")
    } else {
        format!("{}/{}", s("resource"), s("subresource"))
    };
    let ok = allowed(
        state,
        &user,
        &s("verb"),
        &s("group"),
        &resource,
        &s("namespace"),
        &s("name"),
    );
    body["status"] = if ok {
        serde_json::json!({"allowed": true, "reason": "allowed by RBAC"})
    } else {
        // RBAC gives no reason when it denies.
        serde_json::json!({"allowed": false})
    };
    body
}
