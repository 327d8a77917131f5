//! TEE measurements and the image hash derived from them.
//!
//! A TDX quote carries MRTD (the initial TD image) and four runtime
//! measurement registers. Policies do not want to list five 48-byte values,
//! so they allowlist a single [`ImageHash`] =
//! `SHA-256(mrtd || rtmr0 || rtmr1 || rtmr2 || rtmr3)`. Report data is
//! deliberately excluded: it differs per certificate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256, Sha384};

/// Measurement registers of a TD (serialized as hex strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Measurements {
    /// Build-time measurement of the initial TD image.
    #[serde(with = "crate::hex_serde::hex48")]
    pub mrtd: [u8; 48],
    /// Runtime measurement registers 0..=3.
    #[serde(with = "crate::hex_serde::hex48x4")]
    pub rtmr: [[u8; 48]; 4],
}

impl Measurements {
    /// `SHA-256(mrtd || rtmr0 || rtmr1 || rtmr2 || rtmr3)`.
    pub fn image_hash(&self) -> ImageHash {
        let mut h = Sha256::new();
        h.update(self.mrtd);
        for r in &self.rtmr {
            h.update(r);
        }
        ImageHash(h.finalize().into())
    }

    /// Deterministic measurements for development:
    /// `mrtd = SHA-384("cocoon-dev-mrtd")`, `rtmrN = SHA-384("cocoon-dev-rtmrN")`.
    pub fn dev_default() -> Self {
        let sha384 = |s: &str| -> [u8; 48] { Sha384::digest(s.as_bytes()).into() };
        Measurements {
            mrtd: sha384("cocoon-dev-mrtd"),
            rtmr: [
                sha384("cocoon-dev-rtmr0"),
                sha384("cocoon-dev-rtmr1"),
                sha384("cocoon-dev-rtmr2"),
                sha384("cocoon-dev-rtmr3"),
            ],
        }
    }
}

/// SHA-256 over a TD's measurements; what policies allowlist.
///
/// `Display`/`FromStr`/serde use 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageHash(pub [u8; 32]);

impl fmt::Display for ImageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ImageHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageHash({self})")
    }
}

impl FromStr for ImageHash {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s.trim()).map_err(|e| format!("image hash {s:?}: {e}"))?;
        let arr: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("image hash must be 32 bytes, got {}", b.len()))?;
        Ok(ImageHash(arr))
    }
}

impl Serialize for ImageHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ImageHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
