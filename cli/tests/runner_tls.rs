//! The runner over TLS (`tessera serve --tls-cert … --tls-key …`) with optional client certificates, end to end
//! with certificates made here (rcgen): the client certificate of the handshake reaches the handlers in the
//! request context, where API Gateway's mutual TLS puts it (RFC 8705 §2, §3), and a header never does.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use reqwest::{Certificate, Identity, StatusCode};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use tessera::clock::SystemClock;
use tessera::config::Config;
use tessera::entropy::SystemEntropy;
use tessera::wire::client_cert::CertificateThumbprint;
use tessera_cli::runner::{self, RunnerLimits, RunningServer};
use tessera_cli::tls::{ClientCertificates, server_config};

/// A certificate and its key, as PEM and DER.
struct Credential {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Credential {
    fn identity(&self) -> Identity {
        Identity::from_pem(format!("{}{}", self.cert_pem, self.key_pem).as_bytes()).expect("identity")
    }

    fn thumbprint(&self) -> String {
        CertificateThumbprint::of_der(&self.der).as_str().to_owned()
    }
}

/// A test CA, the runner's certificate (for 127.0.0.1) and a client certificate it issued, plus a self-signed
/// client certificate.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server: Credential,
    issued_client: Credential,
    self_signed_client: Credential,
}

fn credential(cert: rcgen::Certificate, key: &KeyPair) -> Credential {
    Credential {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().clone(),
        key_der: key.serialize_der(),
    }
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.distinguished_name.push(DnType::CommonName, "Tessera test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA");
    let (ca_pem, ca_der) = (ca_cert.pem(), ca_cert.der().clone());
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().expect("key");
    let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("p");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = credential(server_params.signed_by(&server_key, &issuer).expect("server"), &server_key);

    let client_key = KeyPair::generate().expect("key");
    let mut client_params = CertificateParams::new(vec!["client.example.com".to_owned()]).expect("params");
    client_params.distinguished_name.push(DnType::OrganizationName, "Example");
    client_params.distinguished_name.push(DnType::CommonName, "issued-client");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let issued_client = credential(client_params.signed_by(&client_key, &issuer).expect("client"), &client_key);

    let own_key = KeyPair::generate().expect("key");
    let mut own_params = CertificateParams::new(vec!["self.example.com".to_owned()]).expect("params");
    own_params.distinguished_name.push(DnType::CommonName, "self-signed-client");
    let self_signed_client = credential(own_params.self_signed(&own_key).expect("self-signed"), &own_key);

    Pki { ca_pem, ca_der, server, issued_client, self_signed_client }
}

/// The runner on the demo configuration over TLS, accepting the client certificates `clients` says, with a
/// short handshake timeout.
async fn start(pki: &Pki, clients: ClientCertificates) -> RunningServer {
    let config = Config::from_toml(tessera_cli::DEMO_CONFIG).expect("the demo config parses");
    let key = PrivateKeyDer::Pkcs8(pki.server.key_der.clone().into());
    let client_certificates = match &clients {
        ClientCertificates::NotRequested => runner::ClientCertificateChecks::NotRequested,
        ClientCertificates::TrustedBy(_) => runner::ClientCertificateChecks::ChainVerified,
        ClientCertificates::AnyWellFormed => runner::ClientCertificateChecks::AnyAccepted,
    };
    let tls = server_config(vec![pki.server.der.clone()], key, clients).expect("TLS configuration");
    let limits = RunnerLimits { tls_handshake_timeout: Duration::from_millis(300), ..RunnerLimits::default() };
    let addr = "127.0.0.1:0".parse().expect("addr");
    runner::serve_embedded(
        runner::ListenOn { addr, tls: Some(tls), client_certificates },
        &config,
        Arc::new(SystemClock),
        Arc::new(SystemEntropy),
        Default::default(),
        limits,
        Default::default(),
    )
    .await
    .expect("runner starts")
    .0
}

/// An HTTPS client trusting the test CA only, presenting `identity` if given.
fn client(pki: &Pki, identity: Option<&Credential>) -> reqwest::Client {
    let ca = Certificate::from_pem(pki.ca_pem.as_bytes()).expect("CA");
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]).timeout(Duration::from_secs(10));
    if let Some(credential) = identity {
        builder = builder.identity(credential.identity());
    }
    builder.build().expect("client")
}

/// `GET /local/client-certificate`: the status, and the body as JSON.
async fn shown_certificate(
    client: &reqwest::Client,
    server: &RunningServer,
    headers: &[(&str, &str)],
) -> reqwest::Result<(StatusCode, Value)> {
    let mut request = client.get(format!("https://{}/local/client-certificate", server.addr));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await?;
    Ok((response.status(), response.json().await?))
}

