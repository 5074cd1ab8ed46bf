//! The local runner: an HTTP/1.1 server on localhost that turns each request into a `lambda_http::Request`,
//! exactly as API Gateway would deliver it, and runs the function handler for its route.
//!
//! It is a server like any other, so it is bounded like one ([`RunnerLimits`]): connections served at once,
//! time to send a request's head and body, backoff when accept fails, and a graceful shutdown. Its
//! unauthenticated `/local/events` answers only loopback callers that name the runner itself as `Host` and
//! `Origin`, so a web page rebound to 127.0.0.1 (DNS rebinding) cannot revoke tokens from a developer's browser.
//!
//! With a TLS configuration ([`crate::tls`]) it serves HTTPS instead, within the same limits plus a handshake
//! timeout; the client certificate of a connection, if any, reaches every request of it in the request context
//! exactly where API Gateway's mutual TLS puts it ([`tessera::wire::client_cert`]), and nowhere else.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use tessera::TokenService;
use tessera::store::memory::MemoryStore;
use tessera::wire::OAuthError;
use tessera::wire::client_cert;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::error::CliError;
use crate::expiry_sweep;
use crate::routes::Route;

/// API Gateway HTTP APIs accept payloads up to 10 MB; the runner stops far earlier, since no OAuth request
/// comes close. Larger bodies get 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The first wait after a failed accept; it doubles on each failure in a row, up to [`ACCEPT_BACKOFF_MAX`].
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);

/// The longest wait between two accepts that fail (out of file descriptors, say): at most one log line a
/// second while it lasts.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The most connections [`RunnerLimits::max_connections`] can ask for.
pub const MAX_CONNECTIONS_CEILING: usize = 65_536;

/// How much of the runner one client can hold, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerLimits {
    /// Connections served at once (1 to [`MAX_CONNECTIONS_CEILING`]). At the cap the runner stops accepting:
    /// the next connection waits in the listen backlog until one closes, and nothing spins.
    pub max_connections: usize,
    /// From the moment a connection is ready for a request (just accepted, or done with the previous one on
    /// keep-alive) until the request's head has arrived. It bounds a slowly sent head (slowloris) and a
    /// keep-alive connection left idle alike: past it the connection is closed.
    pub header_read_timeout: Duration,
    /// Once the head is in, the time the whole body has to arrive: past it, 408 and the connection closes.
    pub body_read_timeout: Duration,
    /// On shutdown, how long requests in flight have to finish before their connections are cut.
    pub shutdown_grace: Duration,
    /// With TLS, from the accept until the handshake is done: past it the connection is closed. A client that
    /// opens a connection and sends nothing holds its slot no longer than this.
    pub tls_handshake_timeout: Duration,
}

impl Default for RunnerLimits {
    /// 1,024 connections; 10 s for a head (or an idle keep-alive), 10 s for a body, 10 s to drain on shutdown,
    /// 10 s for a TLS handshake.
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The accept loop; abort it to stop accepting at once (connections already open carry on). It ends by
    /// itself after [`RunningServer::shutdown`], with the number of connections it had to cut.
    pub task: JoinHandle<usize>,
    stop: watch::Sender<bool>,
}

impl RunningServer {
    /// Stops accepting, lets every request in flight finish (idle connections close at once), and waits for
    /// the connections to close, at most [`RunnerLimits::shutdown_grace`]. Returns how many were still open
    /// then (0: all finished); those are dropped with the runtime.
    pub async fn shutdown(self) -> usize {
        self.stop.send_replace(true);
        self.task.await.unwrap_or(0)
    }
}

/// SIGTERM or SIGINT (Ctrl-C): what ends `tessera serve`. The handlers are installed by this call, before the
/// returned future is awaited, so a signal that arrives while the runner starts is not lost. The future yields
/// the signal's name.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = &'static str>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut int) = (signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?);
        Ok(async move {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        })
    }
}

/// Serves `service` over plain HTTP on an already bound listener within `limits`, until
/// [`RunningServer::shutdown`] (or an abort of its task).
pub fn spawn(
    listener: TcpListener,
    service: Arc<TokenService>,
    limits: RunnerLimits,
) -> std::io::Result<RunningServer> {
    spawn_with_tls(listener, service, limits, None)
}

