//! The configfs-tsm attester against an emulated kernel.

mod common;

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cocoon_ratls::{AttestError, Attester, TeeType};
use cocoon_tdx::{TdxAttester, TdxError, TdxQuote, DEFAULT_TSM_REPORT_ROOT};
use common::quote;

/// Offset of the report data in a v4 quote (header 48 + TD report 520).
const REPORT_DATA: usize = 48 + 520;
const WAIT: Duration = Duration::from_secs(20);

/// What the emulated kernel does with each new report entry.
#[derive(Clone)]
struct Kernel {
    provider: &'static str,
    /// How much `generation` grows for the one write of `inblob` (1 = no race).
    generation_step: u64,
    /// How many entries to serve.
    entries: usize,
}

/// Write `contents` to `dst` atomically (through `scratch`), as the kernel
/// never shows a half-written attribute.
fn put(scratch: &Path, dst: PathBuf, contents: &[u8]) {
    let tmp = scratch.join(format!("tmp-{}", dst.file_name().unwrap().to_string_lossy()));
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, dst).unwrap();
}

/// Emulate configfs-tsm under `root`: for each new entry directory, publish
/// `generation` and `provider`, wait for 64 bytes of `inblob`, bump
/// `generation` and publish the sample quote with that report data as
/// `outblob`. Returns the inblobs seen.
fn emulate(root: PathBuf, scratch: PathBuf, kernel: Kernel) -> JoinHandle<Vec<Vec<u8>>> {
    let sample = quote("tdx_quote");
    std::thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut inblobs = Vec::new();
        while seen.len() < kernel.entries {
            assert!(Instant::now() < deadline, "attester never created entry {}", seen.len() + 1);
            let new =
                std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir() && !seen.contains(p));
            let Some(entry) = new else {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            };
            seen.push(entry.clone());
            // provider last: the attester reads it first, and may give up
            // and remove the entry as soon as it has read it.
            put(&scratch, entry.join("generation"), b"0\n");
            put(&scratch, entry.join("provider"), format!("{}\n", kernel.provider).as_bytes());
            if kernel.provider != "tdx_guest" {
                continue;
            }
            let inblob = loop {
                assert!(Instant::now() < deadline, "attester never wrote inblob");
                match std::fs::read(entry.join("inblob")) {
                    Ok(b) if b.len() == 64 => break b,
                    _ => std::thread::sleep(Duration::from_millis(1)),
                }
            };
            let mut outblob = sample.clone();
            outblob[REPORT_DATA..REPORT_DATA + 64].copy_from_slice(&inblob);
            put(&scratch, entry.join("generation"), format!("{}\n", kernel.generation_step).as_bytes());
            put(&scratch, entry.join("outblob"), &outblob);
            inblobs.push(inblob);
        }
        inblobs
    })
}

fn entries(root: &Path) -> usize {
    std::fs::read_dir(root).unwrap().count()
}

#[test]
fn new_without_configfs_tsm_fails_with_what_is_missing() {
    if Path::new(DEFAULT_TSM_REPORT_ROOT).is_dir() {
        eprintln!("configfs-tsm present: this machine may be a TDX guest, skipping the negative check");
    } else {
        let err = TdxAttester::new().unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, TdxError::Unavailable(_)), "{msg}");
        assert!(msg.contains(DEFAULT_TSM_REPORT_ROOT), "{msg}");
    }
    let dir = tempfile::tempdir().unwrap();
    let msg = TdxAttester::with_root(dir.path().join("missing")).unwrap_err().to_string();
    for needed in ["does not exist", "TDX guest", "Linux 6.7+", "configfs mounted at /sys/kernel/config"] {
        assert!(msg.contains(needed), "message lacks {needed:?}: {msg}");
    }
}

#[test]
fn attest_returns_the_kernels_quote_and_removes_its_entry() {
    let root = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let kernel = emulate(
        root.path().to_owned(),
        scratch.path().to_owned(),
        Kernel { provider: "tdx_guest", generation_step: 1, entries: 1 },
    );
    let attester = TdxAttester::with_root(root.path()).unwrap();
    assert_eq!(attester.tee_type(), TeeType::Tdx);
    let report_data: [u8; 64] = std::array::from_fn(|i| i as u8 ^ 0xA5);
    let raw = attester.attest(&report_data).unwrap();
    let inblobs = kernel.join().unwrap();
    assert_eq!(inblobs, [report_data.to_vec()], "the kernel got the report data");

    let q = TdxQuote::parse(&raw).unwrap();
    assert_eq!(q.report_data, report_data);
    assert_eq!(q.measurements, TdxQuote::parse(&quote("tdx_quote")).unwrap().measurements);
    assert_eq!(entries(root.path()), 0, "the report entry must be removed");
}

#[test]
fn local_quote_is_over_zero_report_data() {
    let root = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let kernel = emulate(
        root.path().to_owned(),
        scratch.path().to_owned(),
        Kernel { provider: "tdx_guest", generation_step: 1, entries: 1 },
    );
    let q = TdxAttester::with_root(root.path()).unwrap().local_quote().unwrap();
    kernel.join().unwrap();
    assert_eq!(q.report_data, [0u8; 64]);
    assert_eq!(q.image_hash().to_string(), "8ef444fda246f7e0d5f9a3ba0a2822ae0be7dbec5e321277d03b73b198fa2545");
}

#[test]
fn wrong_provider_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let kernel = emulate(
        root.path().to_owned(),
        scratch.path().to_owned(),
        Kernel { provider: "sev_guest", generation_step: 1, entries: 1 },
    );
    let attester = TdxAttester::with_root(root.path()).unwrap();
    let err = attester.attest(&[7; 64]).unwrap_err();
    kernel.join().unwrap();
    assert!(
        matches!(&err, AttestError::Unavailable(m) if m.contains("\"sev_guest\"") && m.contains("tdx_guest")),
        "{err}"
    );
    assert_eq!(entries(root.path()), 0);
}

#[test]
fn a_concurrent_writer_is_detected() {
    let root = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // Every round, generation moves by 2 for our single write: someone else
    // wrote too. The attester retries with fresh entries, then gives up.
    let kernel = emulate(
        root.path().to_owned(),
        scratch.path().to_owned(),
        Kernel { provider: "tdx_guest", generation_step: 2, entries: 3 },
    );
    let err = TdxAttester::with_root(root.path()).unwrap().quote(&[1; 64]).unwrap_err();
    assert_eq!(kernel.join().unwrap().len(), 3);
    assert!(matches!(&err, TdxError::Unavailable(m) if m.contains("another writer")), "{err}");
    assert_eq!(entries(root.path()), 0);
}

#[test]
fn missing_attributes_time_out() {
    // An entry where nothing ever appears (no kernel behind the directory).
    let root = tempfile::tempdir().unwrap();
    let attester = TdxAttester::with_root(root.path()).unwrap().with_attr_wait(Duration::from_millis(50));
    let err = attester.quote(&[0; 64]).unwrap_err();
    assert!(matches!(&err, TdxError::Io { .. }) && err.to_string().contains("provider"), "{err}");
    assert_eq!(entries(root.path()), 0);
}
