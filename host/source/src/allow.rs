//! The operator's allow-list of hosts that charts and modules may be fetched from.
//!
//! A tenant writes the URLs (a HelmRepository, a WasmPlugin's `url`, an `oci://` reference, an
//! `index.yaml` pointing elsewhere, a redirect); the controller does the fetching. Without a list
//! a tenant could make the controller request any address it can reach — a cloud metadata
//! endpoint, an internal service. The list is process-wide (it is the operator's policy, set
//! once at start-up by `capstan controller --allowed-hosts`) and checked by the one HTTP client
//! on every request and every redirect hop, so no source kind can bypass it.

use std::sync::OnceLock;

/// Hosts that may be contacted: `host`, `host:port`, or `*.domain` (any subdomain, not the
/// domain itself). Matching is case-insensitive; an entry without a port allows every port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    host: String,
    wildcard: bool,
    port: Option<u16>,
}

/// An allow-list entry that is not `host`, `host:port` or `*.domain`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowed host {entry:?}: {reason} (accepted: host, host:port or *.domain)")]
pub struct ParseAllowedHostError {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl AllowedHosts {
    /// Parses entries (`registry.example.com`, `charts.example.com:8443`, `*.example.com`,
    /// `127.0.0.1`, `[::1]:5000`).
    pub fn parse<I, S>(entries: I) -> Result<Self, ParseAllowedHostError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for raw in entries {
            let raw = raw.as_ref().trim();
            let bad = |reason| ParseAllowedHostError {
                entry: raw.to_owned(),
                reason,
            };
            if raw.is_empty() {
                return Err(bad("it is empty"));
            }
            if raw.contains("://") || raw.contains('/') {
                return Err(bad("it is a URL or path, not a host"));
            }
            let (host, port) =
                split_host_port(raw).ok_or_else(|| bad("the port is not a number"))?;
            let (host, wildcard) = match host.strip_prefix("*.") {
                Some(rest) => (rest, true),
                None => (host, false),
            };
            if host.is_empty() || host.contains('*') {
                return Err(bad("a wildcard may only be a leading \"*.\""));
            }
            out.push(Entry {
                host: host.to_ascii_lowercase(),
                wildcard,
                port,
            });
        }
        Ok(AllowedHosts { entries: out })
    }

    /// Whether `url` (any scheme with an authority: `https://`, `http://`, `oci://`) may be
    /// contacted.
    pub fn permits(&self, url: &str) -> bool {
        let Some((host, port)) = url_host_port(url) else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        self.entries.iter().any(|e| {
            let host_ok = if e.wildcard {
                host.strip_suffix(e.host.as_str())
                    .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
            } else {
                host == e.host
            };
            host_ok && e.port.is_none_or(|p| Some(p) == port)
        })
    }
}

impl std::fmt::Display for AllowedHosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if e.wildcard {
                f.write_str("*.")?;
            }
            f.write_str(&e.host)?;
            if let Some(p) = e.port {
                write!(f, ":{p}")?;
            }
        }
        Ok(())
    }
}

/// `host[:port]` with IPv6 literals in brackets; the host is returned without brackets.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if after.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

/// The host and explicit port of a URL's authority (user info dropped).
fn url_host_port(url: &str) -> Option<(&str, Option<u16>)> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority)?;
    (!host.is_empty()).then_some((host, port))
}

static ALLOWED: OnceLock<AllowedHosts> = OnceLock::new();

/// Restricts every fetch of this process to `hosts`, for the rest of its life. Returns `false`
/// (and changes nothing) when a list was already set.
pub fn restrict_hosts(hosts: AllowedHosts) -> bool {
    ALLOWED.set(hosts).is_ok()
}

/// The process-wide allow-list, if one was set.
pub fn allowed_hosts() -> Option<&'static AllowedHosts> {
    ALLOWED.get()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk(entries: &[&str]) -> AllowedHosts {
        AllowedHosts::parse(entries).expect("valid")
    }

    #[test]
    fn hosts_ports_and_wildcards() {
        let a = mk(&[
            "charts.example.com",
            "*.registry.io",
            "127.0.0.1:5000",
            "[::1]",
        ]);
        assert!(a.permits("https://charts.example.com/index.yaml"));
        assert!(a.permits("https://CHARTS.example.com:8443/x"));
        assert!(a.permits("oci://eu.registry.io/team/plugin:1.0"));
        assert!(
            !a.permits("oci://registry.io/team/plugin:1.0"),
            "the domain itself"
        );
        assert!(!a.permits("https://evilregistry.io/x"));
        assert!(a.permits("http://127.0.0.1:5000/v2/"));
        assert!(!a.permits("http://127.0.0.1:5001/v2/"));
        assert!(a.permits("http://[::1]:9/x"));
        assert!(!a.permits("http://169.254.169.254/latest/meta-data/"));
        assert!(
            !a.permits("https://charts.example.com@169.254.169.254/"),
            "user info is not the host"
        );
        assert!(!a.permits("file:///etc/passwd"));
        assert!(!a.permits("not a url"));
        assert_eq!(
            a.to_string(),
            "charts.example.com,*.registry.io,127.0.0.1:5000,::1"
        );
    }

    #[test]
    fn bad_entries_are_named() {
        for (entry, reason) in [
            ("", "it is empty"),
            ("https://x.io", "it is a URL or path, not a host"),
            ("x.io:http", "the port is not a number"),
            ("a.*.io", "a wildcard may only be a leading \"*.\""),
        ] {
            let e = AllowedHosts::parse([entry]).expect_err(entry);
            assert_eq!(e.reason, reason, "{entry}");
            assert!(
                e.to_string()
                    .contains("accepted: host, host:port or *.domain")
            );
        }
    }
}
