//! The README's curl examples, run as written against the real `tessera` binary (`serve` on a free port), so
//! the README cannot drift from what the product does.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn marked_block(readme: &str, marker: &str) -> String {
    let start = readme.find(marker).expect("README has the marked block");
    let block = &readme[start..];
    let body = &block[block.find("```sh\n").expect("sh fence") + 6..];
    body[..body.find("\n```").expect("closing fence")].to_owned()
}

/// `tessera serve` (the demo configuration) on a free port, and its base URL.
fn start_runner() -> (Child, String) {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("tessera starts"),
    );
    let mut first = String::new();
    BufReader::new(child.0.stdout.as_mut().unwrap()).read_line(&mut first).unwrap();
    let base = first.trim().strip_prefix("Tessera listening on ").expect("startup line names the address").to_owned();
    (child, base)
}

/// The test venv's `bin` (scripts/test's `TESSERA_VENV`, by default `.venv` at the repository root), whose
/// `python3` has `cryptography` (scripts/requirements-test.txt), for the examples that sign DPoP proofs.
fn venv_bin() -> std::path::PathBuf {
    let venv = std::env::var("TESSERA_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
    let bin = venv.join("bin");
    assert!(bin.join("python3").exists(), "no test venv at {} (set TESSERA_VENV, or run scripts/test)", venv.display());
    bin
}

/// Runs a README block against a runner started for it, with `BASE` pointed at it, and checks that its output
/// holds each of `expected` in order.
fn run_against_runner(marker: &str, expected: impl Fn(&str) -> Vec<String>) {
    run_with_path(marker, None, expected)
}

/// [`run_against_runner`] with `bin` first on the script's `PATH`.
fn run_with_path(marker: &str, bin: Option<std::path::PathBuf>, expected: impl Fn(&str) -> Vec<String>) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let script = marked_block(&readme, marker);
    assert!(script.contains("BASE=http://127.0.0.1:9000"), "examples target the documented default address");
    let (_child, base) = start_runner();
    let script = script.replace("BASE=http://127.0.0.1:9000", &format!("BASE={base}"));
    let mut command = Command::new("bash");
    command.args(["-euo", "pipefail", "-c", &script]);
    if let Some(bin) = bin {
        let dir = std::env::temp_dir().join(format!("tessera-readme-{}-{}", marker.len(), std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{}:{path}", bin.display())).current_dir(dir);
    }
    let output = command.output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "examples failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let mut rest: &str = &stdout;
    for want in expected(&base) {
        let at = rest.find(&want).unwrap_or_else(|| panic!("missing {want:?} in order; output:\n{stdout}"));
        rest = &rest[at + want.len()..];
    }
}

#[test]
fn readme_curl_examples_run_as_written() {
    // Each example's documented answer, in order.
    run_against_runner("<!-- curl-examples:start", |base| {
        [
            r#"{"active":true,"scope":"orders:read","client_id":"demo-jwt""#,
            "200\n",
            r#"{"active":false}"#,
            r#"{"access_token":"tsr_at_"#,
            r#"{"error":"invalid_client""#,
            r#"{"error":"unsupported_grant_type""#,
            r#"{"active":false}"#,
            r#"{"error":"invalid_request","error_description":"missing parameter 'grant_type'"}"#,
            &format!(r#"{{"issuer":"{base}""#),
            r#"{"keys":[{"#,
            r#"{"event_id":"demo-1","written":true}"#,
            r#"{"active":false}"#,
            r#"{"announcements":[{"schema_version":1,"id":""#,
            r#""tenant":"default","kind":"token","client_id":"demo-jwt","jti":""#,
            r#""cause":"rfc7009"}"#,
            r#""kind":"client","client_id":"demo-jwt","revoked_at":"#,
            r#""cause":"event","reason":"demo","event_id":"demo-1"}]}"#,
            r#"{"err":"authentication_failed","#,
        ]
        .map(str::to_owned)
        .to_vec()
    });
}

#[test]
fn readme_authorizer_example_runs_as_written() {
    // A token gets 200 on the demo route, 403 where it lacks a scope, no token 401, and the token 403 once revoked.
    run_against_runner("<!-- authorizer-example:start", |_| {
        [
            r#"{"authorizer":{"client_id":"demo-jwt","jti":""#,
            r#""scope":"orders:read","sub":"demo-jwt","tenant":"default","username":""},"orders":[]}"#,
            r#"{"message":"Forbidden"} 403"#,
            "HTTP/1.1 401 Unauthorized",
            r#"www-authenticate: Bearer realm="tessera""#,
            "200\n",
            r#"{"message":"Forbidden"} 403"#,
        ]
        .map(str::to_owned)
        .to_vec()
    });
}

/// A README block that starts its own runner (`cargo run --release -- serve … &`), made to run here: the built
/// binary, on a free port, in a fresh directory (returned) named after `name`. Should a step fail before `kill %1`,
/// the runner must not outlive the script (nor hold its output open).
fn local_script(marker: &str, name: &str) -> (String, std::path::PathBuf) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let script = marked_block(&readme, marker);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bin = env!("CARGO_BIN_EXE_tessera");
    let script = script
        .replace("cargo run --release -- ", &format!("{bin} "))
        .replace(&format!("{bin} serve "), &format!("{bin} serve --addr 127.0.0.1:{port} "))
        .replace("127.0.0.1:9000", &format!("127.0.0.1:{port}"));
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    (format!("trap 'jobs -p | xargs -r kill 2>/dev/null || true' EXIT\n{script}"), dir)
}

#[test]
fn readme_dpop_example_runs_as_written() {
    // RFC 9449: a bound token, its binding at introspection, 200 with a proof, 401 with a DPoP challenge as bearer.
    run_with_path("<!-- dpop-example:start", Some(venv_bin()), |_| {
        [
            r#""token_type":"DPoP""#,
            r#""cnf":{"jkt":""#,
            r#"{"authorizer":{"client_id":"demo-jwt","#,
            r#""orders":[]} 200"#,
            "HTTP/1.1 401 Unauthorized",
            r#"www-authenticate: DPoP error="invalid_token", algs="ES256 EdDSA RS256 PS256""#,
        ]
        .map(str::to_owned)
        .to_vec()
    });
}

#[test]
fn readme_local_rotation_runs_as_written() {
    let (script, dir) = local_script("<!-- rotation-example:start", "rotation");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env_remove("SIGNING_KEYS_SECRET_ARN")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "rotation failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(r#""kid":"local-2","alg":"ES256","state":"next""#), "{stdout}");
    assert!(stdout.contains(r#""kid":"local-2","alg":"ES256","state":"active""#), "{stdout}");
    let jwks: serde_json::Value =
        serde_json::from_str(stdout.lines().find(|l| l.starts_with(r#"{"keys""#)).expect("the JWKS line")).unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, ["local-2", "local-1"]);

    // An exported SIGNING_KEYS_SECRET_ARN (as in a shell set up for AWS) does not conflict with --keys-file.
    let listed = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["keys", "list", "--keys-file", "keys.json"])
        .current_dir(&dir)
        .env("SIGNING_KEYS_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:000000000000:secret:elsewhere")
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A directory whose `python3` can import joserfc: the test venv (`TESSERA_VENV`, else the repository's `.venv`,
/// as scripts/test makes it), else the `python3` on `PATH` if it has joserfc. `None`: skip (a failure in CI).
fn python_with_joserfc() -> Option<std::path::PathBuf> {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = std::env::var_os("TESSERA_VENV").map(std::path::PathBuf::from).unwrap_or_else(|| repo.join(".venv"));
    let venv = if venv.is_relative() { repo.join(venv) } else { venv };
    let candidates = [venv.join("bin"), std::path::PathBuf::new()];
    candidates.into_iter().find(|dir| {
        let python = if dir.as_os_str().is_empty() { "python3".into() } else { dir.join("python3") };
        Command::new(python).args(["-c", "import joserfc"]).output().is_ok_and(|o| o.status.success())
    })
}

#[test]
fn readme_private_key_jwt_example_runs_as_written() {
    let Some(python_dir) = python_with_joserfc() else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the test venv must have joserfc");
        eprintln!("skipped: no python3 with joserfc (scripts/test's venv has it)");
        return;
    };
    let (script, dir) = local_script("<!-- private-key-jwt-example:start", "private-key-jwt");
    let path = match python_dir.as_os_str().is_empty() {
        true => std::env::var("PATH").unwrap_or_default(),
        false => format!("{}:{}", python_dir.display(), std::env::var("PATH").unwrap_or_default()),
    };
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&dir)
        .env("PATH", path)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "example failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(r#"{"access_token":"eyJ"#) && lines[0].contains(r#""scope":"orders:read""#),
        "{stdout}"
    );
    assert_eq!(lines[1], r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
}

#[test]
fn readme_tls_example_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let script = marked_block(&readme, "<!-- tls-example:start");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = script
        .replace("cargo run --release -- ", &format!("{} ", env!("CARGO_BIN_EXE_tessera")))
        .replace("serve --tls-cert", &format!("serve --addr 127.0.0.1:{port} --tls-cert"))
        .replace("127.0.0.1:9000", &format!("127.0.0.1:{port}"));
    let dir = std::env::temp_dir().join(format!("tessera-tls-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!("trap 'jobs -p | xargs -r kill 2>/dev/null || true' EXIT\n{script}");
    let output = Command::new("bash").args(["-euo", "pipefail", "-c", &script]).current_dir(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "TLS example failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let shown: serde_json::Value = serde_json::from_str(stdout.lines().next().expect("the certificate")).unwrap();
    assert_eq!(shown["subject_dn"], "CN=my-client");
    assert_eq!(shown["x5t#S256"].as_str().map(str::len), Some(43));
    assert!(stdout.lines().nth(1).is_some_and(|l| l.starts_with(r#"{"access_token":"#)), "{stdout}");
    assert!(stdout.lines().nth(2).is_some_and(|l| l.starts_with("curl exit ")), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn readme_mtls_example_runs_as_written() {
    // RFC 8705: a client authenticated by its certificate, its token bound to it (the cnf is the certificate's
    // hash as openssl computes it), the demo route passing with the certificate and not without, and no client
    // without a certificate.
    let (script, dir) = local_script("<!-- mtls-example:start", "mtls");
    let output = Command::new("bash").args(["-euo", "pipefail", "-c", &script]).current_dir(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "mTLS example failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    let issued: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(issued["token_type"], "Bearer", "{stdout}");
    let introspected: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!((introspected["active"].clone(), introspected["token_type"].clone()), (true.into(), "Bearer".into()));
    assert_eq!(introspected["cnf"]["x5t#S256"].as_str(), Some(lines[2]), "the binding is openssl's hash: {stdout}");
    assert!(
        lines[3].starts_with(r#"{"authorizer":{"client_id":"billing""#) && lines[3].ends_with(r#""orders":[]} 200"#)
    );
    assert_eq!(lines[4], r#"{"message":"Forbidden"} 403"#);
    assert_eq!(lines[5], r#"{"error":"invalid_client","error_description":"client authentication failed"}"#);
    std::fs::remove_dir_all(dir).unwrap();
}
