//! The client certificate presented in a mutual-TLS handshake (RFC 8705), as the token service sees it: parsed
//! once from DER or PEM into what RFC 8705 compares (the subject DN, the subjectAltNames) and binds (the
//! `x5t#S256` thumbprint).
//!
//! Where it comes from is fixed: API Gateway puts the certificate of a mutual-TLS custom domain in the event at
//! `requestContext.authentication.clientCert.clientCertPem`, and the local runner, serving TLS, puts the
//! certificate of its own handshake in the same place ([`presented_certificate`] reads it). Never from a
//! request header: any client can send a header named like a certificate, while the request context is set by
//! whoever terminated TLS.
//!
//! Parsing proves nothing about trust: the handshake proved possession of the certificate's key, and deciding
//! whether the certificate belongs to a client is client authentication's job (RFC 8705 §2).

use std::fmt;
use std::net::IpAddr;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use x509_cert::Certificate;

use crate::domain::client::CertificateSubject;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName as SubjectAltNameExtension;
use x509_cert::ext::pkix::name::GeneralName;

/// The largest certificate accepted, in DER bytes. API Gateway accepts client certificates with keys up to
/// RSA-4096 and chains up to a depth of four; one certificate of a client is far below this.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// The subjectAltName extension (RFC 5280 §4.2.1.6).
const SUBJECT_ALT_NAME: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.29.17");

/// Why a presented certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// No `CERTIFICATE` block in the PEM text, or the PEM framing is broken.
    #[error("the client certificate is not PEM with a CERTIFICATE block")]
    NotPem,
    /// More than [`MAX_CERTIFICATE_BYTES`].
    #[error("the client certificate is larger than {MAX_CERTIFICATE_BYTES} bytes")]
    TooLarge,
    /// Not a DER-encoded X.509 certificate (RFC 5280 §4.1), or its subjectAltName extension is malformed.
    #[error("the client certificate is not a well-formed X.509 certificate")]
    Malformed,
}

/// One subjectAltName entry of the kinds RFC 8705 §2.1.2 matches (`tls_client_auth_san_dns`, `_san_uri`,
/// `_san_ip`, `_san_email`). Other kinds (directory names, other names) are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectAltName {
    /// `dNSName`.
    Dns(String),
    /// `uniformResourceIdentifier`.
    Uri(String),
    /// `iPAddress`, IPv4 or IPv6.
    Ip(IpAddr),
    /// `rfc822Name`.
    Email(String),
}

pub use crate::domain::grant::CertificateThumbprint;

/// A client certificate, parsed once: its DER, subject DN, subjectAltNames, public key and thumbprint.
/// Equality is the DER's.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    der: Vec<u8>,
    valid_from_secs: u64,
    valid_until_secs: u64,
    subject_dn: String,
    subject_alt_names: Vec<SubjectAltName>,
    public_key_der: Vec<u8>,
    thumbprint: CertificateThumbprint,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("subject_dn", &self.subject_dn)
            .field("x5t#S256", &self.thumbprint.as_str())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Parses a DER-encoded X.509 certificate (RFC 5280 §4.1). The whole input must be the certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        if der.len() > MAX_CERTIFICATE_BYTES {
            return Err(CertificateError::TooLarge);
        }
        let certificate = Certificate::from_der(der).map_err(|_| CertificateError::Malformed)?;
        let tbs = &certificate.tbs_certificate;
        let mut subject_alt_names = Vec::new();
        for extension in tbs.extensions.iter().flatten().filter(|e| e.extn_id == SUBJECT_ALT_NAME) {
            let names = SubjectAltNameExtension::from_der(extension.extn_value.as_bytes())
                .map_err(|_| CertificateError::Malformed)?;
            subject_alt_names.extend(names.0.iter().filter_map(san_of_interest));
        }
        let public_key_der = tbs.subject_public_key_info.to_der().map_err(|_| CertificateError::Malformed)?;
        Ok(Self {
            der: der.to_vec(),
            valid_from_secs: tbs.validity.not_before.to_unix_duration().as_secs(),
            valid_until_secs: tbs.validity.not_after.to_unix_duration().as_secs(),
            subject_dn: tbs.subject.to_string(),
            subject_alt_names,
            public_key_der,
            thumbprint: CertificateThumbprint::of_der(der),
        })
    }

    /// Parses the first `CERTIFICATE` block of PEM text (RFC 7468 §5), as API Gateway's `clientCertPem`
    /// carries the client's certificate. Text around the block is ignored, as PEM allows.
    pub fn from_pem(pem_text: &str) -> Result<Self, CertificateError> {
        if pem_text.len() > 2 * MAX_CERTIFICATE_BYTES {
            return Err(CertificateError::TooLarge);
        }
        let blocks = pem::parse_many(pem_text).map_err(|_| CertificateError::NotPem)?;
        let block = blocks.into_iter().find(|b| b.tag() == "CERTIFICATE").ok_or(CertificateError::NotPem)?;
        Self::from_der(block.contents())
    }

    /// The certificate's DER, as presented (what `self_signed_tls_client_auth` compares with a JWK's `x5c`).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject DN in the string form of RFC 4514 §2, as `tls_client_auth_subject_dn` is registered (RFC 8705
    /// §2.1.2): most significant RDN last, `,` between RDNs, `+` within one, special characters escaped, e.g.
    /// `CN=L. Eagle,O=Sue\, Grabbit and Runn,C=GB`.
    pub fn subject_dn(&self) -> &str {
        &self.subject_dn
    }

    /// The subjectAltName entries RFC 8705 §2.1.2 can match, in certificate order.
    pub fn subject_alt_names(&self) -> &[SubjectAltName] {
        &self.subject_alt_names
    }

    /// The DER of the certificate's SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// Whether `unix_secs` is within the certificate's validity period (RFC 5280 §4.1.2.5: `notBefore` and
    /// `notAfter` both included).
    pub fn is_valid_at(&self, unix_secs: u64) -> bool {
        (self.valid_from_secs..=self.valid_until_secs).contains(&unix_secs)
    }

    /// The `x5t#S256` thumbprint (RFC 8705 §3.1) a certificate-bound token's `cnf` carries.
    pub fn thumbprint(&self) -> &CertificateThumbprint {
        &self.thumbprint
    }
}

