//! Test support: the speech model and speech samples made with espeak-ng.

use std::path::PathBuf;

/// The speech model tests run on, unless `COCOON_TEST_SPEECH_MODEL` names another directory.
pub const DEFAULT_TEST_MODEL: &str = "models/whisper-base";

/// The test model's directory (relative paths from the workspace root); an error saying how to
/// get it when it is missing: tests that need it fail, they do not skip.
pub fn test_model() -> Result<PathBuf, String> {
    // The crate's directory as cargo runs the tests (a test binary built elsewhere, e.g. in a
    // shared target directory, keeps the build-time path); every crate sits at crates/NAME.
    let crate_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let root = PathBuf::from(crate_dir).join("../..");
    let named = std::env::var("COCOON_TEST_SPEECH_MODEL").unwrap_or_else(|_| DEFAULT_TEST_MODEL.to_string());
    let path = if PathBuf::from(&named).is_absolute() { PathBuf::from(&named) } else { root.join(&named) };
    if path.join("model.bin").is_file() {
        Ok(path)
    } else {
        Err(format!("speech model {} not found: run ./scripts/fetch-models.sh", path.display()))
    }
}

/// `text` spoken by espeak-ng in English (120 words per minute) as a WAV file.
pub fn speak(text: &str) -> Result<Vec<u8>, String> {
    speak_at("en", 120, text)
}

/// `text` spoken by espeak-ng with its `voice` at `wpm` words per minute, as a WAV file.
pub fn speak_at(voice: &str, wpm: u32, text: &str) -> Result<Vec<u8>, String> {
    let out = std::process::Command::new("espeak-ng")
        .args(["-v", voice, "-s", &wpm.to_string(), "--stdout", text])
        .output()
        .map_err(|e| format!("running espeak-ng (install it: ./scripts/install-deps.sh): {e}"))?;
    if !out.status.success() || out.stdout.len() < 44 {
        return Err(format!("espeak-ng failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}
