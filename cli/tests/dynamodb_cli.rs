//! The operator CLI and `serve --table` against the DynamoDB emulator, through the real `tessera` binary:
//! register, list, serve, rotate, disable, import. Skipped without the emulator; a failure in CI.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tessera<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("tessera runs");
    assert!(output.status.success(), "tessera {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// `tessera serve` on a free port with `args`, and its base URL once it listens; stopped when dropped.
fn serve(args: &[&str]) -> (Child, String) {
    let mut server = Child(
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args([&["serve", "--addr", "127.0.0.1:0"][..], args].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("Tessera listening on ").expect("startup line").to_owned();
    (server, base)
}

fn secret_of(json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).expect("JSON output");
    value["client_secret"].as_str().expect("client_secret").to_owned()
}

/// POSTs a form to the runner with Basic credentials.
async fn post(base: &str, path: &str, id: &str, secret: &str, body: String) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or_default())
}

async fn token_status(base: &str, id: &str, secret: &str) -> (u16, serde_json::Value) {
    post(base, "/oauth2/token", id, secret, "grant_type=client_credentials".into()).await
}

#[tokio::test]
async fn register_serve_rotate_disable_import() {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the DynamoDB emulator must be running");
        eprintln!("skipped: no DynamoDB emulator (run scripts/test)");
        return;
    };
    let table = format!("tessera-cli-{}", std::process::id());
    let store = ["--table", &table, "--dynamodb-endpoint", &endpoint];
    let with = |cmd: &[&str], extra: &[&str]| -> Vec<String> {
        cmd.iter().chain(&store).chain(extra).map(|s| (*s).to_owned()).collect()
    };

    let svc = tessera(&with(
        &["clients", "register"],
        &["--create-table", "--client-id", "svc", "--scope", "orders:read", "--format", "opaque"],
    ));
    let svc_secret = secret_of(&svc);
    assert_eq!(svc_secret.len(), 43);
    let rs_secret = secret_of(&tessera(&with(
        &["clients", "register"],
        &["--client-id", "rs", "--may-introspect", "--grant-type", "client_credentials"],
    )));
    let listed = tessera(&with(&["clients", "list"], &[]));
    assert!(listed.contains("rs\tjwt\tclient_credentials\t-\ttrue\tfalse\t-"), "{listed}");
    assert!(listed.contains("svc\topaque\tclient_credentials\torders:read\tfalse\tfalse\t-"), "{listed}");
    assert!(!listed.contains(&svc_secret) && !listed.contains("sha256$"));

    // A trusted issuer kept in the table, and a client that may exchange its tokens.
    let idp = tessera::jwt::keys::SigningKey::generate(tessera::jwt::keys::SigningAlgorithm::ES256, "idp-1").unwrap();
    let issuers_toml = std::env::temp_dir().join(format!("tessera-issuers-{}.toml", std::process::id()));
    std::fs::write(
        &issuers_toml,
        format!(
            "[[trusted_issuers]]\nissuer = \"https://idp.cli-test.example/\"\naudiences = [\"api\"]\nalgorithms = [\"ES256\"]\n\
             jwks = '{{\"keys\": [{}]}}'\nclaims_mapping = {{ email = \"email\" }}\n\
             userinfo_endpoint = \"https://idp.cli-test.example/userinfo\"\n",
            idp.public_jwk()
        ),
    )
    .unwrap();
    let imported = tessera(&with(&["issuers", "import"], &["--config", issuers_toml.to_str().unwrap()]));
    assert!(imported.contains("imported 1 trusted issuers"), "{imported}");
    let issuers = tessera(&with(&["issuers", "list"], &[]));
    assert!(
        issuers.contains(
            "https://idp.cli-test.example/\tapi\tES256\tinline\tfalse\thttps://idp.cli-test.example/userinfo"
        ),
        "{issuers}"
    );
    // The identity provider as a Shared Signals transmitter, kept in the table; its bearer token only as a hash.
    let transmitter_token = "cli-test-transmitter-token-0123456789abcdef";
    let transmitters_toml = std::env::temp_dir().join(format!("tessera-transmitters-{}.toml", std::process::id()));
    std::fs::write(
        &transmitters_toml,
        format!(
            "[[ssf_transmitters]]\nissuer = \"https://idp.cli-test.example/\"\naudience = \"https://tessera.cli-test/ssf/events\"\n\
             algorithms = [\"ES256\"]\njwks = '{{\"keys\": [{}]}}'\nauthorization = \"{transmitter_token}\"\n",
            idp.public_jwk()
        ),
    )
    .unwrap();
    let imported = tessera(&with(&["transmitters", "import"], &["--config", transmitters_toml.to_str().unwrap()]));
    assert!(imported.contains("imported 1 SSF transmitters: default/https://idp.cli-test.example/"), "{imported}");
    let transmitters = tessera(&with(&["transmitters", "list"], &[]));
    assert!(
        transmitters.contains(
            "https://idp.cli-test.example/\thttps://tessera.cli-test/ssf/events\tES256\tinline\thttps://idp.cli-test.example/"
        ),
        "{transmitters}"
    );
    assert!(!transmitters.contains(transmitter_token) && !transmitters.contains("sha256$"));
    let exchange_grant = "urn:ietf:params:oauth:grant-type:token-exchange";
    let app_secret = secret_of(&tessera(&with(
        &["clients", "register"],
        &["--client-id", "app", "--scope", "profile", "--grant-type", exchange_grant],
    )));

    let (_server, base) = serve(&store);

    // The runner serves the table's transmitter at /ssf/events, as the receiver function does.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let set = idp
        .sign_jwt(
            "secevent+jwt",
            &serde_json::json!({"iss": "https://idp.cli-test.example/", "aud": "https://tessera.cli-test/ssf/events",
                "iat": now, "jti": format!("cli-{now}"), "events": {
                    "https://schemas.openid.net/secevent/ssf/event-type/verification": {"state": "cli"}}}),
        )
        .unwrap();
    let pushed = reqwest::Client::new()
        .post(format!("{base}/ssf/events"))
        .header("content-type", "application/secevent+jwt")
        .bearer_auth(transmitter_token)
        .body(set)
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status().as_u16(), 202);
    tessera(&with(&["transmitters", "remove"], &["--issuer", "https://idp.cli-test.example/"]));
    assert!(!tessera(&with(&["transmitters", "list"], &[])).contains("idp.cli-test.example"));

    let (status, body) = token_status(&base, "svc", &svc_secret).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tsr_at_"));
    let (_, introspected) = post(&base, "/oauth2/introspect", "rs", &rs_secret, format!("token={token}")).await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["client_id"], "svc");

    // The issuer from the table is trusted by the runner, as by a deployed function.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let subject_token = idp
        .sign_jwt(
            "JWT",
            &serde_json::json!({"iss": "https://idp.cli-test.example/", "sub": "alice", "aud": "api",
            "iat": now, "exp": now + 600, "email": "alice@example.com"}),
        )
        .unwrap();
    let (_, exchanged) = post(&base, "/oauth2/token", "app", &app_secret, format!(
            "grant_type={exchange_grant}&subject_token={subject_token}&subject_token_type=urn:ietf:params:oauth:token-type:jwt"
        )).await;
    let user_token = exchanged["access_token"].as_str().unwrap_or_else(|| panic!("{exchanged}"));
    let (_, user) = post(&base, "/oauth2/introspect", "rs", &rs_secret, format!("token={user_token}")).await;
    assert_eq!(user["sub"], "alice");
    assert!(user.get("user_details").is_none(), "rs has no introspection profile yet: {user}");
    // Give rs the profile without touching its secret (the upgrade path of a resource server registered before
    // profiles existed).
    let profiled =
        tessera(&with(&["clients", "set-profile"], &["--client-id", "rs", "--introspection-profile", "user_details"]));
    assert_eq!(profiled.trim(), "default/rs: user_details");
    let (_, user) = post(&base, "/oauth2/introspect", "rs", &rs_secret, format!("token={user_token}")).await;
    assert_eq!(user["user_details"]["email"], "alice@example.com");
    let listed = tessera(&with(&["clients", "list"], &[]));
    assert!(listed.contains("rs\tjwt\tclient_credentials\t-\ttrue\tfalse\tuser_details"), "{listed}");
    // App attributes and the refresh setting, stored in the table and listed.
    tessera(&with(
        &["clients", "register"],
        &["--client-id", "mobile", "--scope", "orders:read", "--app-identifier", "com.example.mobile"],
    ));
    let mobile = ["--client-id", "mobile2", "--app-platform", "ios", "--app-version", "3.0"];
    tessera(&with(&["clients", "register"], &[&mobile[..], &["--revoke-access-on-refresh", "false"]].concat()));
    let listed = tessera(&with(&["clients", "list"], &[]));
    // The APP column, then METHOD, DPOP and CERT_BOUND.
    let secret = "client_secret_basic,client_secret_post\t-\t-";
    assert!(listed.contains(&format!("\ttrue\tcom.example.mobile/-/-\t{secret}\n")), "{listed}");
    assert!(
        listed.contains(&format!("mobile2\tjwt\tclient_credentials\t-\tfalse\tfalse\t-\tfalse\t-/ios/3.0\t{secret}\n")),
        "{listed}"
    );
    // RFC 8705: a client named by its certificate, its tokens bound to it; no secret is printed or stored.
    let mtls = ["--client-id", "billing", "--auth-method", "tls_client_auth", "--tls-san-dns", "billing.example.com"];
    let registered = tessera(&with(&["clients", "register"], &[&mtls[..], &["--certificate-bound"]].concat()));
    let registered: serde_json::Value = serde_json::from_str(&registered).unwrap();
    assert_eq!(registered["token_endpoint_auth_method"], "tls_client_auth");
    assert!(registered.get("client_secret").is_none_or(serde_json::Value::is_null), "{registered}");
    let listed = tessera(&with(&["clients", "list"], &[]));
    assert!(
        listed
            .contains("billing\tjwt\tclient_credentials\t-\tfalse\tfalse\t-\ttrue\t-\ttls_client_auth\t-\trequired\n"),
        "{listed}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(with(&["clients", "register"], &["--client-id", "bad", "--app-version", "1.0 beta"]))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--app-version") && stderr.contains("app_version must be 1 to 64 characters"), "{stderr}");

    let rotated = secret_of(&tessera(&with(&["clients", "rotate-secret"], &["--client-id", "svc"])));
    assert_eq!(token_status(&base, "svc", &svc_secret).await.0, 401, "the old secret stops working at once");
    assert_eq!(token_status(&base, "svc", &rotated).await.0, 200);

    tessera(&with(&["clients", "disable"], &["--client-id", "svc"]));
    assert_eq!(token_status(&base, "svc", &rotated).await.0, 401, "a disabled client cannot authenticate");
    tessera(&with(&["clients", "enable"], &["--client-id", "svc"]));
    assert_eq!(token_status(&base, "svc", &rotated).await.0, 200);

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/local.toml");
    let imported = tessera(&with(&["clients", "import"], &["--config", example]));
    assert!(imported.contains("imported 3 clients"), "{imported}");
    assert_eq!(token_status(&base, "demo-jwt", "jwt-demo-secret-please-change-me").await.0, 200);

    // Revocation by subject, straight into the table: alice's token dies, the client's token does not.
    let introspect = async |token: &str| {
        post(&base, "/oauth2/introspect", "rs", &rs_secret, format!("token={token}")).await.1["active"] == true
    };
    let (_, body) = token_status(&base, "svc", &rotated).await;
    let svc_token = body["access_token"].as_str().unwrap().to_owned();
    let out = tessera(&with(&["revoke"], &["--subject", "alice", "--reason", "cli test", "--event-id", "cli-1"]));
    assert_eq!(out.trim(), r#"{"event_id":"cli-1","written":true}"#);
    assert!(!introspect(user_token).await, "alice's token is revoked");
    assert!(introspect(&svc_token).await);
    let again = tessera(&with(&["revoke"], &["--subject", "alice", "--reason", "cli test", "--event-id", "cli-1"]));
    assert_eq!(again.trim(), r#"{"event_id":"cli-1","written":false}"#, "the same event id writes once");

    // Announced on an EventBridge bus (the emulator's, when scripts/test points the SDK at it): on a bus that does
    // not exist, the revocation is written and the command fails saying so; the same event id again, on a bus that
    // exists, writes nothing and announces it.
    if std::env::var("AWS_ENDPOINT_URL_EVENTBRIDGE").is_ok() {
        let bob = |bus: &str| {
            with(&["revoke"], &["--subject", "bob", "--reason", "cli test", "--event-id", "cli-2", "--event-bus", bus])
        };
        let failed = Command::new(env!("CARGO_BIN_EXE_tessera")).args(bob("tessera-no-such-bus")).output().unwrap();
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(!failed.status.success(), "{stderr}");
        assert!(stderr.contains("the revocation stands"), "{stderr}");
        let announced = tessera(&bob("default"));
        assert_eq!(announced.trim(), r#"{"event_id":"cli-2","written":false}"#, "written the first time");
    } else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the EventBridge emulator must be running");
    }

    // Revocation by client through the runner, as an event; and an event file with a malformed message.
    let out = tessera(&["revoke", "--client-id", "svc", "--reason", "cli test", "--url", &base]);
    assert!(out.contains(r#""written":true"#), "{out}");
    assert!(!introspect(&svc_token).await, "svc's token is revoked");

    // `tokens inspect` in the table: the state, the watermark, and exit 3 for a token that is not active; the token
    // from stdin (`-`), never echoed.
    let inspect = |extra: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(with(&["tokens", "inspect"], extra))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tessera runs");
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        (output.status.code(), String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
    };
    let (code, out, err) = inspect(&["-"], Some(&format!("{svc_token}\n")));
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(out.starts_with("INACTIVE: its client's watermark"), "{out}");
    assert!(out.contains("client_id     svc") && !out.contains(&svc_token), "{out}");
    let (_, body) = token_status(&base, "svc", &rotated).await;
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    let (code, out, _) = inspect(&[&fresh, "--json"], None);
    assert_eq!(code, Some(0), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((json["state"].as_str(), json["token"]["format"].as_str()), (Some("ACTIVE"), Some("opaque")));
    let (code, out, err) = inspect(&[&fresh, "--tenant", "nowhere"], None);
    assert_eq!(code, Some(1), "an unserved tenant is an error: {out}{err}");
    assert!(err.contains("tenant nowhere"), "{err}");

    let batch = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/revocation-sqs-batch.json");
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["events", "send", batch, "--url", &base])
        .output()
        .expect("tessera runs");
    assert!(!output.status.success(), "a batch with a failed message fails the command");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2e1424d4-f796-459a-8184-9c92662be6da"), "names the failed message: {stderr}");
}

/// `tokens inspect` asks a running `tessera serve` (its embedded store) when no table is given.
#[tokio::test]
async fn inspect_asks_the_runner_without_a_table() {
    let (_server, base) = serve(&[]);
    let (status, body) = token_status(&base, "demo-opaque", "opaque-demo-secret-change-me-now").await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["tokens", "inspect", token, "--url", &base])
        .output()
        .expect("tessera runs");
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.starts_with("ACTIVE: ") && out.contains("client_id     demo-opaque") && !out.contains(token), "{out}");
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["tokens", "inspect", "tsr_at_nope", "--url", &base, "--json"])
        .output()
        .expect("tessera runs");
    assert_eq!(output.status.code(), Some(3));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["state"], "UNKNOWN");
}

