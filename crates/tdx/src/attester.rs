//! Quote generation inside a TDX guest through Linux configfs-tsm.
//!
//! Linux 6.7+ exposes TEE attestation reports through configfs
//! (`Documentation/ABI/testing/configfs-tsm-report`): `mkdir` an entry under
//! `/sys/kernel/config/tsm/report/`, write up to 64 bytes of report data to
//! its `inblob`, read the quote from `outblob` (the TDX guest driver asks the
//! host's quote generation service to sign the TD report), `rmdir` the entry.
//! `provider` names the backend (`tdx_guest` for TDX) and `generation`
//! counts writes, so a concurrent writer to the same entry is detectable.
//! Each quote uses a fresh entry, so only a misbehaving process could race.
//!
//! There is no fallback: without configfs-tsm the attester fails to build,
//! and a machine that is not a TDX guest is an error, never a dev quote.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cocoon_ratls::{AttestError, Attester, TeeType};

use crate::error::TdxError;
use crate::quote::TdxQuote;

/// Where configfs-tsm report entries are created.
pub const DEFAULT_TSM_REPORT_ROOT: &str = "/sys/kernel/config/tsm/report";

/// configfs-tsm `provider` of the TDX guest driver.
pub const TDX_PROVIDER: &str = "tdx_guest";

/// Attempts when another writer changed the entry under us.
const ATTEMPTS: u32 = 3;

/// Default bound on waiting for an entry's attribute files to appear.
const DEFAULT_ATTR_WAIT: Duration = Duration::from_secs(10);

static ENTRY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Produces TDX quotes through configfs-tsm.
#[derive(Debug, Clone)]
pub struct TdxAttester {
    root: PathBuf,
    attr_wait: Duration,
}

impl TdxAttester {
    /// The attester of this machine, using [`DEFAULT_TSM_REPORT_ROOT`].
    /// Fails, saying what is missing, when configfs-tsm is not there.
    pub fn new() -> Result<Self, TdxError> {
        Self::with_root(DEFAULT_TSM_REPORT_ROOT)
    }

    /// An attester creating its entries under `root` (tests, unusual
    /// configfs mount points). `root` must be an existing directory.
    pub fn with_root(root: impl Into<PathBuf>) -> Result<Self, TdxError> {
        let root = root.into();
        if !root.is_dir() {
            return Err(TdxError::Unavailable(format!(
                "configfs-tsm report directory {} does not exist: TDX attestation needs a TDX guest (Intel TDX \
                 confidential VM) running Linux 6.7+ with the tdx_guest driver, and configfs mounted at \
                 /sys/kernel/config (mount -t configfs none /sys/kernel/config)",
                root.display()
            )));
        }
        Ok(TdxAttester { root, attr_wait: DEFAULT_ATTR_WAIT })
    }

    /// How long to wait for an entry's attribute files to appear. configfs
    /// creates them together with the entry, so this only matters on
    /// emulated trees (tests).
    pub fn with_attr_wait(mut self, wait: Duration) -> Self {
        self.attr_wait = wait;
        self
    }

