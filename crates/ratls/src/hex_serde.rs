//! serde helpers encoding fixed-size byte arrays as lowercase hex strings.
//!
//! Everything that crosses a config file, a log line or a certificate
//! extension is hex, so operators can compare values by eye.

/// Decode a hex string into exactly `N` bytes.
pub(crate) fn hex_array<const N: usize>(s: &str) -> Result<[u8; N], String> {
    let v = hex::decode(s).map_err(|e| format!("invalid hex: {e}"))?;
    let len = v.len();
    v.try_into().map_err(|_| format!("expected {N} bytes, got {len}"))
}

/// serde helper: `[u8; 48]` as a hex string.
pub(crate) mod hex48 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the 48 bytes as a lowercase hex string.
    pub fn serialize<S: Serializer>(v: &[u8; 48], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Reads a hex string that must decode to exactly 48 bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 48], D::Error> {
        let s = String::deserialize(d)?;
        super::hex_array(&s).map_err(serde::de::Error::custom)
    }
}

/// serde helper: `[[u8; 48]; 4]` as an array of four hex strings.
pub(crate) mod hex48x4 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the four registers as an array of four hex strings.
    pub fn serialize<S: Serializer>(v: &[[u8; 48]; 4], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(hex::encode))
    }

    /// Reads an array of exactly four hex strings of 48 bytes each.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[[u8; 48]; 4], D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        if v.len() != 4 {
            return Err(serde::de::Error::custom(format!("expected 4 RTMRs, got {}", v.len())));
        }
        let mut out = [[0u8; 48]; 4];
        for (o, s) in out.iter_mut().zip(&v) {
            *o = super::hex_array(s).map_err(serde::de::Error::custom)?;
        }
        Ok(out)
    }
}

/// serde helper: `[u8; 32]` as a hex string.
pub(crate) mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the 32 bytes as a lowercase hex string.
    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Reads a hex string that must decode to exactly 32 bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        super::hex_array(&s).map_err(serde::de::Error::custom)
    }
}

/// serde helper: `[u8; 64]` as a hex string.
pub(crate) mod hex64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the 64 bytes as a lowercase hex string.
    pub fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Reads a hex string that must decode to exactly 64 bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let s = String::deserialize(d)?;
        super::hex_array(&s).map_err(serde::de::Error::custom)
    }
}

/// serde helper: `Vec<u8>` as a hex string.
pub(crate) mod hexvec {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the bytes as a lowercase hex string.
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    /// Reads a hex string of any length into its bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}
