//! Access tokens for a role's local control routes (the client's money routes, the worker's
//! admin routes), as Jupyter guards its notebooks: any web page open on the machine can reach
//! a loopback port, but it cannot read the token file, so it cannot act.
//!
//! A token lives in `<data_dir>/<file>` (mode 0600, created at first start and shown once);
//! without a data directory a new one is made at each start and logged.

use http::{header, HeaderMap};
use std::{path::Path, sync::Arc};

/// A secret a caller must present as `Authorization: Bearer <token>`, and where it lives (for
/// the refusal's message).
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<str>,
    /// What the token guards and where to find it, e.g. "the controls (/admin/*): the token
    /// is in the worker's data_dir/admin-token".
    hint: Arc<str>,
}

impl AccessToken {
    /// Reads the token from `data_dir/file`, creating it (and saying so, once) when absent;
    /// `guards` names what it protects in the log.
    pub fn load_or_create(data_dir: Option<&Path>, file: &str, guards: &str) -> std::io::Result<Self> {
        let fresh = || hex::encode(rand::random::<[u8; 32]>());
        let token = |secret: &str, hint: String| AccessToken { secret: secret.into(), hint: hint.into() };
        let Some(dir) = data_dir else {
            let t = fresh();
            tracing::warn!(token = %t, "no data_dir: {guards} take this token for this run only \
                (header `Authorization: Bearer <token>`)");
            return Ok(token(&t, format!("{guards}: the token is in this run's start-up log")));
        };
        let path = dir.join(file);
        let hint = format!("{guards}: the token is in {}", path.display());
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => return Ok(token(t.trim(), hint)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(dir)?;
        let t = fresh();
        write_private(&path, &t)?;
        tracing::info!(file = %path.display(), token = %t,
            "created the token for {guards}: send `Authorization: Bearer <token>`; it stays in this file");
        Ok(token(&t, hint))
    }

    /// Admits a request to the routes this token guards, or says why not: 401 without the
    /// token, 415 when `needs_json` and the body is not declared JSON.
    pub fn check(&self, headers: &HeaderMap, needs_json: bool) -> Result<(), cocoon_openai::ApiError> {
        use http::StatusCode;
        if !self.admits(headers) {
            return Err(cocoon_openai::ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "missing_token",
                format!("these routes need `Authorization: Bearer <token>`; {}", self.hint),
            ));
        }
        if needs_json && !is_json(headers) {
            return Err(cocoon_openai::ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                "json_required",
                "send `content-type: application/json`",
            ));
        }
        Ok(())
    }

    /// Whether `headers` carry this token.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        same(given.trim().as_bytes(), self.secret.as_bytes())
    }

    /// The token itself (for a test or a CLI that read it from the file).
    pub fn secret(&self) -> &str {
        &self.secret
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
        assert_eq!(a.check(&h, false).unwrap_err().code, "missing_token");
        h.insert(header::AUTHORIZATION, format!("Bearer {}", a.secret()).parse().unwrap());
        assert!(a.check(&h, false).is_ok());
        assert_eq!(a.check(&h, true).unwrap_err().code, "json_required");
        h.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert!(is_json(&h));
        assert!(a.check(&h, true).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("t")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the token");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
