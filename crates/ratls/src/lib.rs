//! cocoon-ratls
