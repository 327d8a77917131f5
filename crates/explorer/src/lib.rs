//! The network explorer: reads the chain (the root contract, every proxy contract, the client
//! contracts the proxies name) and every proxy's public report, and joins them into one
//! [`Snapshot`] in which each figure says where it came from and when it was read.
//!
//! Layout: [`snapshot`] (what is shown, its JSON), [`chain`] (the getters), [`report`]
//! (fetching a proxy's report), [`attest`] (verifying the certificate a report carries),
//! [`collect`] (one collection, rates), [`history`] (the last hour), [`server`] (the web page
//! and its API) and [`table`] (the terminal tables of `cocoon status`). docs/EXPLORER.md says
//! where each figure comes from.

pub mod attest;
pub mod chain;
pub mod collect;
pub mod history;
pub mod report;
pub mod server;
pub mod snapshot;
pub mod table;

pub use attest::AttestationMode;
pub use collect::{CollectConfig, Collector};
pub use snapshot::{Nanotons, Snapshot};

/// Why the explorer could not do something.
#[derive(Debug, thiserror::Error)]
pub enum ExplorerError {
    /// Its configuration cannot work.
    #[error("{0}")]
    Config(String),
    /// A proxy's report could not be read or parsed.
    #[error("{0}")]
    Report(String),
    /// The web server failed.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}
