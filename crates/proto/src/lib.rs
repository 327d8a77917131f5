//! The wire protocol spoken between cocoon clients, proxies and workers.
//!
//! Every hop is HTTP/2 over RA-TLS (see `cocoon-transport`). HTTP/2 already gives us multiplexing,
//! per-stream cancellation (RST_STREAM), flow-control back-pressure, keep-alive pings and a maximum
//! frame size, so this crate only defines *what* travels over it:
//!
//! * [`version`]: the protocol version range and its negotiation at hello time;
//! * [`messages`]: the typed JSON messages (hello, worker announce and status, model listing);
//! * [`meta`]: per-request metadata carried in request headers: the request's [`Terms`]
//!   (endpoint, model, stream, output bound, the chosen worker's coefficient) and routing;
//! * [`outcome`]: the result of a request (usage or error) carried in HTTP/2 trailers, so the
//!   response body itself stays byte-for-byte what the backend produced;
//! * [`events`]: the length-delimited JSON framing of the worker's status stream.
//!
//! Parsing lives here, separate from I/O, so it can be tested and fuzzed without sockets.

pub mod events;
pub mod messages;
pub mod meta;
pub mod outcome;
pub mod payments;
pub mod version;

pub use events::{EventCodec, MAX_EVENT_FRAME};
pub use messages::{
    is_sha256_hex, HardwareProfile, Hello, HelloAck, ModelList, ModelWorkerInfo, ModelsEntry, WorkerAnnounce,
    WorkerStatus, CLAIM_MODEL, CLAIM_MODEL_SHA256, MAX_COEFFICIENT,
};
pub use meta::{InferMeta, MetaError, Terms};
pub use outcome::{Outcome, OutcomeError};
pub use payments::{AmountRequest, VoucherEvent};
pub use version::{negotiate, VersionError, VersionRange, PROTOCOL};

/// Request paths on the inter-role HTTP/2 connections.
pub mod path {
    /// Version negotiation; the first request on every connection.
    pub const HELLO: &str = "/cocoon/v1/hello";
    /// One inference request (client -> proxy, proxy -> worker).
    pub const INFER: &str = "/cocoon/v1/infer";
    /// Models the proxy can route to, with their workers (client -> proxy).
    pub const MODELS: &str = "/cocoon/v1/models";
    /// The worker's stream of status changes (proxy -> worker, long-lived response).
    pub const WORKER_EVENTS: &str = "/cocoon/v1/worker/events";
    /// The client's account at the proxy (GET: view).
    pub const ACCOUNT: &str = "/cocoon/v1/account";
    /// Top up (POST [`crate::AmountRequest`]); durable before the answer.
    pub const DEPOSIT: &str = "/cocoon/v1/account/deposit";
    /// Add to the stake (POST [`crate::AmountRequest`]).
    pub const STAKE: &str = "/cocoon/v1/account/stake";
    /// Take back spendable funds, never the stake (POST [`crate::AmountRequest`]).
    pub const WITHDRAW: &str = "/cocoon/v1/account/withdraw";
    /// Start closing the account; the stake comes back after the close delay (POST).
    pub const CLOSE: &str = "/cocoon/v1/account/close";
    /// The client's stream of committed charge vouchers (client -> proxy, long-lived response).
    pub const VOUCHERS: &str = "/cocoon/v1/vouchers";
    /// A payout voucher for the worker (proxy -> worker, POST [`crate::VoucherEvent`]).
    pub const WORKER_VOUCHER: &str = "/cocoon/v1/worker/voucher";
}

/// Shrinks a timeout for the next hop so that the inner hop always times out first (Cocoon uses 5%).
pub fn inner_timeout(outer: std::time::Duration) -> std::time::Duration {
    outer.mul_f64(0.95)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn inner_timeout_is_strictly_shorter() {
        let t = Duration::from_secs(120);
        let inner = inner_timeout(t);
        assert!(inner < t);
        assert_eq!(inner, Duration::from_secs(114));
        assert!(inner_timeout(inner) < inner);
    }
}
