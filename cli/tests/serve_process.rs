//! `tessera serve` as a user runs it, through the real binary: it stops gracefully on SIGTERM and SIGINT, caps
//! its connections (`--max-connections`), backs off when accept fails (out of file descriptors) instead of
//! filling the log, and writes no colour escapes to a log that is not a terminal.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `tessera serve` child, killed on drop, whose stderr is drained (and counted) by a thread so a chatty runner
/// never blocks on a full pipe.
struct Runner {
    child: std::process::Child,
    stdout: BufReader<ChildStdout>,
    /// `127.0.0.1:<port>`.
    addr: String,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Runner {
    /// Starts `tessera serve --addr 127.0.0.1:0 <args>`, through `sh -c 'ulimit -n N; exec …'` when `nofile` is
    /// given, and waits for its startup line.
    fn start(args: &[&str], nofile: Option<u32>) -> Self {
        let binary = env!("CARGO_BIN_EXE_tessera");
        let mut command = match nofile {
            None => Command::new(binary),
            Some(limit) => {
                let mut command = Command::new("sh");
                command.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\""), binary]);
                command
            }
        };
        let mut child = command
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tessera starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                if let Ok(mut sink) = sink.lock() {
                    sink.extend_from_slice(&chunk[..n]);
                }
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut first = String::new();
        stdout.read_line(&mut first).expect("startup line");
        let addr = first.trim().strip_prefix("Tessera listening on http://").expect("startup line names the address");
        Self { addr: addr.to_owned(), child, stdout, stderr }
    }

    fn stderr_bytes(&self) -> Vec<u8> {
        self.stderr.lock().map(|bytes| bytes.clone()).unwrap_or_default()
    }

    /// Reads stdout lines until one contains `wanted`; false at EOF.
    fn wait_for_line(&mut self, wanted: &str) -> bool {
        let mut line = String::new();
        loop {
            line.clear();
            match self.stdout.read_line(&mut line) {
                Ok(0) | Err(_) => return false,
                Ok(_) if line.contains(wanted) => return true,
                Ok(_) => {}
            }
        }
    }

    /// Waits at most `bound` for the process to exit.
    fn exit_within(&mut self, bound: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill").args(["-s", name, &self.child.id().to_string()]).status().expect("kill runs");
        assert!(sent.success(), "kill -s {name} failed");
    }
}

/// A GET of the JWKS, the cheapest request the runner answers 200.
fn jwks_request(addr: &str) -> String {
    format!("GET /.well-known/jwks.json HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n")
}

/// Connects, sends `request`, and reads the answer to EOF (bounded by `read_timeout`).
fn exchange(addr: &str, request: &str, read_timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(read_timeout))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// A request in flight when the signal arrives (its body half sent) is answered in full once the rest arrives;
/// then the runner exits 0.
fn stops_gracefully_on(signal: &str) {
    let mut runner = Runner::start(&[], None);
    let body = "grant_type=client_credentials&client_id=demo-jwt&client_secret=jwt-demo-secret-please-change-me";
    let (first, rest) = body.split_at(20);
    let mut in_flight = TcpStream::connect(&runner.addr).unwrap();
    in_flight.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nhost: {}\r\ncontent-type: application/x-www-form-urlencoded\r\n\
         content-length: {}\r\n\r\n{first}",
        runner.addr,
        body.len()
    );
    in_flight.write_all(head.as_bytes()).unwrap();
    // The runner has read the head once it holds the connection open past a short pause; the request is in
    // flight from then on. (A head not read yet would be cut by the shutdown, which is also correct.)
    std::thread::sleep(Duration::from_millis(200));

    runner.signal(signal);
    assert!(runner.wait_for_line("shutting down"), "the runner announces the shutdown on {signal}");
    in_flight.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).expect("the request in flight is answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""access_token":""#), "{answer}");

    let status = runner.exit_within(Duration::from_secs(15)).expect("the runner exits after the shutdown");
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(exchange(&runner.addr, &jwks_request(&runner.addr), Duration::from_secs(2)).is_err(), "nothing listens");
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    stops_gracefully_on("TERM");
}

#[test]
fn sigint_finishes_the_request_in_flight_then_exits_0() {
    stops_gracefully_on("INT");
}

/// With `--max-connections 2` and two connections held open, a third waits (it is not refused) and is served
/// as soon as one of the two closes.
#[test]
fn max_connections_holds_the_next_connection_until_one_closes() {
    let runner = Runner::start(&["--max-connections", "2"], None);
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&runner.addr).unwrap()).collect();
    // The backlog is first in, first out: the two held connections take the two slots.
    let mut waiting = TcpStream::connect(&runner.addr).unwrap();
    waiting.write_all(jwks_request(&runner.addr).as_bytes()).unwrap();
    waiting.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut byte = [0u8; 1];
    match waiting.read(&mut byte) {
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("a third connection was served while two held the cap: {other:?}"),
    }
    drop(held);
    waiting.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = Vec::new();
    waiting.read_to_end(&mut answer).expect("served once a slot is free");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

/// Under `ulimit -n 64`, 150 connections exhaust the runner's descriptors: accept fails (EMFILE) over and over.
/// The runner backs off instead of spinning, so its log stays small; once the connections close it serves again.
#[test]
fn accept_errors_back_off_and_the_runner_recovers() {
    let runner = Runner::start(&[], Some(64));
    let flood: Vec<TcpStream> = (0..150).filter_map(|_| TcpStream::connect(&runner.addr).ok()).collect();
    assert!(flood.len() > 64, "the flood exceeds the descriptor limit: {} connections", flood.len());
    std::thread::sleep(Duration::from_secs(2));
    let logged = runner.stderr_bytes();
    assert!(logged.len() < 64 * 1024, "{} bytes of log in 2 s", logged.len());
    assert!(String::from_utf8_lossy(&logged).contains("accept failed"), "the failure is logged");

    drop(flood);
    // The backoff is at most 1 s: within 10 attempts 1 s apart, a request is served.
    let served = (0..10).any(|_| {
        let ok = exchange(&runner.addr, &jwks_request(&runner.addr), Duration::from_secs(5))
            .is_ok_and(|answer| answer.starts_with("HTTP/1.1 200"));
        if !ok {
            std::thread::sleep(Duration::from_secs(1));
        }
        ok
    });
    assert!(served, "the runner serves again once the connections close");
}

/// Logs on a pipe (stderr here) carry no ANSI escape; the request line is there, in plain text.
#[test]
fn logs_on_a_pipe_have_no_colour() {
    let runner = Runner::start(&[], None);
    let answer = exchange(&runner.addr, &jwks_request(&runner.addr), Duration::from_secs(10)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut logged = runner.stderr_bytes();
    while !String::from_utf8_lossy(&logged).contains("/.well-known/jwks.json") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        logged = runner.stderr_bytes();
    }
    let text = String::from_utf8_lossy(&logged);
    assert!(text.contains("/.well-known/jwks.json"), "the request is logged: {text}");
    assert!(!logged.contains(&0x1b), "an escape in the log: {text:?}");
}
