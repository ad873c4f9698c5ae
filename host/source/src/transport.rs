//! The one blocking HTTP client every source uses, so timeouts, size limits, redirects and
//! credentials are decided in a single place.
//!
//! Responses of any status are returned as data (the OCI client needs to see `401` challenges
//! and `404`s); only transport failures are errors. Bodies are read whole, bounded by
//! [`MAX_BODY`]. Plain `http://` always works; `https://` needs the crate's `https` feature.

use std::time::Duration;

use ureq::http;

use crate::allow::AllowedHosts;

/// Redirects followed per request.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// Largest response body read into memory (chart archives, modules, big `index.yaml`s).
pub(crate) const MAX_BODY: u64 = 256 * 1024 * 1024;

/// An HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be sent or no response arrived (DNS, connect, TLS, timeout).
    #[error("request failed")]
    Send(#[source] Box<ureq::Error>),
    /// The response body could not be read (or was larger than the limit).
    #[error("reading the response body failed")]
    ReadBody(#[source] Box<ureq::Error>),
    /// The URL (or a redirect's target) is outside the operator's allow-list
    /// ([`crate::restrict_hosts`]); nothing was sent to it.
    #[error(
        "refused to contact {url}: its host is not in the operator's allow-list of hosts ({allowed})"
    )]
    Refused {
        /// The URL that was not requested.
        url: String,
        /// The allow-list, for the message.
        allowed: String,
    },
    /// A chain of redirects longer than [`MAX_REDIRECTS`].
    #[error("more than {MAX_REDIRECTS} redirects, the last to {url}")]
    TooManyRedirects {
        /// The last redirect's target.
        url: String,
    },
    /// The server answered with an unexpected status.
    #[error("server answered HTTP {status}{}", detail(.body))]
    Status {
        /// HTTP status code.
        status: u16,
        /// The start of the response body, for the server's explanation.
        body: String,
    },
}

fn detail(body: &str) -> String {
    if body.trim().is_empty() {
        String::new()
    } else {
        format!(": {}", body.trim())
    }
}

/// TLS settings for a repository or registry (Flux's `certSecretRef`: `ca.crt`, `tls.crt`,
/// `tls.key`; `insecure` skip-verify for tests). Applying them needs the `https` feature.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM certificates to trust instead of the built-in web PKI roots.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain (mutual TLS); needs `client_key_pem`.
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM private key of the client certificate.
    pub client_key_pem: Option<Vec<u8>>,
    /// Accept any server certificate. Never use outside tests.
    pub insecure_skip_verify: bool,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field(
                "client_cert_pem",
                &self.client_cert_pem.as_ref().map(Vec::len),
            )
            .field(
                "client_key_pem",
                &self.client_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .finish()
    }
}

/// TLS settings could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The crate was built without the `https` feature.
    #[error("TLS settings need capstan-source's `https` feature")]
    Unsupported,
    /// A PEM blob is not valid.
    #[error("invalid PEM in {what}")]
    ParsePem {
        /// `ca_pem`, `client_cert_pem` or `client_key_pem`.
        what: &'static str,
        /// The parse failure.
        #[source]
        source: Box<ureq::Error>,
    },
    /// A PEM blob holds no certificate or key.
    #[error("{what} holds no {expected}")]
    EmptyPem {
        /// Which field.
        what: &'static str,
        /// What was expected in it.
        expected: &'static str,
    },
}

/// Username and password for HTTP basic auth (Helm repositories, registries, token realms).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Basic-auth credentials.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The `Authorization` header value.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64(raw.as_bytes()))
    }
}

/// Standard base64 with padding (RFC 4648), for basic auth.
pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A response read whole.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Turn a non-success response into an error carrying the start of its body.
    pub(crate) fn into_status_error(self) -> HttpError {
        let mut body = String::from_utf8_lossy(&self.body).into_owned();
        if body.len() > 512 {
            let mut end = 512;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body.truncate(end);
            body.push('…');
        }
        HttpError::Status {
            status: self.status,
            body,
        }
    }

    /// `Ok(self)` for 2xx, the status error otherwise.
    pub(crate) fn success(self) -> Result<Self, HttpError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.into_status_error())
        }
    }
}

fn send_error(error: ureq::Error) -> HttpError {
    HttpError::Send(Box::new(error))
}

/// The shared blocking client.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    agent: ureq::Agent,
    /// When set, every request and redirect hop is checked against it, and redirects are
    /// followed here rather than by ureq.
    allowed: Option<&'static AllowedHosts>,
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

