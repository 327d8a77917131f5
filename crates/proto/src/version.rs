//! Protocol versions and their negotiation.
//!
//! Each side announces the range of protocol versions it speaks; the highest version in both
//! ranges wins. A peer whose range does not overlap ours is refused with a clear error instead
//! of being spoken to in a dialect it does not understand.

use serde::{Deserialize, Serialize};

/// An inclusive range of protocol versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRange {
    pub min: u32,
    pub max: u32,
}

/// The versions this build speaks.
pub const PROTOCOL: VersionRange = VersionRange { min: 1, max: 1 };

/// Why version negotiation failed: a malformed range, or no version both sides speak.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    #[error("invalid version range {min}..={max}")]
    InvalidRange { min: u32, max: u32 },
    #[error("no common protocol version: we speak {ours_min}..={ours_max}, peer speaks {theirs_min}..={theirs_max}")]
    NoOverlap { ours_min: u32, ours_max: u32, theirs_min: u32, theirs_max: u32 },
}

/// Picks the highest version both ranges contain.
pub fn negotiate(ours: VersionRange, theirs: VersionRange) -> Result<u32, VersionError> {
    for r in [ours, theirs] {
        if r.min > r.max {
            return Err(VersionError::InvalidRange { min: r.min, max: r.max });
        }
    }
    let lo = ours.min.max(theirs.min);
    let hi = ours.max.min(theirs.max);
    if lo > hi {
        return Err(VersionError::NoOverlap {
            ours_min: ours.min,
            ours_max: ours.max,
            theirs_min: theirs.min,
            theirs_max: theirs.max,
        });
    }
    Ok(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(min: u32, max: u32) -> VersionRange {
        VersionRange { min, max }
    }

    #[test]
    fn picks_highest_common() {
        assert_eq!(negotiate(r(1, 3), r(2, 5)), Ok(3));
        assert_eq!(negotiate(r(1, 1), r(1, 1)), Ok(1));
    }

    #[test]
    fn refuses_disjoint_and_inverted() {
        assert!(matches!(negotiate(r(1, 1), r(2, 3)), Err(VersionError::NoOverlap { .. })));
        assert!(matches!(negotiate(r(1, 2), r(3, 2)), Err(VersionError::InvalidRange { .. })));
    }
}
