//! The form parser against the `form_urlencoded` crate, on bodies from a deterministic generator: known and
//! unknown names, repeats, `+` and percent-escapes (valid, truncated, non-hex, non-UTF-8), raw non-UTF-8 bytes,
//! empty pairs and values, and bodies past the parameter limit. The oracle is the `form` fuzz body
//! (`tessera_e2e::fuzz::form`), which `scripts/fuzz` also runs under libFuzzer.

use tessera::wire::form::{Form, FormError, MAX_FORM_PARAMS, Param};

/// xorshift64*: deterministic, so a failure names its case number and replays.
struct Generator(u64);

impl Generator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"=",
    b"&",
    b"&&",
    b"+",
    b"a",
    b"x",
    b"=v",
    b"%41",
    b"%61",
    b"%3D",
    b"%26",
    b"%2B",
    b"%C3%A9",
    b"%c3%a9",
    b"%",
    b"%4",
    b"%zz",
    b"%C3",
    b"%C3%28",
    b"%FF",
    b"\xff",
    b"\xc3",
    "é".as_bytes(),
    b"%20",
    b"%74oken",
    b"scop%65",
    b" ",
];

fn body(generator: &mut Generator) -> Vec<u8> {
    let mut body = Vec::new();
    if generator.below(50) == 0 {
        // Around the parameter limit: distinct names Tessera does not read.
        let pairs: Vec<String> = (0..MAX_FORM_PARAMS - 1 + generator.below(3)).map(|i| format!("p{i}=v")).collect();
        return pairs.join("&").into_bytes();
    }
    for i in 0..generator.below(8) {
        if i > 0 {
            body.push(b'&');
        }
        // A name Tessera reads half of the time (often one of a few, so that names repeat), else pieces.
        match generator.below(4) {
            0 => body.extend_from_slice(Param::ALL[generator.below(3)].name().as_bytes()),
            1 => body.extend_from_slice(Param::ALL[generator.below(Param::ALL.len())].name().as_bytes()),
            _ => {}
        }
        for _ in 0..generator.below(4) {
            body.extend_from_slice(PIECES[generator.below(PIECES.len())]);
        }
        if generator.below(4) != 0 {
            body.push(b'=');
            for _ in 0..generator.below(5) {
                body.extend_from_slice(PIECES[generator.below(PIECES.len())]);
            }
        }
    }
    body
}

#[test]
fn the_form_parser_agrees_with_form_urlencoded() {
    let mut generator = Generator(0x7e55_e7a0_f0a0_2026);
    let (mut accepted, mut repeated, mut malformed, mut too_many) = (0, 0, 0, 0);
    for case in 0..200_000 {
        let body = body(&mut generator);
        let outcome = std::panic::catch_unwind(|| tessera_e2e::fuzz::form(&body));
        assert!(outcome.is_ok(), "case {case}: {:?}", String::from_utf8_lossy(&body));
        match Form::parse(&body) {
            Ok(_) => accepted += 1,
            Err(FormError::Repeated(_)) => repeated += 1,
            Err(FormError::Malformed) => malformed += 1,
            Err(FormError::TooManyParameters) => too_many += 1,
            Err(FormError::TooLarge) => {}
        }
    }
    // The generator reaches every outcome, so the oracle was exercised on each.
    for (outcome, count) in
        [("accepted", accepted), ("repeated", repeated), ("malformed", malformed), ("too many", too_many)]
    {
        assert!(count > 400, "{outcome}: only {count} of 200000");
    }
}