impl ClientCertificate {
    /// Whether this certificate names the client as `subject` registers it (RFC 8705 §2.1.2): its subject DN, or
    /// one of its subjectAltName entries of the registered kind. Trust in the certificate's issuer is the TLS
    /// terminator's to decide, before this.
    pub fn names(&self, subject: &CertificateSubject) -> bool {
        let sans = self.subject_alt_names.iter();
        match subject {
            CertificateSubject::SubjectDn(dn) => self.subject_dn.eq_ignore_ascii_case(dn),
            CertificateSubject::SanDns(dns) => {
                sans.into_iter().any(|san| matches!(san, SubjectAltName::Dns(d) if d.eq_ignore_ascii_case(dns)))
            }
            CertificateSubject::SanUri(uri) => {
                sans.into_iter().any(|san| matches!(san, SubjectAltName::Uri(u) if u == uri))
            }
            CertificateSubject::SanIp(ip) => {
                sans.into_iter().any(|san| matches!(san, SubjectAltName::Ip(i) if i == ip))
            }
            CertificateSubject::SanEmail(email) => {
                sans.into_iter().any(|san| matches!(san, SubjectAltName::Email(e) if e == email))
            }
        }
    }
}

/// A subject DN in the RFC 4514 string form, as a certificate's subject renders ([`ClientCertificate::subject_dn`]):
/// parsed and rendered back, so spacing and attribute-name spelling (`commonName=` or `CN=`) do not decide a
/// match. `None` when it is not an RFC 4514 DN or is empty.
pub fn canonical_subject_dn(dn: &str) -> Option<String> {
    use std::str::FromStr;
    let parsed = x509_cert::name::RdnSequence::from_str(&without_separator_spaces(dn)).ok()?;
    (!parsed.is_empty()).then(|| parsed.to_string())
}

/// `dn` without the spaces around its unescaped `,` and `+` separators (`CN=a, O=b` as `CN=a,O=b`), which RFC 4514
/// §3 leaves out but people write; an escaped space (`\ `) stays.
fn without_separator_spaces(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let (mut escaped, mut after_separator) = (false, true);
    for c in dn.trim().chars() {
        match c {
            ' ' if after_separator => continue,
            ',' | '+' if !escaped => {
                while out.ends_with(' ') && !out.ends_with("\\ ") {
                    out.pop();
                }
                out.push(c);
                after_separator = true;
                continue;
            }
            _ => {}
        }
        escaped = c == '\\' && !escaped;
        after_separator = false;
        out.push(c);
    }
    out
}

