//! cocoon-transport
