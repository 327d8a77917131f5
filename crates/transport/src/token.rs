//! Access tokens for a role's local control routes (the client's money routes, the worker's
//! admin routes), as Jupyter guards its notebooks: any web page open on the machine can reach
//! a loopback port, but it cannot read the token file, so it cannot act.
//!
//! A token lives in `<data_dir>/<file>` (mode 0600, created at first start and shown once);
//! without a data directory a new one is made at each start and logged.

use http::{header, HeaderMap};
use std::{path::Path, sync::Arc};

/// A secret a caller must present as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// Reads the token from `data_dir/file`, creating it (and saying so, once) when absent;
    /// `guards` names what it protects in the log.
    pub fn load_or_create(data_dir: Option<&Path>, file: &str, guards: &str) -> std::io::Result<Self> {
        let fresh = || hex::encode(rand::random::<[u8; 32]>());
        let Some(dir) = data_dir else {
            let t = fresh();
            tracing::warn!(token = %t, "no data_dir: {guards} take this token for this run only \
                (header `Authorization: Bearer <token>`)");
            return Ok(AccessToken(t.into()));
        };
        let path = dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => return Ok(AccessToken(t.trim().into())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(dir)?;
        let t = fresh();
        write_private(&path, &t)?;
        tracing::info!(file = %path.display(), token = %t,
            "created the token for {guards}: send `Authorization: Bearer <token>`; it stays in this file");
        Ok(AccessToken(t.into()))
    }

    /// Whether `headers` carry this token.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        same(given.trim().as_bytes(), self.0.as_bytes())
    }

    /// The token itself (for a test or a CLI that read it from the file).
    pub fn secret(&self) -> &str {
        &self.0
    }
}

/// Whether a request says its body is JSON. Browsers cannot send `application/json` across
/// origins without a CORS preflight, which control routes never answer.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("cocoon-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = AccessToken::load_or_create(Some(&dir), "t", "tests").unwrap();
        let b = AccessToken::load_or_create(Some(&dir), "t", "tests").unwrap();
        assert_eq!(a.secret(), b.secret());
        let mut h = HeaderMap::new();
        assert!(!a.admits(&h));
        h.insert(header::AUTHORIZATION, format!("Bearer {}", a.secret()).parse().unwrap());
        assert!(a.admits(&h));
        h.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert!(!a.admits(&h));
        assert!(!is_json(&h));
        h.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert!(is_json(&h));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("t")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the token");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