#[tokio::test]
async fn tenants_delete_leaves_nothing_for_a_tenant_created_again_under_its_name() {
    let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") else {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true: the DynamoDB emulator must be running");
        eprintln!("skipped: no DynamoDB emulator (run scripts/test)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("tessera-tenant-delete-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys.json");
    let keys = keys.to_str().unwrap();
    std::fs::write(keys, tessera(&["generate-key", "--kid", "k1", "--secret-json"])).unwrap();
    tessera(&["tenants", "create", "acme", "--keys-file", keys]);
    let table = format!("tessera-tenants-{}", std::process::id());
    let store = ["--table", &table, "--dynamodb-endpoint", &endpoint];
    let with = |cmd: &[&str], extra: &[&str]| -> Vec<String> {
        cmd.iter().chain(&store).chain(extra).map(|s| (*s).to_owned()).collect()
    };
    let register = |extra: &[&str]| secret_of(&tessera(&with(&["clients", "register", "--tenant", "acme"], extra)));
    let svc = register(&["--create-table", "--client-id", "svc", "--scope", "orders:read", "--format", "opaque"]);
    let rs = register(&["--client-id", "rs", "--may-introspect", "--grant-type", "client_credentials"]);
    let issuers_toml = dir.join("issuers.toml");
    let idp = tessera::jwt::keys::SigningKey::generate(tessera::jwt::keys::SigningAlgorithm::ES256, "idp-1").unwrap();
    std::fs::write(
        &issuers_toml,
        format!(
            "[[tenants]]\nname = \"acme\"\n\n[[trusted_issuers]]\ntenant = \"acme\"\nissuer = \"https://idp.acme.example/\"\n\
             audiences = [\"api\"]\nalgorithms = [\"ES256\"]\njwks = '{{\"keys\": [{}]}}'\n",
            idp.public_jwk()
        ),
    )
    .unwrap();
    tessera(&with(&["issuers", "import"], &["--config", issuers_toml.to_str().unwrap()]));

    let (_server, base) = serve(&[&["--keys-file", keys, "--keys-ttl", "1"][..], &store[..]].concat());
    let (status, body) = post(&base, "/t/acme/oauth2/token", "svc", &svc, "grant_type=client_credentials".into()).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();

    // A name the document does not have touches nothing; neither does the default tenant.
    let refused = |name: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(with(&["tenants", "delete", name], &["--keys-file", keys]))
            .output()
            .unwrap();
        assert!(!output.status.success(), "tenants delete {name}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(refused("acmee").contains("no tenant acmee in the signing-key document"));
    assert!(refused("default").contains("cannot be deleted"));
    assert!(tessera(&with(&["clients", "list"], &["--tenant", "acme"])).contains("svc"));

    let deleted = tessera(&with(&["tenants", "delete", "acme"], &["--keys-file", keys]));
    let deleted: serde_json::Value = serde_json::from_str(&deleted).unwrap();
    assert_eq!(deleted["clients_deleted"], serde_json::json!(["rs", "svc"]));
    assert_eq!(deleted["trusted_issuers_deleted"], serde_json::json!(["https://idp.acme.example/"]));
    assert!(!tessera(&["tenants", "list", "--keys-file", keys]).contains("acme"));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, _) = post(&base, "/t/acme/oauth2/introspect", "rs", &rs, format!("token={token}")).await;
    assert_eq!(status, 404, "the runner re-read the key file");
    // Again, table only (the tenant is out of the document): what was registered since goes too.
    register(&["--client-id", "late", "--scope", "orders:read"]);
    let again = tessera(&with(&["tenants", "delete", "acme"], &["--keys-file", keys, "--table-only"]));
    assert!(again.contains(r#""clients_deleted":["late"]"#), "{again}");

    // Created again under the same name: nothing of the old tenant works, and its client ids are free.
    tessera(&["tenants", "create", "acme", "--keys-file", keys]);
    let rs2 = register(&["--client-id", "rs2", "--may-introspect", "--grant-type", "client_credentials"]);
    let new_svc = register(&["--client-id", "svc", "--scope", "orders:read"]);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (status, _) = post(&base, "/t/acme/oauth2/token", "svc", &svc, "grant_type=client_credentials".into()).await;
    assert_eq!(status, 401, "the old secret of svc");
    let (status, body) = post(&base, "/t/acme/oauth2/introspect", "rs2", &rs2, format!("token={token}")).await;
    assert_eq!((status, &body), (200, &serde_json::json!({"active": false})), "its tokens are revoked");
    assert!(!tessera(&with(&["issuers", "list"], &["--tenant", "acme"])).contains("idp.acme.example"));
    // Within the revocation's margin (60 s) the new tenant's first tokens are revoked too; past it, they live.
    let (status, _) =
        post(&base, "/t/acme/oauth2/token", "svc", &new_svc, "grant_type=client_credentials".into()).await;
    assert_eq!(status, 200, "the new svc authenticates");
    std::fs::remove_dir_all(dir).unwrap();
}
