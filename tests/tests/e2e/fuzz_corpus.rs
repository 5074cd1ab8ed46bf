//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and every past finding (`fuzz/regressions/<target>/`)
//! through the fuzz bodies of `tessera_e2e::fuzz`, so a fixed finding stays fixed without a fuzzer. The JWT
//! seeds also prove that the signed mode reaches a verifying token (the fuzzer starts past the signature).

use std::path::{Path, PathBuf};

use tessera_e2e::fuzz;

/// A fuzz body.
type Body = fn(&[u8]);

const TARGETS: [(&str, Body); 9] = [
    ("form", fuzz::form),
    ("basic_auth", fuzz::basic_auth),
    ("opaque_token", fuzz::opaque_token),
    ("jwt", fuzz::jwt),
    ("revocation_event", fuzz::revocation_event),
    ("authorizer_event", fuzz::authorizer_event),
    ("security_event_token", fuzz::security_event_token),
    ("dpop_proof", fuzz::dpop_proof),
    ("client_certificate", fuzz::client_certificate),
];

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz").join(kind).join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.file_name().is_some_and(|name| name != ".keep"))
        .collect();
    files.sort();
    files
}

#[test]
fn seeds_and_past_findings_pass_every_fuzz_body() {
    for (target, body) in TARGETS {
        let seeds = inputs("seeds", target);
        assert!(!seeds.is_empty(), "{target} has no seeds");
        for path in seeds.iter().chain(&inputs("regressions", target)) {
            let data = std::fs::read(path).expect("a readable input");
            body(&data);
        }
    }
}

#[test]
fn the_authorizer_seeds_reach_an_allow() {
    // The body only asserts that no allow comes without the token; here, that the seeds do reach one.
    let seed =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/authorizer_event/http_api_allow"));
    let event: serde_json::Value = serde_json::from_slice(&seed.unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let service = fuzz::authorizer_fuzz_service();
    assert_eq!(runtime.block_on(tessera_authorizer::handle(service, event)).unwrap()["isAuthorized"], true);
}

#[test]
fn the_signed_jwt_mode_reaches_a_verified_token() {
    use tessera::domain::tenant::TenantId;
    // The same construction as the body, checked here to verify (the body only asserts it never panics).
    let data = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/jwt/signed_valid")).unwrap();
    assert_eq!(data[0], 1);
    let token = fuzz::signed_jwt(&data[1..]).expect("the seed signs");
    let verified =
        tessera::jwt::access_token::verify(&token, &TenantId::default(), fuzz::FUZZ_ISSUER, fuzz::jwt_ring());
    assert_eq!(verified.map(|v| v.grant.subject), Ok("svc".to_owned()));
}

#[test]
fn the_signed_set_seed_is_received() {
    // The body only asserts what a refusal or an acceptance must not do; here, that the seed is accepted.
    let data = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/security_event_token/signed_session_revoked"),
    )
    .unwrap();
    let set = fuzz::signed_jwt(&data[1..]).expect("the seed signs");
    let store = tessera::store::memory::MemoryStore::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let receipt = runtime
        .block_on(tessera::events::ssf::receive(
            fuzz::ssf_fuzz_transmitters(),
            &store,
            &tessera::announcement::recent::RecentAnnouncements::default(),
            &tessera::domain::tenant::TenantId::default(),
            Some(fuzz::FUZZ_SET_AUTHORIZATION),
            &set,
            tessera::domain::time::Timestamp::from_secs(fuzz::FUZZ_SET_NOW),
        ))
        .unwrap();
    assert_eq!((receipt.written, receipt.replayed), (1, false));
}

#[test]
fn the_signed_dpop_mode_reaches_a_verified_proof() {
    // The body only asserts what a verified proof must be; here, that the seed does verify.
    use tessera::domain::time::Timestamp;
    use tessera::jwt::dpop::{DPOP_SIGNING_ALGORITHMS, ProofContext, verify_proof};
    let data =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/dpop_proof/signed_valid")).unwrap();
    assert_eq!(data[0], 1);
    let proof = fuzz::signed_dpop_proof(&data[1..]).expect("the seed signs");
    let context = ProofContext {
        method: "POST",
        url: fuzz::FUZZ_DPOP_URL,
        now: Timestamp::from_secs(fuzz::FUZZ_DPOP_NOW),
        access_token: None,
        algorithms: &DPOP_SIGNING_ALGORITHMS,
    };
    assert_eq!(
        verify_proof(&proof, &context).map(|p| p.jkt.as_str().to_owned()),
        Ok(fuzz::fuzz_key_thumbprint().to_owned())
    );
}
