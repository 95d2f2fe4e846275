//! [`OsRandom`]: the operating system's entropy as the source of mask keys
//! and `Sec-WebSocket-Key` nonces (feature `getrandom`). The machines still
//! take their randomness from the caller; this is one such source.

use crate::upgrade::sha1::sha1;
use crate::ws::MaskSource;

/// Bytes fetched from the operating system at a time: 64 mask keys per
/// call into the kernel.
const POOL: usize = 256;

/// Randomness from the operating system (`getrandom`), fetched 256 bytes
/// at a time: a [`MaskSource`] for client connections (RFC 6455 §5.3 asks
/// for unpredictable keys from a strong source), and nonces for
/// [`ClientRequest::websocket_key`](crate::upgrade::ClientRequest::websocket_key).
///
/// ```
/// use protoswitch::OsRandom;
/// use protoswitch::upgrade::ClientRequest;
/// use protoswitch::ws::{Config, Connection};
/// use protoswitch::Instant;
///
/// let mut random = OsRandom::new().expect("the OS has an entropy source");
/// let request = ClientRequest::new("GET", "/", "example.com", &["websocket"])
///     .websocket_key(random.nonce());
/// let conn = Connection::client(Config::default(), Instant::ZERO, random);
/// # let _ = (request, conn);
/// ```
///
/// If the operating system's source fails after it has worked once (it
/// does not on the systems `getrandom` supports, once seeded), the next
/// bytes come from SHA-1 over the previous pool and a counter rather than
/// from a panic: still unpredictable to anyone who never saw the pool.
#[derive(Clone)]
pub struct OsRandom {
    pool: [u8; POOL],
    used: usize,
    /// 32 bytes from the operating system never handed out: the key of
    /// the fallback, renewed at every refill.
    seed: [u8; 32],
    /// Refills that fell back to hashing.
    counter: u64,
}

impl core::fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The pool is secret.
        f.debug_struct("OsRandom").finish_non_exhaustive()
    }
}

impl OsRandom {
    /// A source with its first 256 bytes from the operating system.
    pub fn new() -> Result<Self, getrandom::Error> {
        let mut r = OsRandom {
            pool: [0; POOL],
            used: 0,
            seed: [0; 32],
            counter: 0,
        };
        getrandom::fill(&mut r.pool)?;
        getrandom::fill(&mut r.seed)?;
        Ok(r)
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut at = 0;
        while at < out.len() {
            if self.used == POOL {
                self.refill();
            }
            let n = (out.len() - at).min(POOL - self.used);
            out[at..at + n].copy_from_slice(&self.pool[self.used..self.used + n]);
            // Bytes handed out are not kept.
            self.pool[self.used..self.used + n].fill(0);
            self.used += n;
            at += n;
        }
    }

    /// 16 random bytes: the nonce of a `Sec-WebSocket-Key` (RFC 6455
    /// §4.1).
    pub fn nonce(&mut self) -> [u8; 16] {
        let mut n = [0u8; 16];
        self.fill(&mut n);
        n
    }

    fn refill(&mut self) {
        let mut next = [0u8; POOL + 32];
        if getrandom::fill(&mut next).is_ok() {
            self.pool.copy_from_slice(&next[..POOL]);
            self.seed.copy_from_slice(&next[POOL..]);
        } else {
            self.counter += 1;
            fallback_pool(&self.seed, self.counter, &mut self.pool);
        }
        next.fill(0);
        self.used = 0;
    }
}

/// The pool when the operating system fails: SHA-1 of the secret seed, a
/// counter and the block's index, 20 bytes at a time.
fn fallback_pool(seed: &[u8; 32], counter: u64, pool: &mut [u8; POOL]) {
    for (i, block) in pool.chunks_mut(20).enumerate() {
        let d = sha1(&[seed, &counter.to_le_bytes(), &(i as u64).to_le_bytes()]);
        block.copy_from_slice(&d[..block.len()]);
    }
}

impl MaskSource for OsRandom {
    fn mask_key(&mut self) -> [u8; 4] {
        let mut k = [0u8; 4];
        self.fill(&mut k);
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_nonces_come_from_the_pool_and_it_refills() {
        let mut r = OsRandom::new().unwrap();
        let mut seen = std::collections::HashSet::new();
        // 1,000 keys cross several refills; 32-bit keys from a good source
        // repeat among 1,000 with probability about 1e-4.
        for _ in 0..1000 {
            seen.insert(r.mask_key());
        }
        assert!(seen.len() >= 999, "{} distinct keys of 1000", seen.len());
        assert_ne!(r.nonce(), r.nonce());
        let mut big = [0u8; 1000];
        r.fill(&mut big);
        assert!(
            big.iter().filter(|&&b| b == 0).count() < 20,
            "zeros: handed-out bytes are not reused"
        );
    }

    #[test]
    fn the_fallback_depends_on_seed_and_counter_and_repeats_no_block() {
        let pool = |seed: [u8; 32], counter| {
            let mut p = [0u8; POOL];
            fallback_pool(&seed, counter, &mut p);
            p
        };
        let a = pool([1; 32], 1);
        assert_ne!(a, pool([1; 32], 2));
        assert_ne!(a, pool([2; 32], 1));
        assert_eq!(a, pool([1; 32], 1));
        let blocks: std::collections::HashSet<&[u8]> = a.chunks(20).collect();
        assert_eq!(blocks.len(), POOL.div_ceil(20));
    }
}
