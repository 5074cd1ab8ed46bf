//! The randomness port. Token secrets, `jti`s and salts come from an [`Entropy`] handed in, so tests can
//! make them deterministic with [`SeededEntropy`]; production uses the operating system's CSPRNG.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::digest;

/// The CSPRNG failed; nothing random can be produced.
#[derive(Debug, thiserror::Error)]
#[error("the random number generator failed")]
pub struct EntropyError;

/// A source of cryptographically secure random bytes.
pub trait Entropy: Send + Sync {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError>;
}

/// The operating system's CSPRNG, through aws-lc.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        aws_lc_rs::rand::fill(dest).map_err(|_| EntropyError)
    }
}

/// A deterministic stream (SHA-256 of seed and counter) for tests. Never use it to issue real tokens.
#[derive(Debug)]
pub struct SeededEntropy {
    seed: u64,
    counter: AtomicU64,
}

impl SeededEntropy {
    /// A stream determined entirely by `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, counter: AtomicU64::new(0) }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
        for chunk in dest.chunks_mut(32) {
            let n = self.counter.fetch_add(1, Ordering::SeqCst);
            let mut input = [0u8; 16];
            input[..8].copy_from_slice(&self.seed.to_be_bytes());
            input[8..].copy_from_slice(&n.to_be_bytes());
            let block = digest::digest(&digest::SHA256, &input);
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
        }
        Ok(())
    }
}

/// `N` random bytes from `entropy`.
pub fn random_bytes<const N: usize>(entropy: &dyn Entropy) -> Result<[u8; N], EntropyError> {
    let mut bytes = [0u8; N];
    entropy.fill(&mut bytes)?;
    Ok(bytes)
}
