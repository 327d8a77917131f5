//! cocoon-proto
