//! The model file's SHA-256, so operators (and later attestation) can tell exactly which
//! weights a worker serves.

use crate::EngineError;
use sha2::{Digest, Sha256};
use std::{io::Read, path::Path, time::Instant};

/// Files above this size log their hashing progress.
const PROGRESS_ABOVE: u64 = 512 * 1024 * 1024;

/// Runs `load` while the file at `path` is hashed on a second thread; both results, the load's
/// first. Loading and hashing both read the whole file, so overlapping them halves start-up.
pub(crate) fn while_hashing<T>(
    path: &Path,
    load: impl FnOnce() -> Result<T, EngineError>,
) -> (Result<T, EngineError>, Result<String, EngineError>) {
    std::thread::scope(|s| {
        let hasher = s.spawn(|| sha256_file(path));
        let loaded = load();
        let sha = hasher.join().unwrap_or_else(|_| Err(EngineError::Load("hashing thread panicked".into())));
        (loaded, sha)
    })
}

/// Streams the file through SHA-256 (1 MiB reads) and returns the lowercase hex digest.
pub fn sha256_file(path: &Path) -> Result<String, EngineError> {
    let io = |source| EngineError::Io { path: path.display().to_string(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let total = file.metadata().map_err(io)?.len();
    let started = Instant::now();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done: u64 = 0;
    let mut next_report = 10u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        hasher.update(&buf[..n]);
        done += n as u64;
        if total > PROGRESS_ABOVE && done * 100 >= next_report * total {
            tracing::info!(percent = next_report, path = %path.display(), "hashing model file");
            next_report += 10;
        }
    }
    let hex = hex::encode(hasher.finalize());
    tracing::debug!(bytes = done, secs = started.elapsed().as_secs_f64(), "model file hashed");
    Ok(hex)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digest() {
        let dir = std::env::temp_dir().join(format!("cocoon-engine-hash-{}", std::process::id()));
        std::fs::write(&dir, b"abc").unwrap();
        let h = super::sha256_file(&dir).unwrap();
        let _ = std::fs::remove_file(&dir);
        assert_eq!(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(super::sha256_file(std::path::Path::new("/nonexistent/x.gguf")).is_err());
    }
}
