//! Proof of work before TLS, as Cocoon does against handshake floods: a TLS handshake costs
//! the proxy an Ed25519 signature and an attestation check, so a dialer must first spend CPU
//! of its own. On a new TCP connection the proxy sends a [`Challenge`] (a random salt and a
//! difficulty); the dialer finds a nonce such that SHA-256(salt ‖ nonce) starts with
//! `difficulty` zero bits and sends it back; the proxy checks it with one hash and only then
//! starts TLS. A dialer refuses a difficulty above its own maximum (a proxy cannot make it
//! spin forever).
//!
//! Wire format (parsing in [`Challenge::decode`], I/O in [`challenge`] and [`answer`]):
//! proxy → dialer 41 bytes: `"COCNPOW1"` ‖ difficulty (1 byte) ‖ salt (32 bytes);
//! dialer → proxy 8 bytes: the nonce, little-endian.

use rand::RngCore;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Says "a cocoon proof-of-work challenge, version 1".
pub const MAGIC: [u8; 8] = *b"COCNPOW1";

/// Length of a challenge on the wire.
pub const CHALLENGE_LEN: usize = 41;

/// The proxy's default difficulty: 2^21 hashes on average for a dialer, about 50 ms of one
/// core with SHA extensions in a release build (`cocoon bench-pow`: median 50 ms, mean 64 ms,
/// 26 ns a hash here), one hash (26 ns) for the proxy. Cocoon asks about 20.
pub const DEFAULT_DIFFICULTY: u8 = 21;

/// The highest difficulty a dialer accepts by default (2^26 hashes: seconds, not hours).
pub const DEFAULT_MAX_DIFFICULTY: u8 = 26;

/// The highest difficulty that can be asked (a nonce is 64 bits).
pub const MAX_DIFFICULTY: u8 = 64;

/// Why a proof of work failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PowError {
    /// The peer did not speak this protocol (e.g. an old proxy, or not a proxy at all).
    #[error("the peer sent no proof-of-work challenge (got {0:?}...)")]
    NotAChallenge(Vec<u8>),
    /// The challenge asks more than this dialer will spend.
    #[error("the proxy asks a proof of work of {asked} bits; this node's maximum is {max} (max_pow_difficulty)")]
    TooHard { asked: u8, max: u8 },
    /// The challenge asks an impossible difficulty.
    #[error("proof-of-work difficulty {0} is above {MAX_DIFFICULTY}")]
    Impossible(u8),
    /// The dialer's nonce does not solve the challenge.
    #[error("wrong proof-of-work nonce")]
    Wrong,
    /// Reading or writing failed.
    #[error("proof of work: {0}")]
    Io(String),
    /// The other side took too long.
    #[error("proof of work: no answer within {0:?}")]
    Timeout(Duration),
}

/// A challenge: solve `salt` at `difficulty` leading zero bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// Leading zero bits the hash must have.
    pub difficulty: u8,
    /// Random per connection, so work cannot be reused.
    pub salt: [u8; 32],
}

/// Leading zero bits of a hash.
fn leading_zeros(hash: &[u8; 32]) -> u32 {
    let mut n = 0;
    for b in hash {
        if *b == 0 {
            n += 8;
        } else {
            return n + b.leading_zeros();
        }
    }
    n
}

impl Challenge {
    /// A fresh challenge at `difficulty`.
    pub fn new(difficulty: u8) -> Self {
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        Self { difficulty: difficulty.min(MAX_DIFFICULTY), salt }
    }

    /// Its wire form.
    pub fn encode(&self) -> [u8; CHALLENGE_LEN] {
        let mut out = [0u8; CHALLENGE_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8] = self.difficulty;
        out[9..].copy_from_slice(&self.salt);
        out
    }

    /// Parses a wire form; refuses another protocol and impossible difficulties.
    pub fn decode(b: &[u8; CHALLENGE_LEN]) -> Result<Self, PowError> {
        if b[..8] != MAGIC {
            return Err(PowError::NotAChallenge(b[..8].to_vec()));
        }
        if b[8] > MAX_DIFFICULTY {
            return Err(PowError::Impossible(b[8]));
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&b[9..]);
        Ok(Self { difficulty: b[8], salt })
    }

    /// Whether `nonce` solves it: one SHA-256.
    pub fn verify(&self, nonce: u64) -> bool {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(nonce.to_le_bytes());
        leading_zeros(&h.finalize().into()) >= u32::from(self.difficulty)
    }

