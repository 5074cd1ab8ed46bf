//! The local runner's TLS (`tessera serve --tls-cert … --tls-key …`), with optional client certificates, so
//! the mutual-TLS flow of RFC 8705 runs end to end on a laptop as it does behind API Gateway's mutual-TLS
//! custom domain.
//!
//! Client certificates are asked for but never required at the TLS layer: a client without one is served (and
//! has no certificate in its requests), as on an API Gateway domain whose truststore a client need not use for
//! a method that is not mutual TLS. A certificate the client does present is verified for possession by the
//! handshake itself (the client signs the handshake with the certificate's key). Whose certificate it is comes
//! next:
//! - `--tls-client-ca FILE`: the certificate must chain to one of FILE's CA certificates, as API Gateway checks
//!   its truststore (`tls_client_auth`, RFC 8705 §2.1);
//! - `--tls-client-any`: **any well-formed certificate is accepted, self-signed included, and nothing is
//!   decided about trust here**: only client authentication (`self_signed_tls_client_auth`, RFC 8705 §2.2,
//!   which compares the certificate with the client's registered JWKS) may decide. Never rely on the TLS layer
//!   for trust in this mode.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme};

use crate::error::CliError;

/// Which client certificates the runner accepts in a handshake. None is ever required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCertificates {
    /// Not asked for.
    NotRequested,
    /// Asked for; one presented must chain to these CA certificates (PEM).
    TrustedBy(Vec<CertificateDer<'static>>),
    /// Asked for; any well-formed X.509 certificate is accepted, self-signed included. Trust is left to client
    /// authentication entirely.
    AnyWellFormed,
}

/// `tessera serve`'s TLS flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsOptions {
    /// Serve HTTPS with this certificate chain (PEM, leaf first) instead of plain HTTP.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, SEC1 or PKCS#1).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Ask clients for a certificate (optional) and accept only one that chains to a CA in FILE (PEM), as API
    /// Gateway's truststore does: for tls_client_auth.
    #[arg(long, requires = "tls_cert", conflicts_with = "tls_client_any", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Ask clients for a certificate (optional) and accept ANY well-formed one, self-signed included: for
    /// self_signed_tls_client_auth. The TLS layer then decides nothing about trust; client authentication must.
    #[arg(long, requires = "tls_cert")]
    pub tls_client_any: bool,
}

impl TlsOptions {
    /// What the flags make the runner do with client certificates.
    pub fn client_certificate_checks(&self) -> crate::runner::ClientCertificateChecks {
        use crate::runner::ClientCertificateChecks;
        match (self.tls_cert.is_some(), &self.tls_client_ca, self.tls_client_any) {
            (false, _, _) => ClientCertificateChecks::NotRequested,
            (true, Some(_), _) => ClientCertificateChecks::ChainVerified,
            (true, None, true) => ClientCertificateChecks::AnyAccepted,
            (true, None, false) => ClientCertificateChecks::NotRequested,
        }
    }

    /// The server configuration the flags ask for, or `None` for plain HTTP.
    pub fn server_config(&self) -> Result<Option<Arc<ServerConfig>>, CliError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else { return Ok(None) };
        let clients = match (&self.tls_client_ca, self.tls_client_any) {
            (Some(ca), _) => ClientCertificates::TrustedBy(certificates(ca, &read(ca)?)?),
            (None, true) => ClientCertificates::AnyWellFormed,
            (None, false) => ClientCertificates::NotRequested,
        };
        let chain = certificates(cert, &read(cert)?)?;
        let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
            .map_err(|err| CliError::Tls(format!("{}: no private key: {err}", key.display())))?;
        server_config(chain, key_der, clients).map(Some)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|source| CliError::Read { path: path.to_owned(), source })
}

fn certificates(path: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CliError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| CliError::Tls(format!("{}: {err}", path.display())))?;
    if certs.is_empty() {
        return Err(CliError::Tls(format!("{}: no CERTIFICATE in it", path.display())));
    }
    Ok(certs)
}

