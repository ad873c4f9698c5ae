//! The HTTP/1.1 front end: routing of Kubernetes API paths to the store, content negotiation
//! (JSON, server-side Tables), impersonation headers, and watch streams.
//!
//! Watch (API concept "Efficient detection of changes"): `?watch=true` answers a chunked stream of
//! `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":…}` lines. Without a
//! `resourceVersion` (or with `0`) the stream starts with synthetic `ADDED` events for the current
//! objects; with one, it replays the changes after it (410 `Expired` as an `ERROR` event when it is
//! older than the kept history); `sendInitialEvents=true` ends the initial events with a bookmark
//! annotated `k8s.io/initial-events-end: "true"`. With `allowWatchBookmarks=true` a `BOOKMARK`
//! carrying the latest resourceVersion is sent every second (the real server: about a minute).
//! Objects entering or leaving a selector's set arrive as `ADDED` / `DELETED`, as on the real
//! server. `timeoutSeconds` ends the stream (default 30 minutes).

use crate::discovery;
use crate::error::ApiError;
use crate::rbac::{self, Attributes, User};
use crate::store::{Ctx, EventType, Query, State};
use crate::table;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

type Body = BoxBody<Bytes, Infallible>;

/// The server failed to start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("binding 127.0.0.1:{port}")]
    Bind {
        /// The requested port (0: any).
        port: u16,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The server's runtime or thread could not be started.
    #[error("starting the server thread")]
    Start(#[source] std::io::Error),
    /// The kubeconfig could not be written.
    #[error("writing the kubeconfig {path}")]
    WriteKubeconfig {
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Run the workload simulator (see the crate docs). On by default.
    pub simulate: bool,
    /// Where to write the kubeconfig; None: a temporary directory owned by the server.
    pub kubeconfig: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            port: 0,
            simulate: true,
            kubeconfig: None,
        }
    }
}

/// A running test API server. Dropping it stops the server.
#[derive(Debug)]
pub struct TestApiServer {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    addr: SocketAddr,
}

impl TestApiServer {
    /// Starts a server on a free port with the simulator on.
    pub fn start() -> Result<TestApiServer, Error> {
        TestApiServer::start_with(Options::default())
    }

