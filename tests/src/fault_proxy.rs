//! A fault-injecting proxy in front of the DynamoDB emulator. The store under test talks to the proxy, which
//! forwards each request to the emulator unchanged, or
//! - is [stopped](FaultProxy::stop): its port closes and every open connection drops, exactly as when the
//!   emulator process dies; [`FaultProxy::restart`] opens the same port again;
//! - [throttles](Fault::Throttle) every request, or only the writes ([`Fault::ThrottleWrites`]), answering as
//!   DynamoDB does: HTTP 400 with `ProvisionedThroughputExceededException`.
//!
//! It also records the IAM action each request needs ([`FaultProxy::take_actions`]): the operation named by
//! `X-Amz-Target`, and for `TransactWriteItems`, which has no action of its own, the actions of its parts. It
//! forwards EventBridge requests as well (the emulator serves both), so the revocation announcements' `PutEvents`
//! is recorded too.
//!
//! The emulator keeps its data throughout, so a test can check that nothing was half-written while the faults
//! lasted, and that the same running service recovers when they end.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// What the proxy does to requests while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Answer every request with `ProvisionedThroughputExceededException`.
    Throttle,
    /// Forward reads; throttle writes (`PutItem`, `UpdateItem`, `DeleteItem`, `BatchWriteItem`,
    /// `TransactWriteItems`).
    ThrottleWrites,
}

/// The DynamoDB operations that write.
const WRITES: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate of requests exceeds the allowed throughput."}"#;

struct Shared {
    upstream: String,
    fault: Mutex<Fault>,
    http: reqwest::Client,
    /// Requests that reached the proxy, and those it throttled.
    received: AtomicUsize,
    throttled: AtomicUsize,
    /// IAM actions of the requests since the last [`FaultProxy::take_actions`].
    actions: Mutex<BTreeSet<String>>,
}

/// The proxy. Dropping it stops it.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Mutex<Option<JoinHandle<()>>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port, forwarding to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            fault: Mutex::new(Fault::None),
            http: reqwest::Client::new(),
            received: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
            actions: Mutex::new(BTreeSet::new()),
        });
        let addr = listener.local_addr().expect("bound");
        let proxy = Self { addr, shared, server: Mutex::new(None) };
        proxy.serve(listener);
        proxy
    }

    /// The endpoint to give the store: `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the fault for the requests that follow.
    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock().expect("fault lock") = fault;
    }

    /// Requests received so far, and how many of them were throttled.
    pub fn counts(&self) -> (usize, usize) {
        (self.shared.received.load(Ordering::SeqCst), self.shared.throttled.load(Ordering::SeqCst))
    }

    /// The IAM actions (`dynamodb:PutItem`, …) the requests since the last call needed.
    pub fn take_actions(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.shared.actions.lock().expect("actions lock"))
    }

    /// Closes the port and drops every open connection: new connections are refused until [`Self::restart`].
    pub fn stop(&self) {
        if let Some(server) = self.server.lock().expect("server lock").take() {
            server.abort();
        }
    }

    /// Opens the same port again.
    pub async fn restart(&self) {
        self.stop();
        // The aborted accept loop releases the port once the runtime has dropped it; retry briefly.
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("port {} could not be bound again", self.addr);
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            // Connections live in this set, so aborting the accept loop drops them all.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let shared = shared.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        *self.server.lock().expect("server lock") = Some(task);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn handle(shared: &Shared, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    shared.received.fetch_add(1, Ordering::SeqCst);
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    shared.actions.lock().expect("actions lock").extend(iam_actions(&target, &operation, &body));
    let fault = *shared.fault.lock().expect("fault lock");
    let throttle = match fault {
        Fault::None => false,
        Fault::Throttle => true,
        Fault::ThrottleWrites => WRITES.contains(&operation.as_str()),
    };
    if throttle {
        shared.throttled.fetch_add(1, Ordering::SeqCst);
        return response(400, "application/x-amz-json-1.0", Bytes::from_static(THROTTLED.as_bytes()));
    }
    match forward(shared, parts, body).await {
        Ok(forwarded) => forwarded,
        // The emulator itself is unreachable: what a load balancer in front of it would answer.
        Err(err) => response(502, "text/plain", Bytes::from(err.to_string())),
    }
}

/// The IAM actions a request needs: an EventBridge one (`AWSEvents.<operation>`) `events:<operation>`; a DynamoDB
/// one `dynamodb:<operation>`, or for a transaction those of its parts (`Put`, `Update`, `Delete`,
/// `ConditionCheck`).
fn iam_actions(target: &str, operation: &str, body: &[u8]) -> Vec<String> {
    if target.starts_with("AWSEvents.") {
        return vec![format!("events:{operation}")];
    }
    if operation != "TransactWriteItems" {
        return vec![format!("dynamodb:{operation}")];
    }
    let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let items = request["TransactItems"].as_array().cloned().unwrap_or_default();
    let parts = items.iter().filter_map(|item| item.as_object()).flat_map(|item| item.keys().cloned());
    parts
        .map(|part| match part.as_str() {
            "ConditionCheck" => "dynamodb:ConditionCheckItem".to_owned(),
            other => format!("dynamodb:{other}Item"),
        })
        .collect()
}

async fn forward(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> Result<hyper::Response<Full<Bytes>>, reqwest::Error> {
    let url = format!("{}{}", shared.upstream, parts.uri.path_and_query().map_or("/", |p| p.as_str()));
    let mut upstream = shared.http.request(parts.method, url).body(body);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection" | "transfer-encoding") {
            upstream = upstream.header(name, value);
        }
    }
    let answer = upstream.send().await?;
    let mut builder = hyper::Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if !matches!(name.as_str(), "content-length" | "connection" | "transfer-encoding") {
            builder = builder.header(name, value);
        }
    }
    let bytes = answer.bytes().await?;
    Ok(builder.body(Full::new(bytes)).expect("a copied response"))
}

fn response(status: u16, content_type: &'static str, body: Bytes) -> hyper::Response<Full<Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body))
        .expect("a valid response")
}
