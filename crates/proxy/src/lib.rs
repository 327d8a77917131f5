//! cocoon-proxy