async fn token_status(client: &reqwest::Client, server: &RunningServer) -> StatusCode {
    client
        .post(format!("https://{}/oauth2/token", server.addr))
        .basic_auth("demo-jwt", Some("jwt-demo-secret-please-change-me"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token request")
        .status()
}

/// RFC 8705 §2.2 (`self_signed_tls_client_auth`): a self-signed certificate gets through the handshake with
/// `--tls-client-any`, and its `x5t#S256` (§3.1) and subject reach the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_client_certificate_reaches_the_handler() {
    let pki = pki();
    let server = start(&pki, ClientCertificates::AnyWellFormed).await;
    let client = client(&pki, Some(&pki.self_signed_client));
    let (status, shown) = shown_certificate(&client, &server, &[]).await.expect("served");
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(shown["x5t#S256"], pki.self_signed_client.thumbprint());
    assert_eq!(shown["subject_dn"], "CN=self-signed-client");
    assert_eq!(shown["subject_alt_names"], serde_json::json!([{ "dns": "self.example.com" }]));
    assert_eq!(token_status(&client, &server).await, StatusCode::OK);
    server.shutdown().await;
}

/// Client certificates are optional at the TLS layer: a client without one is served, and its requests carry
/// no certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_certificate_is_served() {
    let pki = pki();
    let server = start(&pki, ClientCertificates::AnyWellFormed).await;
    let client = client(&pki, None);
    assert_eq!(token_status(&client, &server).await, StatusCode::OK);
    let (status, _) = shown_certificate(&client, &server, &[]).await.expect("served");
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.shutdown().await;
}

/// RFC 8705 §2: the certificate is the TLS connection's. Headers named like a certificate, which any client can
/// send, are never read: without a certificate there is none, and with one it is the handshake's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_certificate_header_is_ignored() {
    let pki = pki();
    let server = start(&pki, ClientCertificates::AnyWellFormed).await;
    let forged = pki.issued_client.cert_pem.replace('\n', "");
    let forged_headers: Vec<(&str, &str)> =
        ["x-client-cert", "x-amzn-mtls-clientcert", "x-ssl-client-cert", "ssl-client-cert"]
            .into_iter()
            .map(|name| (name, forged.as_str()))
            .collect();
    let (status, _) = shown_certificate(&client(&pki, None), &server, &forged_headers).await.expect("served");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let with_own = client(&pki, Some(&pki.self_signed_client));
    let (status, shown) = shown_certificate(&with_own, &server, &forged_headers).await.expect("served");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["x5t#S256"], pki.self_signed_client.thumbprint());
    server.shutdown().await;
}

/// `--tls-client-ca` (as API Gateway's truststore, for `tls_client_auth`, RFC 8705 §2.1): a certificate the CA
/// issued is accepted, a self-signed one fails the handshake, and a client without one is still served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_client_ca_only_the_certificates_it_issued_get_through() {
    let pki = pki();
    let server = start(&pki, ClientCertificates::TrustedBy(vec![pki.ca_der.clone()])).await;
    let issued = client(&pki, Some(&pki.issued_client));
    let (status, shown) = shown_certificate(&issued, &server, &[]).await.expect("served");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["x5t#S256"], pki.issued_client.thumbprint());
    // rcgen's default subject holds a CN first, which the push replaces in place: CN then O in the certificate,
    // so O first in RFC 4514's reversed order.
    assert_eq!(shown["subject_dn"], "O=Example,CN=issued-client");
    assert!(shown_certificate(&client(&pki, Some(&pki.self_signed_client)), &server, &[]).await.is_err());
    assert_eq!(token_status(&client(&pki, None), &server).await, StatusCode::OK);
    server.shutdown().await;
}

/// Plain HTTP to the TLS port gets no HTTP answer, only a closed connection (or a TLS alert), and the runner
/// goes on serving TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_fails_cleanly() {
    let pki = pki();
    let server = start(&pki, ClientCertificates::NotRequested).await;
    let plain = reqwest::Client::new().get(format!("http://{}/.well-known/jwks.json", server.addr)).send().await;
    assert!(plain.is_err(), "a plain-HTTP request got an answer: {plain:?}");
    let addr = server.addr;
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        stream.write_all(b"GET /.well-known/jwks.json HTTP/1.1\r\nhost: x\r\n\r\n").expect("write");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        answer
    })
    .await
    .expect("join");
    assert!(!answer.starts_with(b"HTTP/"), "answered in plain HTTP");
    assert_eq!(token_status(&client(&pki, None), &server).await, StatusCode::OK);
    server.shutdown().await;
}

/// A connection that never starts its handshake holds its slot no longer than the handshake timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_at_the_handshake_timeout() {
    let pki = pki();
    let server = start(&pki, ClientCertificates::NotRequested).await;
    let addr = server.addr;
    let waited = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let started = Instant::now();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("closed by the runner, not timed out here");
        started.elapsed()
    })
    .await
    .expect("join");
    assert!(waited < Duration::from_secs(5), "closed after {waited:?}");
    server.shutdown().await;
}
