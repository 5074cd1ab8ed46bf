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

fn curl_block(readme: &str) -> String {
    let start = readme.find("<!-- curl-examples:start").expect("README has the curl examples block");
    let block = &readme[start..];
    let body = &block[block.find("```sh\n").expect("sh fence") + 6..];
    body[..body.find("\n```").expect("closing fence")].to_owned()
}

#[test]
fn readme_curl_examples_run_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let script = curl_block(&readme);
    assert!(script.contains("BASE=http://127.0.0.1:9000"), "examples target the documented default address");

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

    let script = script.replace("BASE=http://127.0.0.1:9000", &format!("BASE={base}"));
    let output = Command::new("bash").args(["-euo", "pipefail", "-c", &script]).output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "examples failed: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));

    // Each example's documented answer, in order.
    let expected = [
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
    ];
    let mut rest: &str = &stdout;
    for want in expected {
        let at = rest.find(want).unwrap_or_else(|| panic!("missing {want:?} in order; output:\n{stdout}"));
        rest = &rest[at + want.len()..];
    }
}