impl Http {
    fn config(
        allowed: Option<&AllowedHosts>,
    ) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
        ureq::Agent::config_builder()
            .max_redirects(if allowed.is_some() {
                0
            } else {
                MAX_REDIRECTS as u32
            })
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_global(Some(Duration::from_secs(600)))
            .user_agent(concat!("capstan/", env!("CARGO_PKG_VERSION")))
    }

    pub(crate) fn new() -> Self {
        Self::restricted(crate::allow::allowed_hosts())
    }

    fn restricted(allowed: Option<&'static AllowedHosts>) -> Self {
        Http {
            agent: ureq::Agent::new_with_config(Self::config(allowed).build()),
            allowed,
        }
    }

    /// A client using `options` for every `https://` request.
    #[cfg(feature = "https")]
    pub(crate) fn with_tls(options: &TlsOptions) -> Result<Self, TlsError> {
        use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
        let certificates = |what: &'static str,
                            pem: &[u8]|
         -> Result<Vec<Certificate<'static>>, TlsError> {
            let mut out = Vec::new();
            for item in ureq::tls::parse_pem(pem) {
                if let PemItem::Certificate(cert) = item.map_err(|source| TlsError::ParsePem {
                    what,
                    source: Box::new(source),
                })? {
                    out.push(cert);
                }
            }
            if out.is_empty() {
                return Err(TlsError::EmptyPem {
                    what,
                    expected: "certificate",
                });
            }
            Ok(out)
        };
        let mut tls = TlsConfig::builder().disable_verification(options.insecure_skip_verify);
        if let Some(pem) = &options.ca_pem {
            tls = tls.root_certs(RootCerts::Specific(std::sync::Arc::new(certificates(
                "ca_pem", pem,
            )?)));
        }
        if let (Some(cert), Some(key)) = (&options.client_cert_pem, &options.client_key_pem) {
            let chain = certificates("client_cert_pem", cert)?;
            let key = PrivateKey::from_pem(key).map_err(|source| TlsError::ParsePem {
                what: "client_key_pem",
                source: Box::new(source),
            })?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
        }
        let allowed = crate::allow::allowed_hosts();
        let config = Self::config(allowed).tls_config(tls.build()).build();
        Ok(Http {
            agent: ureq::Agent::new_with_config(config),
            allowed,
        })
    }

    /// Without the `https` feature there is no TLS to configure.
    #[cfg(not(feature = "https"))]
    pub(crate) fn with_tls(_options: &TlsOptions) -> Result<Self, TlsError> {
        Err(TlsError::Unsupported)
    }

    /// Send a request and read the whole response, whatever its status. Under an allow-list,
    /// redirects are followed here, each target checked first and `Authorization` dropped (as
    /// ureq does by default).
    pub(crate) fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, HttpError> {
        let Some(allowed) = self.allowed else {
            return self.send_once(method, url, headers, body);
        };
        let (mut method, mut url, mut body) = (method, url.to_owned(), body);
        let mut headers = headers.to_vec();
        for _ in 0..=MAX_REDIRECTS {
            if !allowed.permits(&url) {
                return Err(HttpError::Refused {
                    url,
                    allowed: allowed.to_string(),
                });
            }
            let response = self.send_once(method, &url, &headers, body)?;
            let location = match response.status {
                301 | 302 | 303 | 307 | 308 => response.header("location"),
                _ => None,
            };
            let Some(location) = location else {
                return Ok(response);
            };
            url = resolve_location(&url, location);
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
            if !matches!(response.status, 307 | 308) && method != "HEAD" {
                method = "GET";
                body = None;
            }
        }
        Err(HttpError::TooManyRedirects { url })
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response, HttpError> {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let result = match body {
            None => builder
                .body(())
                .map_err(|e| HttpError::Send(Box::new(ureq::Error::Http(e))))
                .and_then(|req| self.agent.run(req).map_err(send_error)),
            Some(bytes) => builder
                .body(bytes)
                .map_err(|e| HttpError::Send(Box::new(ureq::Error::Http(e))))
                .and_then(|req| self.agent.run(req).map_err(send_error)),
        };
        let mut response = result?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = if method == "HEAD" {
            Vec::new()
        } else {
            response
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_vec()
                .map_err(|e| HttpError::ReadBody(Box::new(e)))?
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    pub(crate) fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
        self.send("GET", url, headers, None)
    }
}

/// A redirect's `Location` resolved against the URL that answered (RFC 3986 §5.2, for the
/// forms servers send: absolute, scheme-relative, absolute-path and relative-path).
fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let Some(origin) = origin(base) else {
        return location.to_owned();
    };
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = &base[..base.find("://").unwrap_or(0)];
        return format!("{scheme}://{rest}");
    }
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = &base[origin.len()..];
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{origin}{dir}{location}")
}

/// The `scheme://authority` part of a URL (`None` when there is no scheme).
pub(crate) fn origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let end = rest
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + 3 + i);
    Some(&url[..end])
}