fn san_of_interest(name: &GeneralName) -> Option<SubjectAltName> {
    match name {
        GeneralName::DnsName(dns) => Some(SubjectAltName::Dns(dns.to_string())),
        GeneralName::UniformResourceIdentifier(uri) => Some(SubjectAltName::Uri(uri.to_string())),
        GeneralName::Rfc822Name(email) => Some(SubjectAltName::Email(email.to_string())),
        GeneralName::IpAddress(octets) => match octets.as_bytes() {
            &[a, b, c, d] => Some(SubjectAltName::Ip(IpAddr::from([a, b, c, d]))),
            bytes => <[u8; 16]>::try_from(bytes).ok().map(|v6| SubjectAltName::Ip(IpAddr::from(v6))),
        },
        _ => None,
    }
}

/// The client certificate of the TLS connection a request came on: `Ok(None)` when there was none (no mutual
/// TLS, or a client that presented no certificate). Read from the request context only
/// (`requestContext.authentication.clientCert.clientCertPem`), which API Gateway sets on a mutual-TLS custom
/// domain and the local runner sets from its own handshake; never from a header.
pub fn presented_certificate(request: &Request) -> Result<Option<ClientCertificate>, CertificateError> {
    presented_certificate_pem(request).map(ClientCertificate::from_pem).transpose()
}

