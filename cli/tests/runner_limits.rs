//! The runner's time bounds ([`RunnerLimits`]), in process with short limits: a head sent slowly (slowloris)
//! and a keep-alive connection left idle are closed at the header timeout, a body sent slowly gets 408, and
//! idle connections held open never stop a normal request.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use tessera::clock::SystemClock;
use tessera::config::Config;
use tessera::entropy::SystemEntropy;
use tessera_cli::runner::{self, RunnerLimits, RunningServer};

/// Far beyond any limit below: a read that waits this long means the runner never closed.
const PATIENCE: Duration = Duration::from_secs(10);

async fn start(limits: RunnerLimits) -> RunningServer {
    let config = Config::from_toml(tessera_cli::DEMO_CONFIG).expect("the demo config parses");
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let clock = Arc::new(SystemClock);
    runner::serve_embedded(
        addr,
        &config,
        clock,
        Arc::new(SystemEntropy),
        Default::default(),
        limits,
        Default::default(),
    )
    .await
    .expect("runner starts")
    .0
}

/// Short timeouts, so the tests wait fractions of a second.
fn short() -> RunnerLimits {
    RunnerLimits {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        ..RunnerLimits::default()
    }
}

/// Reads until the runner closes the connection (or [`PATIENCE`] runs out: an error).
fn read_until_closed(stream: &mut TcpStream) -> std::io::Result<String> {
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

fn jwks_request(server: &RunningServer, connection: &str) -> String {
    format!("GET /.well-known/jwks.json HTTP/1.1\r\nhost: {}\r\nconnection: {connection}\r\n\r\n", server.addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_slowly_is_cut_at_the_header_timeout() {
    let server = start(short()).await;
    let addr = server.addr;
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr)?;
        stream.write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ")?;
        read_until_closed(&mut stream)
    })
    .await
    .unwrap();
    // Closed (with nothing, or at most a 408 head hyper may write), not left hanging.
    let answer = closed.expect("the runner closes a connection whose head does not arrive");
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_at_the_header_timeout() {
    let server = start(short()).await;
    let request = jwks_request(&server, "keep-alive");
    let addr = server.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr)?;
        stream.write_all(request.as_bytes())?;
        read_until_closed(&mut stream)
    })
    .await
    .unwrap()
    .expect("the runner closes the connection once it idles past the timeout");
    assert!(answer.starts_with("HTTP/1.1 200"), "the request itself is served: {answer}");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_slowly_gets_408() {
    let server = start(short()).await;
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: 50\r\n\r\ngrant_type=",
        server.addr
    );
    let addr = server.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr)?;
        stream.write_all(head.as_bytes())?;
        read_until_closed(&mut stream)
    })
    .await
    .unwrap()
    .expect("the runner answers and closes");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(lower.contains("cache-control: no-store"), "{answer}");
    assert!(lower.contains("connection: close"), "{answer}");
    let body: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or_default()).unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].as_str().is_some_and(|d| d.contains("did not arrive")), "{body}");
}

/// 200 connections hold half a head each, under a cap of 1,024 and a long header timeout: normal requests
/// still get their answers, and the held connections, within their timeout, stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_served_while_idle_connections_are_held() {
    let limits = RunnerLimits { header_read_timeout: Duration::from_secs(30), ..RunnerLimits::default() };
    let server = start(limits).await;
    let (addr, request) = (server.addr, jwks_request(&server, "close"));
    tokio::task::spawn_blocking(move || {
        let held: Vec<TcpStream> = (0..200)
            .map(|_| {
                let mut stream = TcpStream::connect(addr).expect("connects");
                stream.write_all(b"GET / HTTP/1.1\r\n").expect("half a head");
                stream
            })
            .collect();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).expect("connects");
            stream.write_all(request.as_bytes()).expect("request written");
            let answer = read_until_closed(&mut stream).expect("answered");
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
        for mut stream in held {
            stream.set_read_timeout(Some(Duration::from_millis(1))).expect("timeout");
            let mut byte = [0u8; 1];
            let still_open = matches!(stream.read(&mut byte), Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
            assert!(still_open, "a held connection within its timeout stays open");
        }
    })
    .await
    .unwrap();
}

/// RFC 9112 §3.2.2: a request target in absolute form names the authority, and the server must use it instead of
/// `Host`. So `/local/events` refuses an absolute target that names another host, whatever `Host` says, and takes
/// one that names the runner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absolute_target_must_name_the_runner_too() {
    let server = start(RunnerLimits::default()).await;
    let addr = server.addr;
    let answers = tokio::task::spawn_blocking(move || {
        let post = |target: String| -> std::io::Result<String> {
            let body = "{}";
            let mut stream = TcpStream::connect(addr)?;
            write!(
                stream,
                "POST {target} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            )?;
            read_until_closed(&mut stream)
        };
        Ok::<_, std::io::Error>((
            post(format!("http://rebind.example:{}/local/events", addr.port()))?,
            post(format!("http://{addr}/local/events"))?,
        ))
    })
    .await
    .unwrap()
    .expect("both answered");
    assert!(answers.0.starts_with("HTTP/1.1 403"), "another authority: {}", answers.0);
    // The runner itself: past the guard, to the handler, which refuses `{}` as no event.
    assert!(answers.1.starts_with("HTTP/1.1 400"), "the runner's own authority: {}", answers.1);
}