    /// Starts a server on its own threads and runtime (so blocking test code, such as running
    /// `kubectl`, never stalls it) and writes a kubeconfig for it.
    pub fn start_with(options: Options) -> Result<TestApiServer, Error> {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", options.port)).map_err(|source| {
                Error::Bind {
                    port: options.port,
                    source,
                }
            })?;
        listener.set_nonblocking(true).map_err(Error::Start)?;
        let addr = listener.local_addr().map_err(Error::Start)?;
        let (dir, kubeconfig) = match options.kubeconfig {
            Some(p) => (None, p),
            None => {
                let dir = tempfile::tempdir().map_err(Error::Start)?;
                let p = dir.path().join("kubeconfig");
                (Some(dir), p)
            }
        };
        std::fs::write(&kubeconfig, kubeconfig_yaml(addr)).map_err(|source| {
            Error::WriteKubeconfig {
                path: kubeconfig.clone(),
                source,
            }
        })?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(options.simulate)),
            addr,
        });
        let (tx, rx) = oneshot::channel::<()>();
        // Two workers: request parsing and JSON encoding run in parallel; the store is one lock.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("capstan-testapi-{}", addr.port()))
            .enable_all()
            .build()
            .map_err(Error::Start)?;
        let thread = std::thread::Builder::new()
            .name(format!("capstan-testapi-{}", addr.port()))
            .spawn(move || runtime.block_on(serve(listener, shared, rx)))
            .map_err(Error::Start)?;
        Ok(TestApiServer {
            addr,
            kubeconfig,
            _dir: dir,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The kubeconfig file for this server (cluster-admin, no credentials).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Runs the server until the process ends (for the `capstan-testapi` binary).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A kubeconfig for a server at `addr`.
pub fn kubeconfig_yaml(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: capstan-testapi\n  cluster:\n    server: http://{addr}\ncontexts:\n- name: capstan-testapi\n  context:\n    cluster: capstan-testapi\n    user: admin\n    namespace: default\ncurrent-context: capstan-testapi\nusers:\n- name: admin\n  user: {{}}\n"
    )
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn json_response(status: u16, v: &Value) -> Response<Body> {
    full(status, "application/json", v.to_string())
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status())
}

fn not_found() -> Response<Body> {
    let mut e = ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    );
    e.details = json!({});
    error_response(&e)
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> Query {
    q.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = parse_query(req.uri().query());
    let accept = header(&req, "accept").to_string();
    let content_type = header(&req, "content-type").to_string();
    let user_agent = header(&req, "user-agent").to_string();
    let imp_user = header(&req, "impersonate-user").to_string();
    let imp_groups: Vec<String> = req
        .headers()
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let user = if imp_user.is_empty() {
        User::admin()
    } else {
        User::impersonated(&imp_user, imp_groups)
    };
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let state = &shared.state;
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    let response = match segs.as_slice() {
        ["healthz"] | ["readyz"] | ["livez"] => full(200, "text/plain", "ok"),
        ["version"] => json_response(200, &discovery::version()),
        ["api"] => json_response(200, &discovery::api_versions(&shared.addr.to_string())),
        ["apis"] => json_response(200, &discovery::group_list(&lock().registry)),
        ["api", v] => match discovery::resource_list(&lock().registry, "", v) {
            Some(d) => json_response(200, &d),
            None => not_found(),
        },
        ["apis", g] => match discovery::group(&lock().registry, g) {
            Some(d) => json_response(200, &d),
            None => not_found(),
        },
        ["apis", g, v] => match discovery::resource_list(&lock().registry, g, v) {
            Some(d) => json_response(200, &d),
            None => not_found(),
        },
        ["openapi", "v3"] => json_response(200, &discovery::openapi_root(&lock().registry)),
        ["openapi", "v3", "api", v] => match discovery::openapi_doc(&lock().registry, "", v) {
            Some(d) => json_response(200, &d),
            None => not_found(),
        },
        ["openapi", "v3", "apis", g, v] => match discovery::openapi_doc(&lock().registry, g, v) {
            Some(d) => json_response(200, &d),
            None => not_found(),
        },
        ["api", v, rest @ ..] => {
            let r = Request2 {
                method: &method,
                group: "",
                version: v,
                rest,
                query,
                accept: &accept,
                content_type: &content_type,
                user_agent: &user_agent,
                user: &user,
                body: &body,
            };
            resource(&shared, r)
        }
        ["apis", g, v, rest @ ..] => {
            let r = Request2 {
                method: &method,
                group: g,
                version: v,
                rest,
                query,
                accept: &accept,
                content_type: &content_type,
                user_agent: &user_agent,
                user: &user,
                body: &body,
            };
            resource(&shared, r)
        }
        _ => not_found(),
    };
    Ok(response)
}

struct Request2<'a> {
    method: &'a Method,
    group: &'a str,
    version: &'a str,
    rest: &'a [&'a str],
    query: Query,
    accept: &'a str,
    content_type: &'a str,
    user_agent: &'a str,
    user: &'a User,
    body: &'a Bytes,
}