/// A TLS 1.2/1.3 server configuration on aws-lc-rs (the workspace's one crypto backend), speaking HTTP/1.1
/// (ALPN `http/1.1`), with the server's `chain` and `key` and the client certificates `clients` allows.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    clients: ClientCertificates,
) -> Result<Arc<ServerConfig>, CliError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let asks_for_certificates = clients != ClientCertificates::NotRequested;
    let verifier: Arc<dyn ClientCertVerifier> = match clients {
        ClientCertificates::NotRequested => WebPkiClientVerifier::no_client_auth(),
        ClientCertificates::TrustedBy(cas) => {
            let mut roots = RootCertStore::empty();
            for ca in cas {
                roots.add(ca).map_err(|err| CliError::Tls(format!("a client CA certificate: {err}")))?;
            }
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|err| CliError::Tls(format!("client CA certificates: {err}")))?
        }
        ClientCertificates::AnyWellFormed => Arc::new(AnyWellFormedCertificate::new(&provider)),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| CliError::Tls(err.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|err| CliError::Tls(format!("the server certificate and key: {err}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if asks_for_certificates {
        // No session resumption where a client certificate may authenticate: a resumed session carries the
        // certificate of its first handshake, unchecked again, so an expired or replaced certificate would go on
        // authenticating for as long as the client renews its tickets (RFC 8446 §4.6.1). Every connection does a
        // full handshake, as on API Gateway's mutual-TLS domain.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// Accepts any client certificate that parses as X.509 and is within its validity period, without a chain or a key
/// usage check: for `self_signed_tls_client_auth`, whose trust decision belongs to client authentication. The
/// handshake signature is still verified, so the client proves it holds the certificate's key.
#[derive(Debug)]
struct AnyWellFormedCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyWellFormedCertificate {
    fn new(provider: &CryptoProvider) -> Self {
        Self { algorithms: provider.signature_verification_algorithms }
    }
}

impl ClientCertVerifier for AnyWellFormedCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match tessera::wire::client_cert::ClientCertificate::from_der(end_entity) {
            Ok(certificate) if certificate.is_valid_at(now.as_secs()) => Ok(ClientCertVerified::assertion()),
            Ok(_) => Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired)),
            Err(_) => Err(rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(dir: &Path, cert: &str, key: &str) -> TlsOptions {
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        TlsOptions { tls_cert: Some(cert_path), tls_key: Some(key_path), ..TlsOptions::default() }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn no_certificate_is_plain_http() {
        assert!(TlsOptions::default().server_config().unwrap().is_none());
    }

    #[test]
    fn unusable_files_are_named_in_the_error() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let dir = scratch("files");

        let good = options(&dir, &cert.pem(), &key.serialize_pem());
        assert!(good.server_config().unwrap().is_some());

        let missing = TlsOptions { tls_cert: Some(dir.join("nope.pem")), ..good.clone() };
        assert!(matches!(missing.server_config(), Err(CliError::Read { .. })));

        let no_cert = options(&dir, "not PEM", &key.serialize_pem()).server_config().unwrap_err().to_string();
        assert!(no_cert.contains("cert.pem") && no_cert.contains("no CERTIFICATE"), "{no_cert}");

        let no_key = options(&dir, &cert.pem(), &cert.pem()).server_config().unwrap_err().to_string();
        assert!(no_key.contains("key.pem") && no_key.contains("no private key"), "{no_key}");

        let other = rcgen::KeyPair::generate().unwrap();
        let mismatch = options(&dir, &cert.pem(), &other.serialize_pem()).server_config().unwrap_err().to_string();
        assert!(mismatch.contains("server certificate and key"), "{mismatch}");

        let bad_ca = TlsOptions { tls_client_ca: Some(dir.join("key.pem")), ..good };
        assert!(bad_ca.server_config().unwrap_err().to_string().contains("no CERTIFICATE"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// RFC 8446 §4.6.1: a resumed session carries the certificate of its first handshake, unchecked again. Where a
    /// client certificate may authenticate, no session is resumed (no TLS 1.3 ticket, no session cache), so each
    /// connection presents and proves its certificate anew; without client certificates, resumption stays on.
    #[test]
    fn no_session_is_resumed_where_client_certificates_authenticate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let dir = scratch("resumption");
        let plain = options(&dir, &cert.pem(), &key.serialize_pem());
        assert_eq!(plain.client_certificate_checks(), crate::runner::ClientCertificateChecks::NotRequested);
        let config = plain.server_config().unwrap().unwrap();
        assert!(config.send_tls13_tickets > 0 && config.session_storage.can_cache());
        std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
        for options in [
            TlsOptions { tls_client_any: true, ..plain.clone() },
            TlsOptions { tls_client_ca: Some(dir.join("ca.pem")), ..plain.clone() },
        ] {
            let config = options.server_config().unwrap().unwrap();
            assert_eq!(config.send_tls13_tickets, 0);
            assert!(!config.session_storage.can_cache());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
