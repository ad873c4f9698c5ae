//! Real servers for tests, on loopback: a tiny HTTP Helm repository that serves a directory,
//! and a `docker-registry` (CNCF distribution 2.8, Debian's package) started on a free port.
//!
//! Both stop when dropped. When the registry binary is missing, [`Registry::start`] installs
//! it with `.ci/install-registry` (Debian's package) and fails, saying how to install it, when
//! that is not possible: the OCI tests never skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::oci::OciReference;
use crate::transport::Credentials;

/// An HTTP server for a directory (`index.yaml` + `*.tgz`), on `127.0.0.1:<free port>`.
#[derive(Debug)]
pub struct HelmRepoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl HelmRepoServer {
    /// Serve `dir` anonymously.
    pub fn serve(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        Self::start(dir.into(), None)
    }

    /// Serve `dir`, answering `401` to requests without these basic-auth credentials.
    pub fn serve_with_basic_auth(
        dir: impl Into<PathBuf>,
        credentials: Credentials,
    ) -> std::io::Result<Self> {
        Self::start(dir.into(), Some(credentials.basic_header()))
    }

    fn start(dir: PathBuf, auth: Option<String>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let dir = dir.clone();
                    let auth = auth.clone();
                    let requests = Arc::clone(&requests);
                    std::thread::spawn(move || {
                        // A broken client connection is the client's problem; nothing to report.
                        let _ = handle(stream, &dir, auth.as_deref(), &requests);
                    });
                }
            })
        };
        Ok(HelmRepoServer {
            addr,
            stop,
            requests,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served so far, as `"GET /path"`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for HelmRepoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(
    stream: TcpStream,
    dir: &Path,
    auth: Option<&str>,
    requests: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let path = target.split('?').next().unwrap_or("/").to_owned();
    if let Ok(mut log) = requests.lock() {
        log.push(format!("{method} {path}"));
    }
    let mut out = stream;
    if let Some(expected) = auth
        && authorization.as_deref() != Some(expected)
    {
        return respond(
            &mut out,
            "401 Unauthorized",
            &[("WWW-Authenticate", "Basic realm=\"charts\"")],
            b"unauthorized\n",
            &method,
        );
    }
    if method != "GET" && method != "HEAD" {
        return respond(&mut out, "405 Method Not Allowed", &[], b"", &method);
    }
    let relative = Path::new(path.trim_start_matches('/'));
    let safe = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    let file = dir.join(relative);
    match std::fs::read(&file) {
        Ok(body) if safe && file.is_file() => {
            let content_type = if path.ends_with(".yaml") {
                "application/x-yaml"
            } else {
                "application/gzip"
            };
            respond(
                &mut out,
                "200 OK",
                &[("Content-Type", content_type)],
                &body,
                &method,
            )
        }
        _ => respond(&mut out, "404 Not Found", &[], b"not found\n", &method),
    }
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    method: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(body)?;
    }
    out.flush()
}

/// Where the `docker-registry` binary is: `$CAPSTAN_DOCKER_REGISTRY` or
/// `/usr/bin/docker-registry`.
pub fn registry_binary() -> PathBuf {
    std::env::var_os("CAPSTAN_DOCKER_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"))
}

/// Runs `.ci/install-registry` (once per process); an error saying how to install the registry
/// when it fails.
fn install_registry(binary: &Path) -> std::io::Result<()> {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if binary.is_file() {
        return Ok(());
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/install-registry");
    let output = Command::new(&script).output();
    if binary.is_file() {
        return Ok(());
    }
    let why = match output {
        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
        Err(e) => e.to_string(),
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!(
            "{} not found and {} could not install it ({why}); install Debian's docker-registry \
             package (`apt-get install docker-registry`) or set CAPSTAN_DOCKER_REGISTRY",
            binary.display(),
            script.display()
        ),
    ))
}

/// A `docker-registry` process with its own storage, on `127.0.0.1:<free port>`; killed on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    address: String,
    dir: tempfile::TempDir,
}

impl Registry {
    /// Start an anonymous registry and wait until `/v2/` answers; installs the registry first
    /// when it is missing (see the module docs).
    pub fn start() -> std::io::Result<Registry> {
        Self::start_with(None, None)
    }