/// [`spawn`], over TLS when `tls` is given ([`crate::tls::server_config`]).
pub fn spawn_with_tls(
    listener: TcpListener,
    service: Arc<TokenService>,
    limits: RunnerLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> std::io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let (stop, stopping) = watch::channel(false);
    let tls = tls.map(TlsAcceptor::from);
    let task = tokio::spawn(accept_loop(listener, service, limits, tls, stopping));
    Ok(RunningServer { addr, task, stop })
}

/// Resolves once a shutdown is asked for; never when the [`RunningServer`] is dropped without one (the server
/// then runs on, as before shutdowns existed).
async fn stop_requested(stopping: &mut watch::Receiver<bool>) {
    if stopping.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Accepts while a connection slot is free, backing off on accept errors; on shutdown, stops accepting and
/// waits for the connections. Returns how many were still open at the end of the grace period.
async fn accept_loop(
    listener: TcpListener,
    service: Arc<TokenService>,
    limits: RunnerLimits,
    tls: Option<TlsAcceptor>,
    mut stopping: watch::Receiver<bool>,
) -> usize {
    let capacity = limits.max_connections.clamp(1, MAX_CONNECTIONS_CEILING);
    let slots = Arc::new(Semaphore::new(capacity));
    let mut backoff: Option<Duration> = None;
    loop {
        let slot = tokio::select! {
            biased;
            () = stop_requested(&mut stopping) => break,
            slot = slots.clone().acquire_owned() => slot,
        };
        // The semaphore is never closed; should it be, stop as on a shutdown.
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            biased;
            () = stop_requested(&mut stopping) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = None;
                let (service, stopping, tls) = (service.clone(), stopping.clone(), tls.clone());
                tokio::spawn(open_connection(stream, peer, service, limits, tls, stopping, slot));
            }
            Err(err) => {
                // Out of file descriptors (EMFILE), say: retrying at once would fail again at full speed and
                // fill the log. One line per wait, and the wait doubles.
                let wait = backoff.map_or(ACCEPT_BACKOFF_MIN, |last| (last * 2).min(ACCEPT_BACKOFF_MAX));
                backoff = Some(wait);
                tracing::warn!(error = %err, retry_in_ms = wait.as_millis() as u64, "accept failed");
                drop(slot);
                tokio::select! {
                    biased;
                    () = stop_requested(&mut stopping) => break,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
    drop(listener);
    let all = u32::try_from(capacity).unwrap_or(u32::MAX);
    match tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all)).await {
        Ok(_) => 0,
        Err(_) => capacity - slots.available_permits(),
    }
}

/// What the runner knows of a connection, for each of its requests.
#[derive(Debug, Clone)]
struct ConnectionInfo {
    peer: SocketAddr,
    local: SocketAddr,
    /// `https` or `http`.
    scheme: &'static str,
    /// The request context carrying the client certificate of the TLS handshake, if one was presented.
    client_certificate: Option<lambda_http::request::RequestContext>,
}

/// Opens one accepted connection: the TLS handshake first if `tls` is given (bounded by
/// [`RunnerLimits::tls_handshake_timeout`]; a failed one, plain HTTP included, closes the connection), then
/// [`serve_connection`]. The `slot` is held throughout.
async fn open_connection(
    stream: TcpStream,
    peer: SocketAddr,
    service: Arc<TokenService>,
    limits: RunnerLimits,
    tls: Option<TlsAcceptor>,
    mut stopping: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) {
    let Ok(local) = stream.local_addr() else { return };
    let Some(acceptor) = tls else {
        let info = ConnectionInfo { peer, local, scheme: "http", client_certificate: None };
        return serve_connection(stream, info, service, limits, stopping, slot).await;
    };
    let handshake = tokio::select! {
        biased;
        () = stop_requested(&mut stopping) => return,
        handshake = tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream)) => handshake,
    };
    let stream = match handshake {
        Ok(Ok(stream)) => stream,
        Ok(Err(err)) => {
            tracing::debug!(%peer, error = %err, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let presented = stream.get_ref().1.peer_certificates().and_then(|chain| chain.first());
    let client_certificate = presented.map(|der| client_cert::request_context_with_certificate(der));
    let info = ConnectionInfo { peer, local, scheme: "https", client_certificate };
    serve_connection(stream, info, service, limits, stopping, slot).await;
}

/// Serves one connection within `limits`, holding its `slot` until it closes. On shutdown it finishes the
/// request in flight, if any, and closes.
async fn serve_connection<S>(
    stream: S,
    info: ConnectionInfo,
    service: Arc<TokenService>,
    limits: RunnerLimits,
    mut stopping: watch::Receiver<bool>,
    slot: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let info = Arc::new(info);
    let svc = service_fn(move |req| {
        let (service, info) = (service.clone(), info.clone());
        async move { Ok::<_, Infallible>(dispatch(&service, &info, limits.body_read_timeout, req).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), svc);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stop_requested(&mut stopping) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection closed with an error");
    }
    drop(slot);
}

/// Routes one request to its handler and logs the outcome. The unauthenticated `/local/events` route answers
/// loopback callers only, whatever address the runner listens on, and only when they name the runner itself
/// ([`names_the_runner`]).
async fn dispatch(
    service: &TokenService,
    connection: &ConnectionInfo,
    body_read_timeout: Duration,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = match Route::for_path(&path) {
        None => plain(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#),
        Some(route) if route.local_only() && !connection.peer.ip().is_loopback() => {
            forbidden("/local/ routes answer loopback callers only")
        }
        Some(route) if route.local_only() && !names_the_runner(request.uri(), request.headers(), connection) => {
            forbidden(
                "/local/ routes answer requests whose Host is the runner's loopback address and whose Origin, if any, \
             is the runner itself",
            )
        }
        Some(route) => match to_lambda_request(request, body_read_timeout).await {
            Err(response) => response,
            Ok(request) => match route.handle(service, with_client_certificate(request, connection)).await {
                Ok(response) => from_lambda_response(response),
                Err(err) => {
                    tracing::error!(error = %err, "handler failed");
                    plain(StatusCode::INTERNAL_SERVER_ERROR, r#"{"message":"Internal Server Error"}"#)
                }
            },
        },
    };
    tracing::info!(%method, %path, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64,
        "request");
    response
}

/// The request as a handler sees it behind API Gateway: with its connection's client certificate, if any, where
/// API Gateway's mutual TLS puts it (the request context; nothing the client sent goes there), and an absolute URI
/// naming the runner itself, as Lambda's request names the domain API Gateway served: `<scheme>://<Host>` when the
/// `Host` header is one of the runner's own names (`127.0.0.1:<port>`, `localhost:<port>`), else its socket address.
/// So a DPoP proof's `htu` (RFC 9449 §4.3) must name the runner: one made for another host, sent here with that
/// host in `Host` or in an absolute-form target, does not pass.
fn with_client_certificate(mut request: Request, connection: &ConnectionInfo) -> Request {
    if let Some(context) = &connection.client_certificate {
        request.extensions_mut().insert(context.clone());
    }
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    let own = own_names(connection);
    let authority = match host {
        Some(host) if own.iter().any(|name| name.eq_ignore_ascii_case(host)) => host.to_owned(),
        _ => connection.local.to_string(),
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    if let Ok(uri) = format!("{}://{authority}{path}", connection.scheme).parse::<hyper::Uri>() {
        *request.uri_mut() = uri;
    }
    request
}

/// The names a request may give the runner as its `Host`: its loopback socket address and `localhost` with the
/// port (and, on the scheme's default port, without it: RFC 9110 §7.2). None when it listens elsewhere than on a
/// loopback address: it cannot know the names it is reached by then.
fn own_names(connection: &ConnectionInfo) -> Vec<String> {
    let local = SocketAddr::new(connection.local.ip().to_canonical(), connection.local.port());
    if !local.ip().is_loopback() {
        return Vec::new();
    }
    let port = local.port();
    let mut ours = vec![local.to_string(), format!("localhost:{port}")];
    if port == if connection.scheme == "https" { 443 } else { 80 } {
        let ip = match local {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        };
        ours.extend([ip, "localhost".to_owned()]);
    }
    ours
}

/// Where the runner listens: an address, and a TLS configuration to serve HTTPS with ([`crate::tls`]). A bare
/// address is plain HTTP.
#[derive(Debug, Clone)]
pub struct ListenOn {
    /// The address to bind.
    pub addr: SocketAddr,
    /// `Some`: HTTPS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Which client certificates the TLS configuration asks for and how it checks them: the service then offers
    /// mutual TLS (RFC 8705) or not, and refuses `tls_client_auth`, which trusts the chain, where no chain is
    /// verified ([`tessera::TokenService::with_unverified_client_certificates`]).
    pub client_certificates: ClientCertificateChecks,
}

/// What the runner's TLS does with client certificates (`tessera serve`'s `--tls-client-ca`, `--tls-client-any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientCertificateChecks {
    /// None is asked for (plain HTTP, or HTTPS without client certificates): no mutual TLS.
    #[default]
    NotRequested,
    /// One presented must chain to a trusted CA, as on API Gateway's mutual-TLS domain.
    ChainVerified,
    /// Any well-formed one is accepted: no chain is verified.
    AnyAccepted,
}

impl From<SocketAddr> for ListenOn {
    fn from(addr: SocketAddr) -> Self {
        Self { addr, tls: None, client_certificates: ClientCertificateChecks::NotRequested }
    }
}

/// Whether a request names the runner itself: exactly one `Host`, which is the loopback address the connection
/// came in on (`127.0.0.1:<port>`, `[::1]:<port>`) or `localhost:<port>`, and no `Origin` or exactly
/// `<scheme>://<that Host>` (`https` on a TLS connection). A page of another site rebound to 127.0.0.1 (DNS
/// rebinding) sends its own name as `Host`; a page of another origin on the loopback sends its own `Origin`. A request target in absolute form
/// names the authority the server must use instead of `Host` (RFC 9112 §3.2.2), so it must name the runner too.
fn names_the_runner(target: &hyper::Uri, headers: &HeaderMap, connection: &ConnectionInfo) -> bool {
    let ours = own_names(connection);
    if ours.is_empty() {
        return false;
    }
    let single = |name: header::HeaderName| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => Some(value.to_str().ok()),
            (None, _) => None,
            (Some(_), Some(_)) => Some(None),
        }
    };
    let Some(Some(host)) = single(header::HOST) else { return false };
    if !ours.iter().any(|name| name.eq_ignore_ascii_case(host)) {
        return false;
    }
    if target.authority().is_some_and(|authority| !authority.as_str().eq_ignore_ascii_case(host)) {
        return false;
    }
    // Fetch metadata (a browser's `Sec-Fetch-Site`): a page of another site is refused even where it sent no Origin.
    if let Some(site) = single(header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site, Some("same-origin" | "none"))
    {
        return false;
    }
    match single(header::ORIGIN) {
        None => true,
        Some(Some(origin)) => origin.eq_ignore_ascii_case(&format!("{}://{host}", connection.scheme)),
        Some(None) => false,
    }
}

/// 403 with an RFC 6749 §5.2 body.
fn forbidden(description: &'static str) -> hyper::Response<Full<Bytes>> {
    from_lambda_response(OAuthError::invalid_request(description).with_status(StatusCode::FORBIDDEN).into_response())
}

/// Collects the body (bounded in size and time) and rebuilds the request as `lambda_http` sees it: 413 for a
/// body over [`MAX_BODY_BYTES`] (announced or sent), 400 for one cut short (the client closed before the
/// length it announced, or broke the chunked framing), 408 for one that does not arrive in `timeout`.
async fn to_lambda_request(
    request: hyper::Request<Incoming>,
    timeout: Duration,
) -> Result<Request, hyper::Response<Full<Bytes>>> {
    let (parts, body) = request.into_parts();
    let too_large = || {
        let error = OAuthError::invalid_request(format!("the request body is larger than {MAX_BODY_BYTES} bytes"));
        closing(from_lambda_response(error.with_status(StatusCode::PAYLOAD_TOO_LARGE).into_response()))
    };
    // A Content-Length over the limit is refused before a byte of the body is read.
    if hyper::body::Body::size_hint(&body).lower() > MAX_BODY_BYTES as u64 {
        return Err(too_large());
    }
    let bytes = match tokio::time::timeout(timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Ok(Err(_)) => {
            let error =
                OAuthError::invalid_request("the request body is incomplete: it ended before its announced length");
            return Err(closing(from_lambda_response(error.into_response())));
        }
        Err(_) => {
            let error = OAuthError::invalid_request(format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f32()
            ))
            .with_status(StatusCode::REQUEST_TIMEOUT);
            return Err(closing(from_lambda_response(error.into_response())));
        }
    };
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
    Ok(Request::from_parts(parts, body))
}

/// The response with `Connection: close`: what is left of the body on the wire cannot be trusted.
fn closing(mut response: hyper::Response<Full<Bytes>>) -> hyper::Response<Full<Bytes>> {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn from_lambda_response(response: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

fn plain(status: StatusCode, json: &'static str) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(json.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Binds `listen` and serves `config` on `store` within `limits`, over TLS when it says so. The issuer defaults
/// to the bound address (`https://…` with TLS), so `--addr 127.0.0.1:0` works. `sources` adds a key document re-read while serving (as a deployed function
/// re-reads its secret) and the table's trusted issuers; a tenant without keys gets a generated one.
pub async fn serve(
    listen: impl Into<ListenOn>,
    config: &tessera::config::Config,
    store: Arc<dyn tessera::store::TokenStore>,
    clock: Arc<dyn tessera::clock::Clock>,
    entropy: Arc<dyn tessera::entropy::Entropy>,
    sources: tessera::tenancy::Sources,
    limits: RunnerLimits,
) -> Result<RunningServer, CliError> {
    let ListenOn { addr, tls, client_certificates } = listen.into();
    let listener = TcpListener::bind(addr).await.map_err(|source| CliError::Listen { addr, source })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{}", listener.local_addr().map_err(CliError::Socket)?);
    let sources = tessera::tenancy::Sources { generate_missing_keys: true, ..sources };
    // Metrics are off unless TESSERA_METRICS=stderr (or stdout, which means stderr here: stdout is the command's).
    let metrics = tessera::metrics::MetricsEmitter::from_env(clock.clone(), false);
    let registry = sources.registry.clone();
    let mut service = tessera::service::build_service(store, config, Some(&base), clock, entropy, sources)
        .await?
        .with_metrics(metrics);
    if client_certificates != ClientCertificateChecks::NotRequested {
        service = service.with_mutual_tls();
    }
    if client_certificates == ClientCertificateChecks::AnyAccepted {
        service = service.with_unverified_client_certificates();
    }
    // The table's Shared Signals transmitters join the file's, as the receiver function reads them.
    if let Some(registry) = registry {
        service = service.with_registered_ssf_transmitters(config, registry.as_ref()).await?;
    }
    spawn_with_tls(listener, Arc::new(service), limits, tls).map_err(CliError::Socket)
}

/// The default of `tessera serve --max-items`: about 1 GB of token records.
pub const DEFAULT_MAX_ITEMS: usize = 1_000_000;

/// How the runner bounds and sweeps its embedded store (`tessera serve` flags).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct EmbeddedStoreOptions {
    /// Embedded store only: the most items it holds (token records, revocations, clients). Past it, expired
    /// items go first, then the soonest-expiring token records (those tokens become inactive); revocations are
    /// never evicted before they expire, and when only they are left, writes answer 503.
    #[arg(long, default_value_t = NonZeroUsize::new(DEFAULT_MAX_ITEMS).expect("positive"))]
    pub max_items: NonZeroUsize,
    /// How often expired items are swept.
    #[arg(skip = expiry_sweep::SWEEP_INTERVAL)]
    pub sweep_interval: Duration,
}

impl Default for EmbeddedStoreOptions {
    fn default() -> Self {
        Self {
            max_items: NonZeroUsize::new(DEFAULT_MAX_ITEMS).expect("positive"),
            sweep_interval: expiry_sweep::SWEEP_INTERVAL,
        }
    }
}

/// [`serve`] on a fresh embedded store holding the configuration's clients, bounded to `options.max_items`
/// and swept in the background ([`expiry_sweep`]) with `clock`'s time while the store lives. Returns the
/// server and its store.
pub async fn serve_embedded(
    listen: impl Into<ListenOn>,
    config: &tessera::config::Config,
    clock: Arc<dyn tessera::clock::Clock>,
    entropy: Arc<dyn tessera::entropy::Entropy>,
    sources: tessera::tenancy::Sources,
    limits: RunnerLimits,
    options: EmbeddedStoreOptions,
) -> Result<(RunningServer, Arc<MemoryStore>), CliError> {
    let clients = config.clients(entropy.as_ref())?;
    if clients.len() >= options.max_items.get() {
        return Err(CliError::NoRoomForTokens { max_items: options.max_items.get(), clients: clients.len() });
    }
    let store = Arc::new(MemoryStore::with_clients(clients).with_max_items(options.max_items, clock.clone()));
    let server = serve(listen, config, store.clone(), clock.clone(), entropy, sources, limits).await?;
    expiry_sweep::spawn(&store, clock, options.sweep_interval);
    Ok((server, store))
}
