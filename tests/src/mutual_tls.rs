//! Mutual TLS for the end-to-end suites (RFC 8705): a test PKI made with rcgen (independent of the x509-cert code
//! Tessera reads certificates with), the runner serving HTTPS that asks for client certificates, on the store
//! `TESSERA_E2E_STORE` selects, and HTTPS clients presenting one certificate or none.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tessera::config::Config;
use tessera_cli::runner;
use tessera_cli::tls::{ClientCertificates, server_config};

use crate::{Endpoint, TestServer, backend_store};

/// A certificate and its private key.
#[derive(Clone)]
pub struct Credential {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its key, PEM (PKCS#8).
    pub key_pem: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The public key, as a JWK without `x5c` (P-256).
    public_jwk: Value,
}

impl Credential {
    fn of(cert: rcgen::Certificate, key: &KeyPair) -> Self {
        // rcgen's default key is P-256: its raw public key is the uncompressed point 0x04 ‖ x ‖ y.
        let point = key.public_key_raw();
        let public_jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Self { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().to_vec(), public_jwk }
    }

    /// The reqwest identity that presents this certificate in a handshake.
    pub fn identity(&self) -> reqwest::Identity {
        reqwest::Identity::from_pem(format!("{}{}", self.cert_pem, self.key_pem).as_bytes()).expect("identity")
    }

    /// RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER, computed here from rcgen's DER.
    pub fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.der).as_ref())
    }

    /// The JWK of this certificate's key with the certificate in `x5c` (RFC 7517 §4.7: standard base64 DER), as a
    /// `self_signed_tls_client_auth` client registers it (RFC 8705 §2.2).
    pub fn jwk_with_x5c(&self, kid: &str) -> Value {
        let mut jwk = self.public_jwk.clone();
        jwk["kid"] = json!(kid);
        jwk["x5c"] = json!([STANDARD.encode(&self.der)]);
        jwk
    }
}

/// A test CA and what it issued, plus self-signed client certificates.
pub struct Pki {
    /// The CA certificate, PEM: the runner's `--tls-client-ca`, and what the HTTPS clients trust.
    pub ca_pem: String,
    ca_der: CertificateDer<'static>,
    server: Credential,
    /// Issued by the CA: subject `O=Example,CN=billing` (RFC 4514), SAN DNS `billing.example.com`.
    pub billing: Credential,
    /// Issued by the CA when `billing` was renewed: the same subject and SAN, a new key.
    pub billing_renewed: Credential,
    /// Issued by the CA to `billing` long ago: the same subject and SAN, expired since 2020.
    pub billing_expired: Credential,
    /// Issued by the CA: subject `O=Example,CN=other`, SAN DNS `other.example.com`.
    pub other: Credential,
    /// Self-signed: subject `CN=batch`.
    pub self_signed: Credential,
    /// Self-signed, registered nowhere: subject `CN=batch` too.
    pub unregistered: Credential,
}

impl Pki {
    /// Makes a fresh PKI.
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name.push(DnType::CommonName, "Tessera e2e CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA");
        let (ca_pem, ca_der) = (ca_cert.pem(), ca_cert.der().clone());
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("key");
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("params");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = Credential::of(server_params.signed_by(&server_key, &issuer).expect("server"), &server_key);

        let issued_until = |cn: &str, dns: &str, until: Option<i32>| {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::default();
            if let Some(year) = until {
                params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
                params.not_after = rcgen::date_time_ymd(year, 1, 1);
            }
            params.subject_alt_names = vec![SanType::DnsName(dns.try_into().expect("dns"))];
            params.distinguished_name.push(DnType::CommonName, cn);
            params.distinguished_name.push(DnType::OrganizationName, "Example");
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            Credential::of(params.signed_by(&key, &issuer).expect("client"), &key)
        };
        let issued = |cn: &str, dns: &str| issued_until(cn, dns, None);
        let self_signed = || {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, "batch");
            Credential::of(params.self_signed(&key).expect("self-signed"), &key)
        };
        Pki {
            ca_pem,
            ca_der,
            server,
            billing: issued("billing", "billing.example.com"),
            billing_renewed: issued("billing", "billing.example.com"),
            billing_expired: issued_until("billing", "billing.example.com", Some(2020)),
            other: issued("other", "other.example.com"),
            self_signed: self_signed(),
            unregistered: self_signed(),
        }
    }

    /// An HTTPS client trusting the test CA, presenting `identity` when given.
    pub fn client(&self, identity: Option<&Credential>) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("CA");
        let mut builder = reqwest::Client::builder().tls_certs_only([ca]).timeout(std::time::Duration::from_secs(10));
        if let Some(credential) = identity {
            builder = builder.identity(credential.identity());
        }
        builder.build().expect("client")
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

/// Which client certificates the runner accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepting {
    /// Those that chain to the test CA (`--tls-client-ca`), as API Gateway's truststore.
    IssuedByTheCa,
    /// Any well-formed one, self-signed included (`--tls-client-any`): no chain is verified.
    Any,
}

impl TestServer {
    /// Starts a runner on `config` over HTTPS (with `pki`'s server certificate), asking clients for a certificate
    /// and accepting those `accepting` says, with a pinned clock, on the store [`backend_store`] selects. Its own
    /// endpoint presents no certificate; [`TestServer::presenting`] gives one that does.
    pub async fn start_mutual_tls(config: &Config, pki: &Pki, accepting: Accepting) -> Self {
        let store = backend_store(config).await;
        let clients = match accepting {
            Accepting::IssuedByTheCa => ClientCertificates::TrustedBy(vec![pki.ca_der.clone()]),
            Accepting::Any => ClientCertificates::AnyWellFormed,
        };
        let key = PrivateKeyDer::from_pem_slice(pki.server.key_pem.as_bytes()).expect("server key");
        let tls = server_config(vec![CertificateDer::from(pki.server.der.clone())], key, clients).expect("TLS");
        let listen = runner::ListenOn {
            addr: "127.0.0.1:0".parse().expect("addr"),
            tls: Some(tls),
            client_certificates: match accepting {
                Accepting::IssuedByTheCa => runner::ClientCertificateChecks::ChainVerified,
                Accepting::Any => runner::ClientCertificateChecks::AnyAccepted,
            },
        };
        let mut test_server = Self::start_listening(config, store, listen).await;
        test_server.endpoint =
            Endpoint { base: test_server.endpoint.base.replacen("http://", "https://", 1), http: pki.client(None) };
        test_server
    }

    /// This server's endpoint, with a client presenting `credential` in its handshakes.
    pub fn presenting(&self, pki: &Pki, credential: &Credential) -> Endpoint {
        Endpoint { base: self.endpoint.base.clone(), http: pki.client(Some(credential)) }
    }
}