/// Resolve a possibly relative reference against a base URL the way Helm resolves chart
/// `urls` against a repository URL: the base is treated as a directory.
pub(crate) fn resolve_reference(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_owned();
    }
    let (base, query) = match base.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (base, None),
    };
    let Some(origin) = origin(base) else {
        return reference.to_owned();
    };
    let base_path = &base[origin.len()..];
    let mut segments: Vec<&str> = if reference.starts_with('/') {
        Vec::new()
    } else {
        base_path.split('/').filter(|s| !s.is_empty()).collect()
    };
    for segment in reference.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut url = format!("{origin}/{}", segments.join("/"));
    if reference.ends_with('/') && !url.ends_with('/') {
        url.push('/');
    }
    if let Some(q) = query
        && !url.contains('?')
    {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(
            Credentials::new("aladdin", "opensesame").basic_header(),
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l"
        );
    }

    #[test]
    fn resolves_chart_urls_like_helm() {
        let base = "https://charts.example.com/stable";
        assert_eq!(
            resolve_reference(base, "redis-1.0.0.tgz"),
            "https://charts.example.com/stable/redis-1.0.0.tgz"
        );
        assert_eq!(
            resolve_reference(
                "https://charts.example.com/stable/",
                "charts/redis-1.0.0.tgz"
            ),
            "https://charts.example.com/stable/charts/redis-1.0.0.tgz"
        );
        assert_eq!(
            resolve_reference(base, "/dl/redis-1.0.0.tgz"),
            "https://charts.example.com/dl/redis-1.0.0.tgz"
        );
        assert_eq!(
            resolve_reference(base, "../other/redis-1.0.0.tgz"),
            "https://charts.example.com/other/redis-1.0.0.tgz"
        );
        assert_eq!(
            resolve_reference(base, "http://mirror.example.org/redis-1.0.0.tgz"),
            "http://mirror.example.org/redis-1.0.0.tgz"
        );
        assert_eq!(
            resolve_reference("http://127.0.0.1:8080?token=x", "a.tgz"),
            "http://127.0.0.1:8080/a.tgz?token=x"
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/x/y"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("oci://host:5000"), Some("oci://host:5000"));
    }

    /// A loopback server answering each connection with the next canned response; it records
    /// the request heads it saw.
    fn canned(responses: Vec<String>) -> (String, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for response in responses {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let _ = tx.send(head);
                let mut stream = stream;
                let _ = stream.write_all(response.as_bytes());
            }
        });
        (url, rx)
    }

    fn redirect(to: &str) -> String {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    }

    const OK: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

    fn leak(hosts: &[&str]) -> &'static AllowedHosts {
        Box::leak(Box::new(AllowedHosts::parse(hosts).expect("valid")))
    }

    #[test]
    fn an_allow_list_refuses_hosts_and_redirect_targets_outside_it() {
        // The first URL itself.
        let http = Http::restricted(Some(leak(&["charts.example.com"])));
        let err = http
            .get("http://169.254.169.254/latest/meta-data/", &[])
            .expect_err("refused");
        assert!(
            matches!(&err, HttpError::Refused { url, .. } if url == "http://169.254.169.254/latest/meta-data/"),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("allow-list of hosts (charts.example.com)"),
            "{err}"
        );

        // A redirect to a host outside the list is not followed.
        let (url, seen) = canned(vec![redirect("http://169.254.169.254/latest/meta-data/")]);
        let http = Http::restricted(Some(leak(&["127.0.0.1"])));
        let err = http
            .get(
                &format!("{url}/index.yaml"),
                &[("Authorization", "Basic c2VjcmV0")],
            )
            .expect_err("refused");
        assert!(
            matches!(&err, HttpError::Refused { url, .. } if url.starts_with("http://169.254.169.254/")),
            "{err:?}"
        );
        assert!(
            seen.recv()
                .expect("one request")
                .starts_with("GET /index.yaml ")
        );

        // A redirect inside the list is followed, without the credentials.
        let (url, seen) = canned(vec![redirect("/charts/web-1.0.0.tgz"), OK.to_owned()]);
        let response = http
            .get(
                &format!("{url}/index.yaml"),
                &[("Authorization", "Basic c2VjcmV0")],
            )
            .expect("followed");
        assert_eq!(response.body, b"ok");
        let first = seen.recv().expect("first");
        let second = seen.recv().expect("second");
        assert!(
            first.to_ascii_lowercase().contains("authorization: basic"),
            "{first}"
        );
        assert!(second.starts_with("GET /charts/web-1.0.0.tgz "), "{second}");
        assert!(
            !second.to_ascii_lowercase().contains("authorization"),
            "{second}"
        );
    }

    #[test]
    fn redirect_locations_resolve_like_browsers() {
        let base = "http://h:1/v2/team/blobs/sha256:ab?x=1";
        assert_eq!(
            resolve_location(base, "https://s3.example/b"),
            "https://s3.example/b"
        );
        assert_eq!(
            resolve_location(base, "//cdn.example/b"),
            "http://cdn.example/b"
        );
        assert_eq!(resolve_location(base, "/other"), "http://h:1/other");
        assert_eq!(
            resolve_location(base, "next"),
            "http://h:1/v2/team/blobs/next"
        );
        assert_eq!(resolve_location("http://h:1", "next"), "http://h:1/next");
    }
}