    /// The directory entries are created in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A quote over `report_data`.
    pub fn quote(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, TdxError> {
        let mut raced = (0, 0);
        for attempt in 1..=ATTEMPTS {
            match self.quote_once(report_data) {
                Ok(quote) => return check_quote(quote, report_data),
                Err(Attempt::Failed(e)) => return Err(e),
                Err(Attempt::Raced { before, after }) => {
                    tracing::warn!(attempt, before, after, "configfs-tsm entry changed under us, retrying");
                    raced = (before, after);
                }
            }
        }
        Err(TdxError::Unavailable(format!(
            "configfs-tsm: another writer modified the report entry {ATTEMPTS} times in a row (generation {} \
             before, {} after, expected {})",
            raced.0,
            raced.1,
            raced.0.saturating_add(1)
        )))
    }

    /// A quote over zero report data: what this machine's TD looks like
    /// (its measurements and image hash).
    pub fn local_quote(&self) -> Result<TdxQuote, TdxError> {
        TdxQuote::parse(&self.quote(&[0u8; 64])?)
    }

    /// One mkdir / write inblob / read outblob / rmdir round.
    fn quote_once(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, Attempt> {
        let name = format!("cocoon-{}-{}", std::process::id(), ENTRY_COUNTER.fetch_add(1, Ordering::Relaxed));
        let entry = Entry::create(self.root.join(name))?;
        let deadline = Instant::now().checked_add(self.attr_wait);
        let provider = entry.read_string("provider", deadline)?;
        if provider != TDX_PROVIDER {
            return Err(Attempt::Failed(TdxError::Unavailable(format!(
                "configfs-tsm provider is {provider:?}, expected {TDX_PROVIDER:?}: this is not a TDX guest"
            ))));
        }
        let before = entry.read_generation(deadline)?;
        let inblob = entry.path.join("inblob");
        std::fs::write(&inblob, report_data).map_err(|e| TdxError::io("write", &inblob, e))?;
        let quote = entry.read("outblob", deadline)?;
        let after = entry.read_generation(deadline)?;
        if after != before.saturating_add(1) {
            return Err(Attempt::Raced { before, after });
        }
        Ok(quote)
    }
}

/// Why one round did not produce a quote.
enum Attempt {
    /// The entry's generation changed by other than our one write.
    Raced { before: u64, after: u64 },
    /// Anything else; not retried.
    Failed(TdxError),
}

impl From<TdxError> for Attempt {
    fn from(e: TdxError) -> Self {
        Attempt::Failed(e)
    }
}

/// The kernel's answer must be a TDX quote over the report data we wrote.
fn check_quote(quote: Vec<u8>, report_data: &[u8; 64]) -> Result<Vec<u8>, TdxError> {
    if quote.is_empty() {
        return Err(TdxError::Unavailable("configfs-tsm returned an empty outblob".into()));
    }
    let parsed = TdxQuote::parse(&quote)
        .map_err(|e| TdxError::Unavailable(format!("configfs-tsm outblob is not a TDX quote: {e}")))?;
    if &parsed.report_data != report_data {
        return Err(TdxError::Unavailable("configfs-tsm returned a quote over other report data".into()));
    }
    Ok(quote)
}

/// A report entry, removed when dropped.
struct Entry {
    path: PathBuf,
}

impl Entry {
    fn create(path: PathBuf) -> Result<Self, TdxError> {
        std::fs::create_dir(&path).map_err(|e| TdxError::io("mkdir configfs-tsm report entry", &path, e))?;
        Ok(Entry { path })
    }

    /// Read attribute `name`, waiting until `deadline` for it to appear.
    /// (`None`: no deadline.)
    fn read(&self, name: &str, deadline: Option<Instant>) -> Result<Vec<u8>, TdxError> {
        let path = self.path.join(name);
        loop {
            match std::fs::read(&path) {
                Ok(bytes) => return Ok(bytes),
                Err(e) if e.kind() == ErrorKind::NotFound && deadline.is_none_or(|d| Instant::now() < d) => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(TdxError::io("read", &path, e)),
            }
        }
    }

    fn read_string(&self, name: &str, deadline: Option<Instant>) -> Result<String, TdxError> {
        let bytes = self.read(name, deadline)?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
    }

    fn read_generation(&self, deadline: Option<Instant>) -> Result<u64, TdxError> {
        let s = self.read_string("generation", deadline)?;
        s.parse().map_err(|_| TdxError::Unavailable(format!("configfs-tsm generation {s:?} is not a number")))
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // On configfs, rmdir removes the entry with its attributes; an
        // ordinary directory (an emulated tree) needs its files removed.
        if let Err(e) = std::fs::remove_dir(&self.path).or_else(|_| std::fs::remove_dir_all(&self.path)) {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove configfs-tsm report entry");
        }
    }
}

impl Attester for TdxAttester {
    fn tee_type(&self) -> TeeType {
        TeeType::Tdx
    }

    fn attest(&self, report_data: &[u8; 64]) -> Result<Vec<u8>, AttestError> {
        self.quote(report_data).map_err(Into::into)
    }
}
