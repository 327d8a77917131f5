//! Whisper's tokens back to text: GPT-2's byte-level BPE, where every byte is written as one
//! printable character. Special tokens (`<|...|>`) are dropped.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The inverse of GPT-2's `bytes_to_unicode`.
fn char_to_byte() -> &'static HashMap<char, u8> {
    static MAP: OnceLock<HashMap<char, u8>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = HashMap::with_capacity(256);
        let mut shifted = 0u32;
        for b in 0u32..=255 {
            let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
            let c = if printable {
                b
            } else {
                shifted += 1;
                255 + shifted
            };
            if let Some(c) = char::from_u32(c) {
                map.insert(c, b as u8);
            }
        }
        map
    })
}

/// Whether a token is a special one (`<|endoftext|>`, `<|notimestamps|>`, timestamps...).
pub fn is_special(token: &str) -> bool {
    token.starts_with("<|") && token.ends_with("|>")
}

/// Joins tokens into text (invalid UTF-8 is replaced, never an error).
pub fn decode<S: AsRef<str>>(tokens: &[S]) -> String {
    let map = char_to_byte();
    let mut bytes = Vec::new();
    for t in tokens.iter().map(AsRef::as_ref).filter(|t| !is_special(t)) {
        bytes.extend(t.chars().filter_map(|c| map.get(&c).copied()));
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn byte_level_tokens_decode() {
        assert_eq!(
            super::decode(&["<|startoftranscript|>", "ĠThe", "Ġquick", "Ġcaf", "Ã©", ".", "<|endoftext|>"]),
            " The quick café."
        );
        assert_eq!(super::decode(&["Ċ", "Hi"]), "\nHi");
        assert_eq!(super::decode::<&str>(&[]), "");
    }
}