/// The PEM text of the client certificate in the request context
/// (`requestContext.authentication.clientCert.clientCertPem`), unparsed: what an authorizer event built from the
/// request carries on.
pub fn presented_certificate_pem(request: &Request) -> Option<&str> {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authentication
            .as_ref()
            .and_then(|authentication| authentication.client_cert.as_ref())
            .and_then(|cert| cert.client_cert_pem.as_deref()),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The request context the local runner gives a request that came with a client certificate: API Gateway's
/// shape (`requestContext.authentication.clientCert.clientCertPem`), so handlers read one thing wherever TLS
/// ended. Insert it with `request.extensions_mut().insert(...)`.
pub fn request_context_with_certificate(der: &[u8]) -> RequestContext {
    use lambda_http::aws_lambda_events::apigw::{
        ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextAuthentication,
        ApiGatewayV2httpRequestContextAuthenticationClientCert,
    };
    let mut cert = ApiGatewayV2httpRequestContextAuthenticationClientCert::default();
    cert.client_cert_pem = Some(pem::encode(&pem::Pem::new("CERTIFICATE", der)));
    let mut authentication = ApiGatewayV2httpRequestContextAuthentication::default();
    authentication.client_cert = Some(cert);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.authentication = Some(authentication);
    RequestContext::ApiGatewayV2(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed P-256 certificate made with OpenSSL: subject `C=GB, O=Sue, Grabbit and Runn, CN=L. Eagle`
    /// (RFC 4514 §4's example) and one subjectAltName of each kind RFC 8705 §2.1.2 names.
    const EAGLE_PEM: &str = "-----BEGIN CERTIFICATE-----
MIICQzCCAeigAwIBAgIUL7zzNJ5WdSDCXnmb1MI4wdGQEEkwCgYIKoZIzj0EAwIw
QDELMAkGA1UEBhMCR0IxHjAcBgNVBAoMFVN1ZSwgR3JhYmJpdCBhbmQgUnVubjER
MA8GA1UEAwwITC4gRWFnbGUwIBcNMjYxMjA3MDcwODE4WhgPMjEyNjExMTMwNzA4
MThaMEAxCzAJBgNVBAYTAkdCMR4wHAYDVQQKDBVTdWUsIEdyYWJiaXQgYW5kIFJ1
bm4xETAPBgNVBAMMCEwuIEVhZ2xlMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
pWWhcmNR0G1I/EZZUskJqiW8myPN1rXG7J3FH8Hsr/5ZDMjPQowyhjhl4B6nsqPn
BMHkKz4XlGLlmlATxhbTqqOBvTCBujAdBgNVHQ4EFgQUpvioi7Y7qwvqSauSdyxK
jpcLDNQwHwYDVR0jBBgwFoAUpvioi7Y7qwvqSauSdyxKjpcLDNQwDwYDVR0TAQH/
BAUwAwEB/zBnBgNVHREEYDBeghJjbGllbnQuZXhhbXBsZS5jb22GG2h0dHBzOi8v
Y2xpZW50LmV4YW1wbGUuY29tL4cEwAACAYcQIAENuAAAAAAAAAAAAAAAAYETbC5l
YWdsZUBleGFtcGxlLmNvbTAKBggqhkjOPQQDAgNJADBGAiEAw8Il0at1mKa+Yyxo
/aJAUsX8rOL2Z8wp15yeZnTIw24CIQD7HkWlc4l+fh/wz/L6P3U5KJIBNB55PScw
r+ot1Aqw4Q==
-----END CERTIFICATE-----
";

    /// RFC 4514 §2.1: RDNs are output last to first, separated by `,`; §2.4: a `,` in a value is escaped. The
    /// expected string is RFC 4514 §4's example, and what `openssl x509 -subject -nameopt RFC2253` prints.
    #[test]
    fn subject_dn_is_the_rfc_4514_string() {
        let cert = ClientCertificate::from_pem(EAGLE_PEM).unwrap();
        assert_eq!(cert.subject_dn(), r"CN=L. Eagle,O=Sue\, Grabbit and Runn,C=GB");
    }

    /// RFC 8705 §3.1: `x5t#S256` is the base64url-encoded SHA-256 of the DER certificate. Pinned to the value
    /// `openssl x509 -outform der | openssl dgst -sha256 -binary | basenc --base64url` gives, without padding.
    #[test]
    fn thumbprint_is_base64url_sha256_of_the_der() {
        let cert = ClientCertificate::from_pem(EAGLE_PEM).unwrap();
        assert_eq!(cert.thumbprint().as_str(), "QIajDY5fewllJU98H98t_vr86cYEGotMOPHW79WG5Mc");
        assert_eq!(cert.thumbprint().as_str().len(), 43);
        assert_eq!(CertificateThumbprint::of_der(cert.der()), *cert.thumbprint());
    }

    /// RFC 8705 §2.1.2: the SAN kinds a client can register (`tls_client_auth_san_dns`, `_uri`, `_ip`, `_email`).
    #[test]
    fn subject_alt_names_of_each_kind() {
        let cert = ClientCertificate::from_pem(EAGLE_PEM).unwrap();
        assert_eq!(
            cert.subject_alt_names(),
            &[
                SubjectAltName::Dns("client.example.com".into()),
                SubjectAltName::Uri("https://client.example.com/".into()),
                SubjectAltName::Ip("192.0.2.1".parse().unwrap()),
                SubjectAltName::Ip("2001:db8::1".parse().unwrap()),
                SubjectAltName::Email("l.eagle@example.com".into()),
            ]
        );
    }

    /// RFC 8705 §2.1.2: a `tls_client_auth` client is matched by its registered subject DN (the RFC 4514 form, as
    /// registered in any spacing and spelling, compared ignoring case) or by one SAN entry of the registered kind;
    /// never by another kind's value, nor by a part of a name.
    #[test]
    fn a_certificate_names_the_client_registered_by_its_dn_or_one_san() {
        let cert = ClientCertificate::from_pem(EAGLE_PEM).unwrap();
        let dn = |text: &str| CertificateSubject::SubjectDn(canonical_subject_dn(text).expect(text));
        for registered in [
            dn(r"CN=L. Eagle,O=Sue\, Grabbit and Runn,C=GB"),
            dn(r"CN=L. Eagle, O=Sue\, Grabbit and Runn, C=GB"),
            dn(r"cn=l. eagle,o=sue\, grabbit and runn,c=gb"),
            dn(r"commonName=L. Eagle,organizationName=Sue\, Grabbit and Runn,countryName=GB"),
            CertificateSubject::SanDns("CLIENT.example.com".into()),
            CertificateSubject::SanUri("https://client.example.com/".into()),
            CertificateSubject::SanIp("192.0.2.1".parse().unwrap()),
            CertificateSubject::SanIp("2001:db8:0::1".parse().unwrap()),
            CertificateSubject::SanEmail("l.eagle@example.com".into()),
        ] {
            assert!(cert.names(&registered), "{registered:?}");
        }
        for other in [
            dn("CN=L. Eagle"),
            dn(r"C=GB,O=Sue\, Grabbit and Runn,CN=L. Eagle"),
            CertificateSubject::SanDns("example.com".into()),
            CertificateSubject::SanDns("https://client.example.com/".into()),
            CertificateSubject::SanUri("https://client.example.com".into()),
            CertificateSubject::SanIp("192.0.2.2".parse().unwrap()),
            CertificateSubject::SanEmail("L.Eagle@example.com".into()),
            CertificateSubject::SanEmail("client.example.com".into()),
        ] {
            assert!(!cert.names(&other), "{other:?}");
        }
        for not_a_dn in ["", "L. Eagle", "CN", "=x", "XX=1"] {
            assert_eq!(canonical_subject_dn(not_a_dn), None, "{not_a_dn}");
        }
    }

    #[test]
    fn der_and_pem_agree() {
        let from_pem = ClientCertificate::from_pem(EAGLE_PEM).unwrap();
        let from_der = ClientCertificate::from_der(from_pem.der()).unwrap();
        assert_eq!(from_pem, from_der);
        assert!(!from_der.public_key_der().is_empty());
    }

    #[test]
    fn escapes_a_plus_in_a_value_and_reads_a_certificate_without_sans() {
        let mut params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "US");
        dn.push(rcgen::DnType::CommonName, "client+1");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let parsed = ClientCertificate::from_der(cert.der()).unwrap();
        assert_eq!(parsed.subject_dn(), r"CN=client\+1,C=US");
        assert!(parsed.subject_alt_names().is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        assert_eq!(ClientCertificate::from_pem("hello").unwrap_err(), CertificateError::NotPem);
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(ClientCertificate::from_pem(key).unwrap_err(), CertificateError::NotPem);
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(ClientCertificate::from_pem(garbage).unwrap_err(), CertificateError::Malformed);
        let der = ClientCertificate::from_pem(EAGLE_PEM).unwrap().der().to_vec();
        assert_eq!(ClientCertificate::from_der(&der[..der.len() - 1]).unwrap_err(), CertificateError::Malformed);
        let mut trailing = der.clone();
        trailing.push(0);
        assert_eq!(ClientCertificate::from_der(&trailing).unwrap_err(), CertificateError::Malformed);
        assert_eq!(
            ClientCertificate::from_der(&vec![0x30; MAX_CERTIFICATE_BYTES + 1]).unwrap_err(),
            CertificateError::TooLarge
        );
    }

    /// RFC 8705 §2: the certificate is the one of the mutual-TLS connection, which API Gateway reports in the
    /// request context. A header named like a certificate is any client's to send: it is never read.
    #[test]
    fn read_from_the_request_context_never_from_a_header() {
        let forged = EAGLE_PEM.replace('\n', "");
        let mut request = lambda_http::http::Request::builder()
            .header("x-client-cert", &forged)
            .header("x-amzn-mtls-clientcert", &forged)
            .header("x-ssl-client-cert", &forged)
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(presented_certificate(&request).unwrap(), None);
        let der = ClientCertificate::from_pem(EAGLE_PEM).unwrap().der().to_vec();
        request.extensions_mut().insert(request_context_with_certificate(&der));
        let presented = presented_certificate(&request).unwrap().unwrap();
        assert_eq!(presented.thumbprint().as_str(), "QIajDY5fewllJU98H98t_vr86cYEGotMOPHW79WG5Mc");
    }

    /// An API Gateway HTTP API (payload 2.0) event from a mutual-TLS custom domain, in the shape AWS documents
    /// (`requestContext.authentication.clientCert`): `lambda_http` keeps the context, and the certificate is read
    /// from it; the same event without `authentication` has none, whatever its headers say.
    #[test]
    fn read_from_an_api_gateway_event() {
        let mut event = serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /oauth2/token",
            "rawPath": "/oauth2/token",
            "rawQueryString": "",
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
                "host": "mtls.auth.example.com",
                "x-amzn-mtls-clientcert": "-----BEGIN CERTIFICATE-----forged-----END CERTIFICATE-----"
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123def4",
                "authentication": {
                    "clientCert": {
                        "clientCertPem": EAGLE_PEM,
                        "subjectDN": "CN=L. Eagle,O=Sue\\, Grabbit and Runn,C=GB",
                        "issuerDN": "CN=L. Eagle,O=Sue\\, Grabbit and Runn,C=GB",
                        "serialNumber": "2f:bc:f3:34:9e:56:75:20:c2:5e:79:9b:d4:c2:38:c1:d1:90:10:49",
                        "validity": { "notBefore": "Dec  7 07:08:18 2026 GMT", "notAfter": "Nov 13 07:08:18 2126 GMT" }
                    }
                },
                "domainName": "mtls.auth.example.com",
                "domainPrefix": "mtls",
                "http": {
                    "method": "POST",
                    "path": "/oauth2/token",
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.10",
                    "userAgent": "curl/8.5.0"
                },
                "requestId": "Rk8Qdg1sliAEPXw=",
                "routeKey": "POST /oauth2/token",
                "stage": "$default",
                "time": "07/Dec/2026:07:30:00 +0000",
                "timeEpoch": 1796628600000_u64
            },
            "body": "grant_type=client_credentials",
            "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let presented = presented_certificate(&request).unwrap().expect("the event's certificate");
        assert_eq!(presented.subject_dn(), r"CN=L. Eagle,O=Sue\, Grabbit and Runn,C=GB");
        assert_eq!(presented.thumbprint().as_str(), "QIajDY5fewllJU98H98t_vr86cYEGotMOPHW79WG5Mc");

        event["requestContext"].as_object_mut().unwrap().remove("authentication");
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(presented_certificate(&request).unwrap(), None);
    }
}
