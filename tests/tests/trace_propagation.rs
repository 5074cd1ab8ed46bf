//! X-Ray trace propagation (template.yaml's `Tracing: Active`): the trace header of an invocation reaches the AWS
//! SDK calls the function makes. Nothing in Tessera sets it: lambda_runtime (sequential mode, as our functions run)
//! sets `_X_AMZN_TRACE_ID` from each invocation's `Lambda-Runtime-Trace-Id`, and the SDK's recursion-detection
//! interceptor copies that variable into `X-Amzn-Trace-Id` when `AWS_LAMBDA_FUNCTION_NAME` is set. This checks
//! the chain end to end with the real runtime loop: a fake Lambda Runtime API hands out one invocation with a trace
//! id, the handler reads the table through Tessera's own SDK configuration and DynamoDB adapter, and a fake
//! DynamoDB endpoint records the headers it got. A binary of its own: it sets process-wide environment variables.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tessera::domain::client::ClientId;
use tessera::domain::tenant::TenantId;
use tessera::store::dynamodb::{self, DynamoStore};
use tessera::store::{StoreKey, TokenStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const TRACE_ID: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// One HTTP/1.1 request: its request line, lower-cased headers and body.
struct Received {
    line: String,
    headers: Vec<(String, String)>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize =
        headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + 4 + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(Received { line, headers })
}

async fn respond(stream: &mut tokio::net::TcpStream, status: &str, headers: &[(&str, String)], body: &str) {
    let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    let _ = stream.write_all(out.as_bytes()).await;
}

/// A DynamoDB endpoint that answers every request with an empty `BatchGetItem` result and reports its headers.
async fn fake_dynamodb() -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(request) = read_request(&mut stream).await {
                    let _ = tx.send(request);
                    let json = ("content-type", "application/x-amz-json-1.0".to_owned());
                    respond(&mut stream, "200 OK", &[json], r#"{"Responses":{},"UnprocessedKeys":{}}"#).await;
                }
            });
        }
    });
    (url, rx)
}

/// The Lambda Runtime API: one invocation carrying [`TRACE_ID`], then no more (the next poll waits forever).
/// Reports each request it got (the poll, the function's response).
async fn fake_runtime_api() -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let handed_out = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        while let Ok((mut stream, _)) = listener.accept().await {
            let (tx, handed_out) = (tx.clone(), handed_out.clone());
            tokio::spawn(async move {
                while let Some(request) = read_request(&mut stream).await {
                    let _ = tx.send(request.line.clone());
                    if request.line.contains("/runtime/invocation/next") {
                        if handed_out.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        let deadline = std::time::SystemTime::now() + Duration::from_secs(60);
                        let deadline = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
                        let headers = [
                            ("content-type", "application/json".to_owned()),
                            ("lambda-runtime-aws-request-id", "req-1".to_owned()),
                            ("lambda-runtime-deadline-ms", deadline.to_string()),
                            (
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:tessera-token".to_owned(),
                            ),
                            ("lambda-runtime-trace-id", TRACE_ID.to_owned()),
                        ];
                        respond(&mut stream, "200 OK", &headers, "{}").await;
                    } else {
                        respond(&mut stream, "202 Accepted", &[], "{}").await;
                    }
                }
            });
        }
    });
    (address, rx)
}

fn set(name: &str, value: &str) {
    // SAFETY: this test binary has a single test, and sets the variables before any thread reads them; the runtime
    // loop it then starts sets `_X_AMZN_TRACE_ID` itself, as it does in Lambda.
    unsafe { std::env::set_var(name, value) }
}

#[tokio::test]
async fn the_invocations_trace_header_reaches_dynamodb() {
    let (dynamodb_url, mut dynamodb_requests) = fake_dynamodb().await;
    let (runtime_api, mut runtime_requests) = fake_runtime_api().await;
    for (name, value) in [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "tessera-token"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        set(name, value);
    }
    let sdk = tessera::aws_sdk::sdk_config().await;
    let store = DynamoStore::new(dynamodb::client(&sdk, Some(&dynamodb_url)), "tessera-test");
    let key = StoreKey::client(&TenantId::default(), &ClientId::parse("demo-jwt").unwrap());

    // Outside an invocation there is no trace id, and no header.
    store.get_many(std::slice::from_ref(&key)).await.unwrap();
    let untraced = dynamodb_requests.recv().await.unwrap();
    assert_eq!(untraced.header("x-amzn-trace-id"), None);

    let (store, key) = (Arc::new(store), Arc::new(key));
    let handler = lambda_http::service_fn(move |_: lambda_http::LambdaEvent<Value>| {
        let (store, key) = (store.clone(), key.clone());
        async move {
            store.get_many(std::slice::from_ref(&*key)).await?;
            Ok::<Value, lambda_http::Error>(json!({"read": true}))
        }
    });
    tokio::spawn(lambda_http::lambda_runtime::run(handler));

    let traced = tokio::time::timeout(Duration::from_secs(30), dynamodb_requests.recv()).await.unwrap().unwrap();
    assert!(traced.line.starts_with("POST "), "{}", traced.line);
    assert_eq!(traced.header("x-amz-target"), Some("DynamoDB_20120810.BatchGetItem"));
    assert_eq!(traced.header("x-amzn-trace-id"), Some(TRACE_ID), "the invocation's trace header, unchanged");
    // The invocation completed: the function's answer reached the Runtime API.
    let answered = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = runtime_requests.recv().await {
            if line.contains("/runtime/invocation/req-1/response") {
                return true;
            }
        }
        false
    });
    assert!(answered.await.unwrap());
}