fn resource(shared: &Arc<Shared>, r: Request2<'_>) -> Response<Body> {
    let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    let (ns, rest) = match r.rest {
        ["namespaces", ns, plural, rest @ ..]
            if state
                .registry
                .get(r.group, r.version, plural)
                .is_some_and(|t| t.namespaced) =>
        {
            (
                ns.to_string(),
                std::iter::once(*plural)
                    .chain(rest.iter().copied())
                    .collect::<Vec<_>>(),
            )
        }
        rest => (String::new(), rest.to_vec()),
    };
    let Some((plural, rest)) = rest.split_first() else {
        return not_found();
    };
    let Some(rt) = state.registry.get(r.group, r.version, plural) else {
        return not_found();
    };
    let name = rest.first().map(|s| s.to_string()).unwrap_or_default();
    let subresource = rest.get(1).map(|s| s.to_string()).unwrap_or_default();
    if rest.len() > 2
        || (!rt.namespaced && !ns.is_empty())
        || (rt.namespaced && ns.is_empty() && !name.is_empty())
        || match subresource.as_str() {
            "" => false,
            "status" => !rt.status,
            "scale" => rt.scale.is_none(),
            _ => true,
        }
    {
        return not_found();
    }
    let watch = r
        .query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1");
    let apply = r.content_type.starts_with("application/apply-patch");
    let verb = match (r.method.clone(), name.is_empty()) {
        (Method::GET, true) if watch => "watch",
        (Method::GET, true) => "list",
        (Method::GET, false) => "get",
        (Method::POST, true) => "create",
        (Method::PUT, false) => "update",
        (Method::PATCH, false) => "patch",
        (Method::DELETE, false) => "delete",
        (Method::DELETE, true) => "deletecollection",
        _ => {
            return error_response(&ApiError::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ));
        }
    };
    let attributes = Attributes {
        verb,
        rt: &rt,
        subresource: &subresource,
        namespace: &ns,
        name: &name,
    };
    if let Err(e) = rbac::authorize(&state, r.user, &attributes) {
        return error_response(&e);
    }
    let manager = r
        .query
        .get("fieldManager")
        .filter(|m| !m.is_empty())
        .cloned()
        .unwrap_or_else(|| {
            let ua = r.user_agent.split('/').next().unwrap_or_default();
            if ua.is_empty() {
                "unknown".to_string()
            } else {
                ua.chars().take(128).collect()
            }
        });
    let repr = Repr::from_accept(r.accept);
    let include = r
        .query
        .get("includeObject")
        .cloned()
        .unwrap_or_else(|| "Metadata".into());
    let ctx = Ctx {
        rt: rt.clone(),
        namespace: ns,
        name,
        subresource,
        query: r.query,
        manager,
    };
    let body_json = || -> Result<Value, ApiError> {
        if r.body.is_empty() {
            return Ok(json!({}));
        }
        if r.content_type
            .starts_with("application/vnd.kubernetes.protobuf")
        {
            return crate::proto::decode(r.body)
                .map_err(|e| ApiError::new(415, "UnsupportedMediaType", e));
        }
        match serde_json::from_slice(r.body) {
            Ok(v) => Ok(v),
            Err(_) => std::str::from_utf8(r.body)
                .ok()
                .and_then(|t| capstan_yaml::parse_one(t).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "the body of the request could not be decoded as JSON or YAML",
                    )
                }),
        }
    };
    let result = match verb {
        "create" if rt.is_review() => {
            body_json().map(|b| (201, rbac::review(&state, r.user, b, &rt.kind)))
        }
        _ if rt.is_review() => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{} can only be created", rt.plural),
        )),
        "watch" => {
            let start = state.watch_start(&ctx);
            drop(state);
            return match start {
                Ok(start) => watch_stream(ctx, start, repr, include),
                Err(e) => error_response(&e),
            };
        }
        "list" => state.list(&ctx).map(|list| {
            let items = list["items"].as_array().cloned().unwrap_or_default();
            match repr {
                Repr::Table => (
                    200,
                    table::table(&rt, &items, list["metadata"].clone(), &include),
                ),
                Repr::Metadata => (
                    200,
                    json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                           "metadata": list["metadata"], "items": items.iter().map(partial).collect::<Vec<_>>()}),
                ),
                Repr::Object => (200, list),
            }
        }),
        "get" if !ctx.subresource.is_empty() => state.get(&ctx).map(|o| (200, o)),
        "get" => state
            .get(&ctx)
            .map(|o| (200, repr.render(&rt, o, &include))),
        "create" => body_json()
            .and_then(|b| state.create(&ctx, b))
            .map(|o| (201, o)),
        "update" => body_json()
            .and_then(|b| state.update(&ctx, b))
            .map(|o| (200, o)),
        "patch" => {
            let existed = state
                .lookup(&rt.storage(), &ctx.namespace, &ctx.name)
                .is_some();
            state
                .patch(&ctx, r.content_type, r.body)
                .map(|o| (if apply && !existed { 201 } else { 200 }, o))
        }
        "delete" => body_json()
            .and_then(|b| state.delete(&ctx, &b))
            .map(|o| (200, o)),
        "deletecollection" => body_json()
            .and_then(|b| state.delete_collection(&ctx, &b))
            .map(|o| (200, o)),
        _ => Err(ApiError::new(405, "MethodNotAllowed", "method not allowed")),
    };
    match result {
        Ok((code, v)) => json_response(code, &v),
        Err(e) => error_response(&e),
    }
}

