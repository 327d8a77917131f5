//! The languages a Whisper model knows: its `<|xx|>` tokens, read from the model's vocabulary.

use crate::SpeechError;
use std::collections::BTreeSet;
use std::path::Path;

/// The language codes in a model directory's vocabulary (`vocabulary.txt`, one token a line,
/// or `vocabulary.json`, an array of tokens): every token of the form `<|xx|>` or `<|xxx|>`
/// with lowercase letters (`<|en|>`, `<|haw|>`). Empty for a vocabulary without them.
pub fn read(dir: &Path) -> Result<BTreeSet<String>, SpeechError> {
    let txt = dir.join("vocabulary.txt");
    let tokens: Vec<String> = if txt.is_file() {
        let text = std::fs::read_to_string(&txt)
            .map_err(|source| SpeechError::Io { path: txt.display().to_string(), source })?;
        text.lines().map(str::to_string).collect()
    } else {
        let json = dir.join("vocabulary.json");
        let bytes =
            std::fs::read(&json).map_err(|source| SpeechError::Io { path: json.display().to_string(), source })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| SpeechError::Load(format!("{}: not a JSON array of tokens: {e}", json.display())))?
    };
    Ok(tokens.iter().filter_map(|t| language_code(t)).map(str::to_string).collect())
}

/// `"en"` for the token `<|en|>`; `None` for any other token.
pub fn language_code(token: &str) -> Option<&str> {
    let code = token.strip_prefix("<|")?.strip_suffix("|>")?;
    ((2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase())).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_language_tokens_are_languages() {
        assert_eq!(language_code("<|en|>"), Some("en"));
        assert_eq!(language_code("<|haw|>"), Some("haw"));
        for t in ["<|endoftext|>", "<|transcribe|>", "<|0.00|>", "<|EN|>", "en", "<|e|>", "Ġ<|en|>"] {
            assert_eq!(language_code(t), None, "{t}");
        }
        let dir = std::env::temp_dir().join(format!("cocoon-langs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("vocabulary.txt"), "hello\n<|endoftext|>\n<|en|>\n<|ru|>\n<|translate|>\n").unwrap();
        assert_eq!(read(&dir).unwrap().into_iter().collect::<Vec<_>>(), ["en", "ru"]);
        std::fs::remove_file(dir.join("vocabulary.txt")).unwrap();
        std::fs::write(dir.join("vocabulary.json"), r#"["<|id|>", "x"]"#).unwrap();
        assert_eq!(read(&dir).unwrap().into_iter().collect::<Vec<_>>(), ["id"]);
        std::fs::write(dir.join("vocabulary.json"), "{").unwrap();
        assert!(matches!(read(&dir), Err(SpeechError::Load(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