    /// Finds a nonce (2^difficulty hashes on average). CPU-bound: call it off the async workers.
    pub fn solve(&self) -> u64 {
        // The salt's state is hashed once; each try only adds the nonce.
        let mut base = Sha256::new();
        base.update(self.salt);
        let want = u32::from(self.difficulty);
        let mut nonce = 0u64;
        loop {
            let mut h = base.clone();
            h.update(nonce.to_le_bytes());
            if leading_zeros(&h.finalize().into()) >= want {
                return nonce;
            }
            nonce = nonce.wrapping_add(1);
        }
    }
}

fn io(e: std::io::Error) -> PowError {
    PowError::Io(e.to_string())
}

/// The proxy's side: sends a challenge at `difficulty` and checks the answer, all within
/// `timeout`. On success the connection goes on to TLS.
pub async fn challenge(tcp: &mut TcpStream, difficulty: u8, timeout: Duration) -> Result<(), PowError> {
    let c = Challenge::new(difficulty);
    let work = async {
        tcp.write_all(&c.encode()).await.map_err(io)?;
        let mut nonce = [0u8; 8];
        tcp.read_exact(&mut nonce).await.map_err(io)?;
        match c.verify(u64::from_le_bytes(nonce)) {
            true => Ok(()),
            false => Err(PowError::Wrong),
        }
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| PowError::Timeout(timeout))?
}

/// The dialer's side: reads the challenge, refuses one above `max_difficulty`, solves it on a
/// blocking thread and sends the nonce, within `timeout`.
pub async fn answer(tcp: &mut TcpStream, max_difficulty: u8, timeout: Duration) -> Result<(), PowError> {
    let work = async {
        let mut b = [0u8; CHALLENGE_LEN];
        tcp.read_exact(&mut b).await.map_err(io)?;
        let c = Challenge::decode(&b)?;
        if c.difficulty > max_difficulty {
            return Err(PowError::TooHard { asked: c.difficulty, max: max_difficulty });
        }
        let nonce = tokio::task::spawn_blocking(move || c.solve()).await.map_err(|e| PowError::Io(e.to_string()))?;
        tcp.write_all(&nonce.to_le_bytes()).await.map_err(io)
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| PowError::Timeout(timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_solution_verifies_and_a_near_miss_does_not() {
        for d in [0u8, 1, 8, 12, 16] {
            let c = Challenge::new(d);
            let n = c.solve();
            assert!(c.verify(n), "difficulty {d}");
            // Another salt: the work does not carry over (fails with probability 2^-d).
            if d >= 12 {
                let other = Challenge::new(d);
                assert!(!other.verify(n) || other.solve() == n);
            }
        }
        let c = Challenge { difficulty: 16, salt: [7; 32] };
        let n = c.solve();
        // Below the solution nothing verifies (solve returns the first).
        assert!((0..n).all(|m| !c.verify(m)));
    }

    #[test]
    fn the_wire_form_round_trips_and_strangers_are_refused() {
        let c = Challenge::new(18);
        assert_eq!(Challenge::decode(&c.encode()), Ok(c));
        let mut b = c.encode();
        b[0] = b'X';
        assert!(matches!(Challenge::decode(&b), Err(PowError::NotAChallenge(_))));
        let mut b = c.encode();
        b[8] = 65;
        assert_eq!(Challenge::decode(&b), Err(PowError::Impossible(65)));
        assert_eq!(leading_zeros(&[0; 32]), 256);
        let mut h = [0u8; 32];
        h[1] = 0b0001_0000;
        assert_eq!(leading_zeros(&h), 11);
    }

    #[tokio::test]
    async fn over_a_socket_an_honest_dialer_passes_and_others_are_refused() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut out = Vec::new();
            for _ in 0..3 {
                let (mut s, _) = l.accept().await.unwrap();
                out.push(challenge(&mut s, 12, Duration::from_secs(2)).await);
            }
            out
        });
        let t = Duration::from_secs(5);
        // Honest.
        let mut a = TcpStream::connect(addr).await.unwrap();
        assert_eq!(answer(&mut a, 20, t).await, Ok(()));
        // A dialer that will not pay this much.
        let mut b = TcpStream::connect(addr).await.unwrap();
        assert_eq!(answer(&mut b, 8, t).await, Err(PowError::TooHard { asked: 12, max: 8 }));
        drop(b);
        // A flooder that sends a made-up nonce.
        let mut c = TcpStream::connect(addr).await.unwrap();
        let mut skip = [0u8; CHALLENGE_LEN];
        c.read_exact(&mut skip).await.unwrap();
        let made_up = (0..u64::MAX).find(|n| !Challenge::decode(&skip).unwrap().verify(*n)).unwrap();
        c.write_all(&made_up.to_le_bytes()).await.unwrap();
        let results = server.await.unwrap();
        assert_eq!(results[0], Ok(()));
        assert!(results[1].is_err(), "the dialer that gave up closed the connection");
        assert_eq!(results[2], Err(PowError::Wrong));
    }
}
