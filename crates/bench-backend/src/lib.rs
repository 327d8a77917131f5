//! cocoon-bench-backend