fn event_line(type_: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": type_, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

/// The representation a client asked for with `Accept` (API concept "Alternate representations
/// of resources": `as=Table`, `as=PartialObjectMetadata[List]`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Repr {
    Object,
    Table,
    Metadata,
}

impl Repr {
    fn from_accept(accept: &str) -> Repr {
        if accept.contains("as=Table") {
            Repr::Table
        } else if accept.contains("as=PartialObjectMetadata") {
            Repr::Metadata
        } else {
            Repr::Object
        }
    }

    fn render(self, rt: &crate::registry::ResourceType, o: Value, include: &str) -> Value {
        match self {
            Repr::Object => o,
            Repr::Metadata => partial(&o),
            Repr::Table => table::table(
                rt,
                std::slice::from_ref(&o),
                json!({"resourceVersion": o["metadata"]["resourceVersion"]}),
                include,
            ),
        }
    }
}

fn partial(o: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
}

fn watch_stream(
    ctx: Ctx,
    start: crate::store::WatchStart,
    repr: Repr,
    include: String,
) -> Response<Body> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(256);
    let bookmarks = ctx
        .query
        .get("allowWatchBookmarks")
        .is_some_and(|b| b == "true");
    let timeout = ctx
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let labels = crate::selector::Selector::parse(
        ctx.query
            .get("labelSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let fields = crate::selector::Selector::parse(
        ctx.query
            .get("fieldSelector")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let rt = ctx.rt.clone();
    tokio::spawn(async move {
        let matches = |o: &Value| labels.matches_labels(o) && fields.matches_fields(o);
        let wrap = |o: Value| -> Value { repr.render(&rt, State::present(&rt, o), &include) };
        let bookmark = |rv: u64, end: bool| -> Value {
            let mut m = json!({"resourceVersion": rv.to_string()});
            if end {
                m["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            match repr {
                Repr::Metadata => {
                    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": m})
                }
                _ => json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": m}),
            }
        };
        let storage = rt.storage();
        let ns = ctx.namespace.clone();
        let translate = |c: &crate::store::Change| -> Option<Bytes> {
            if c.storage != storage || (!ns.is_empty() && c.namespace != ns) {
                return None;
            }
            let now = matches(&c.object);
            let before = c.previous.as_ref().is_some_and(&matches);
            let t = match c.kind {
                EventType::Added if now => "ADDED",
                EventType::Modified if now && before => "MODIFIED",
                EventType::Modified if now => "ADDED",
                EventType::Modified if before => "DELETED",
                EventType::Deleted if now => "DELETED",
                _ => return None,
            };
            Some(event_line(t, &wrap(c.object.clone())))
        };
        let mut last = start.rv;
        for o in start.initial {
            if tx.send(event_line("ADDED", &wrap(o))).await.is_err() {
                return;
            }
        }
        if start.initial_events_end
            && tx
                .send(event_line("BOOKMARK", &bookmark(last, true)))
                .await
                .is_err()
        {
            return;
        }
        for c in &start.replay {
            if let Some(line) = translate(c)
                && tx.send(line).await.is_err()
            {
                return;
            }
        }
        let mut changes = start.rx;
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.tick().await;
        loop {
            tokio::select! {
                c = changes.recv() => match c {
                    Ok(c) => {
                        if c.rv <= last && c.rv <= start.rv { continue; }
                        last = last.max(c.rv);
                        if let Some(line) = translate(&c)
                            && tx.send(line).await.is_err() { return; }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let e = ApiError::gone("the watch fell behind; too old resource version");
                        let _ = tx.send(event_line("ERROR", &e.status())).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(event_line("BOOKMARK", &bookmark(last, false))).await.is_err() { return; }
                }
                _ = &mut deadline => return,
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|o| o.map(|b| Ok::<_, Infallible>(Frame::data(b))))
    });
    let mut r = Response::new(StreamBody::new(stream).boxed());
    if let Ok(v) = "application/json".parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}