    /// Start a registry that demands HTTP basic auth, with one `user:bcrypt-hash` htpasswd line.
    pub fn start_with_htpasswd(htpasswd: &str) -> std::io::Result<Registry> {
        Self::start_with(Some(htpasswd), None)
    }

    /// Start a registry serving HTTPS with `pki`'s server certificate.
    pub fn start_tls(pki: &TestPki) -> std::io::Result<Registry> {
        Self::start_with(None, Some(pki))
    }

    fn start_with(htpasswd: Option<&str>, tls: Option<&TestPki>) -> std::io::Result<Registry> {
        let binary = registry_binary();
        if !binary.is_file() {
            install_registry(&binary)?;
        }
        // The free port is found by binding and releasing it, so another process can take it
        // before the registry binds; try again on a new port when that happens.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::spawn(&binary, htpasswd, tls) {
                Ok(registry) => return Ok(registry),
                Err(e) if attempt < 5 && e.to_string().contains("address already in use") => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn spawn(
        binary: &Path,
        htpasswd: Option<&str>,
        tls: Option<&TestPki>,
    ) -> std::io::Result<Registry> {
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = format!("127.0.0.1:{port}");
        let auth = match htpasswd {
            None => String::new(),
            Some(line) => {
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, format!("{line}\n"))?;
                format!(
                    "auth:\n  htpasswd:\n    realm: capstan-test\n    path: {}\n",
                    path.display()
                )
            }
        };
        let tls = match tls {
            None => String::new(),
            Some(pki) => format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                pki.server_cert.display(),
                pki.server_key.display()
            ),
        };
        let config = format!(
            "{auth}version: 0.1\n\
             log:\n  level: warn\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {address}\n  secret: capstan-test-secret\n{tls}\
             health:\n  storagedriver:\n    enabled: false\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut registry = Registry {
            child,
            address,
            dir,
        };
        registry.wait_ready(Duration::from_secs(30))?;
        Ok(registry)
    }

    fn wait_ready(&mut self, timeout: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "docker-registry exited with {status}: {}",
                    self.log()
                )));
            }
            if probe(&self.address).is_ok_and(|status| matches!(status, 200 | 400 | 401)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "docker-registry did not answer on {} within {timeout:?}: {}",
                        self.address,
                        self.log()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// `oci://127.0.0.1:<port>/<repository>`.
    pub fn reference(&self, repository: &str) -> OciReference {
        OciReference {
            registry: self.address.clone(),
            repository: repository.to_owned(),
            tag: None,
            digest: None,
        }
    }

    /// The registry's storage directory (to tamper with blobs in tests).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// What the registry has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway certificate authority and a server certificate for `127.0.0.1`, made with the
/// `openssl` command.
#[derive(Debug)]
pub struct TestPki {
    /// The CA certificate (PEM), to trust.
    pub ca_pem: Vec<u8>,
    /// Server certificate file (PEM), signed by the CA, valid for IP 127.0.0.1.
    pub server_cert: PathBuf,
    /// Server private key file (PEM).
    pub server_key: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestPki {
    /// Generate the CA and server certificate with `openssl`; an error when it is missing.
    pub fn generate() -> std::io::Result<TestPki> {
        if Command::new("openssl").arg("version").output().is_err() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the openssl command is not installed (apt-get install openssl)",
            ));
        }
        let dir = tempfile::tempdir()?;
        let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
        std::fs::write(
            path("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )?;
        let new_key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
        let steps = [
            format!(
                "req -x509 {new_key} -keyout {} -out {} -days 2 -subj /CN=capstan-test-ca \
                 -addext basicConstraints=critical,CA:TRUE \
                 -addext keyUsage=critical,keyCertSign,cRLSign",
                path("ca.key"),
                path("ca.crt")
            ),
            format!(
                "req {new_key} -keyout {} -out {} -subj /CN=127.0.0.1",
                path("server.key"),
                path("server.csr")
            ),
            format!(
                "x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -out {} -days 2 -extfile {}",
                path("server.csr"),
                path("ca.crt"),
                path("ca.key"),
                path("server.crt"),
                path("server.ext")
            ),
        ];
        for step in steps {
            // Temp paths have no spaces, so splitting on whitespace is safe here.
            let output = Command::new("openssl")
                .args(step.split_whitespace())
                .output()?;
            if !output.status.success() {
                return Err(std::io::Error::other(format!(
                    "openssl {step} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                )));
            }
        }
        Ok(TestPki {
            ca_pem: std::fs::read(dir.path().join("ca.crt"))?,
            server_cert: dir.path().join("server.crt"),
            server_key: dir.path().join("server.key"),
            _dir: dir,
        })
    }
}

/// The status a plain-HTTP `GET /v2/` gets (200 when anonymous, 401 when auth is on, 400 from
/// a TLS listener); 0 when the answer is not HTTP.
fn probe(address: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(
        format!("GET /v2/ HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0))
}

/// The bearer token [`TokenGateway`] issues.
pub const GATEWAY_TOKEN: &str = "capstan-test-token";

/// A registry front door doing token auth the way Docker Hub, GHCR or Harbor do: requests
/// without `Authorization: Bearer <token>` get `401` and a `WWW-Authenticate: Bearer realm=…`
/// challenge; `GET /token` hands out [`GATEWAY_TOKEN`] for valid basic-auth credentials; other
/// requests are proxied to the upstream registry.
#[derive(Debug)]
pub struct TokenGateway {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    token_requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl TokenGateway {
    /// Listen on a free loopback port in front of `upstream` (`host:port`).
    pub fn start(upstream: &str, credentials: Credentials) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let token_requests = Arc::new(Mutex::new(Vec::new()));
        let expected_basic = credentials.basic_header();
        let upstream = upstream.to_owned();
        let thread = {
            let stop = Arc::clone(&stop);
            let token_requests = Arc::clone(&token_requests);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let upstream = upstream.clone();
                    let expected_basic = expected_basic.clone();
                    let token_requests = Arc::clone(&token_requests);
                    std::thread::spawn(move || {
                        let _ = gateway(stream, addr, &upstream, &expected_basic, &token_requests);
                    });
                }
            })
        };
        Ok(TokenGateway {
            addr,
            stop,
            token_requests,
            thread: Some(thread),
        })
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The query strings of the token requests served so far.
    pub fn token_requests(&self) -> Vec<String> {
        self.token_requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

impl Drop for TokenGateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn gateway(
    stream: TcpStream,
    own: SocketAddr,
    upstream: &str,
    expected_basic: &str,
    token_requests: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut authorization = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("authorization") {
            authorization = value.to_owned();
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().unwrap_or(0);
        }
        if !name.eq_ignore_ascii_case("connection") {
            headers.push(format!("{name}: {value}"));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let mut out = stream;
    let target = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    if let Some(query) = target.strip_prefix("/token") {
        if let Ok(mut log) = token_requests.lock() {
            log.push(query.trim_start_matches('?').to_owned());
        }
        if authorization != expected_basic {
            return respond(&mut out, "401 Unauthorized", &[], b"{\"errors\":[]}", "GET");
        }
        let token = format!("{{\"token\":\"{GATEWAY_TOKEN}\"}}");
        return respond(
            &mut out,
            "200 OK",
            &[("Content-Type", "application/json")],
            token.as_bytes(),
            "GET",
        );
    }
    if authorization != format!("Bearer {GATEWAY_TOKEN}") {
        let path = target.split('?').next().unwrap_or("/");
        let name = ["/manifests/", "/blobs/", "/tags/"]
            .iter()
            .find_map(|marker| path.rfind(marker).map(|end| &path[..end]))
            .and_then(|p| p.strip_prefix("/v2/"))
            .unwrap_or("");
        let challenge = format!(
            "Bearer realm=\"http://{own}/token\",service=\"capstan-test\",scope=\"repository:{name}:pull,push\""
        );
        return respond(
            &mut out,
            "401 Unauthorized",
            &[("WWW-Authenticate", &challenge)],
            b"{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}",
            "GET",
        );
    }
    let mut up = TcpStream::connect(upstream)?;
    let mut head = request_line.trim_end().to_owned();
    head.push_str("\r\n");
    for header in headers {
        if !header.to_ascii_lowercase().starts_with("authorization:") {
            head.push_str(&header);
            head.push_str("\r\n");
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    out.write_all(&response)?;
    out.flush()
}
