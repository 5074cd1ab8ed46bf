//! The local runner: an HTTP/1.1 server on localhost that turns each request into a `lambda_http::Request`,
//! exactly as API Gateway would deliver it, and runs the function handler for its route.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use tessera::TokenService;
use tessera::store::memory::MemoryStore;
use tessera::wire::OAuthError;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::expiry_sweep;
use crate::routes::Route;

/// API Gateway HTTP APIs accept payloads up to 10 MB; the runner stops far earlier, since no OAuth request
/// comes close. Larger bodies get 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The accept loop; abort it to stop the server.
    pub task: JoinHandle<()>,
}

/// Serves `service` on an already bound listener until the task is aborted.
pub fn spawn(listener: TcpListener, service: Arc<TokenService>) -> std::io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(conn) => conn,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    continue;
                }
            };
            let service = service.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let service = service.clone();
                    async move { Ok::<_, Infallible>(dispatch(&service, peer, req).await) }
                });
                if let Err(err) = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                    tracing::debug!(error = %err, "connection closed with an error");
                }
            });
        }
    });
    Ok(RunningServer { addr, task })
}

/// Routes one request to its handler and logs the outcome. The unauthenticated `/local/events` route answers
/// loopback callers only, whatever address the runner listens on.
async fn dispatch(
    service: &TokenService,
    peer: SocketAddr,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = match Route::for_path(&path) {
        None => plain(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#),
        Some(Route::LocalEvents) if !peer.ip().is_loopback() => plain(
            StatusCode::FORBIDDEN,
            r#"{"error":"access_denied","error_description":"/local/events answers loopback callers only"}"#,
        ),
        Some(route) => match to_lambda_request(request).await {
            Err(response) => response,
            Ok(request) => match route.handle(service, request).await {
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

/// Collects the body (bounded) and rebuilds the request as `lambda_http` sees it.
async fn to_lambda_request(request: hyper::Request<Incoming>) -> Result<Request, hyper::Response<Full<Bytes>>> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = OAuthError::invalid_request(format!("the request body is larger than {MAX_BODY_BYTES} bytes"));
            return Err(from_lambda_response(error.with_status(StatusCode::PAYLOAD_TOO_LARGE).into_response()));
        }
    };
    let body = if bytes.is_empty() { Body::Empty } else { Body::Binary(bytes.to_vec()) };
    Ok(Request::from_parts(parts, body))
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

/// Binds `addr` and serves `config` on `store`. The issuer defaults to the bound address, so
/// `--addr 127.0.0.1:0` works. `sources` adds a key document re-read while serving (as a deployed function
/// re-reads its secret) and the table's trusted issuers; a tenant without keys gets a generated one.
pub async fn serve(
    addr: std::net::SocketAddr,
    config: &tessera::config::Config,
    store: Arc<dyn tessera::store::TokenStore>,
    clock: Arc<dyn tessera::clock::Clock>,
    entropy: Arc<dyn tessera::entropy::Entropy>,
    sources: tessera::service::Sources,
) -> Result<RunningServer, String> {
    let listener = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    let sources = tessera::service::Sources { generate_missing_keys: true, ..sources };
    let service = tessera::service::build_service(store, config, Some(&base), clock, entropy, sources)
        .await
        .map_err(|e| e.to_string())?;
    spawn(listener, Arc::new(service)).map_err(|e| e.to_string())
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

/// [`serve_embedded_with`] the default [`EmbeddedStoreOptions`].
pub async fn serve_embedded(
    addr: std::net::SocketAddr,
    config: &tessera::config::Config,
    clock: Arc<dyn tessera::clock::Clock>,
    entropy: Arc<dyn tessera::entropy::Entropy>,
    sources: tessera::service::Sources,
) -> Result<(RunningServer, Arc<MemoryStore>), String> {
    serve_embedded_with(addr, config, clock, entropy, sources, EmbeddedStoreOptions::default()).await
}

/// [`serve`] on a fresh embedded store holding the configuration's clients, bounded to `options.max_items`
/// and swept in the background ([`expiry_sweep`]) with `clock`'s time while the store lives. Returns the
/// server and its store.
pub async fn serve_embedded_with(
    addr: std::net::SocketAddr,
    config: &tessera::config::Config,
    clock: Arc<dyn tessera::clock::Clock>,
    entropy: Arc<dyn tessera::entropy::Entropy>,
    sources: tessera::service::Sources,
    options: EmbeddedStoreOptions,
) -> Result<(RunningServer, Arc<MemoryStore>), String> {
    let clients = config.clients(entropy.as_ref()).map_err(|e| e.to_string())?;
    if clients.len() >= options.max_items.get() {
        return Err(format!(
            "--max-items {} leaves no room for tokens above the configuration's {} clients",
            options.max_items,
            clients.len()
        ));
    }
    let store = Arc::new(MemoryStore::with_clients(clients).with_max_items(options.max_items, clock.clone()));
    let server = serve(addr, config, store.clone(), clock.clone(), entropy, sources).await?;
    expiry_sweep::spawn(&store, clock, options.sweep_interval);
    Ok((server, store))
}
