//! OpenAI-compatible request/response handling shared by the client, the worker
//! and the synthetic backend.
//!
//! Every hop of the network has to look inside OpenAI JSON: the client pulls the
//! network's routing extensions out of a request, the worker decides whether a
//! request is safe to hand to its backend, and both sides count tokens from
//! (possibly streamed) responses to charge for them. Keeping that logic in one
//! pure crate (no async, no I/O) means all hops agree on it and it can be tested
//! exhaustively, including against arbitrary input.

pub mod embeddings;
mod endpoint;
mod error;
mod features;
mod json_object;
mod max_tokens;
mod routing;
mod sse;
pub mod transcription;
mod usage;
mod validate;

pub use endpoint::{Endpoint, UnknownEndpoint};
pub use error::ApiError;
pub use features::{Feature, FeatureSet, FeatureUse, MAX_CHOICES};
pub use max_tokens::{max_tokens, MAX_TOKENS_FIELDS};
pub use routing::{extract_routing, RoutingFields, EXTENSION_FIELDS, MAX_TIMEOUT_SECS};
pub use sse::{SseUsageCounter, MAX_SSE_LINE};
pub use usage::{usage_from_body, Usage};
pub use validate::{validate_bounded, validate_for_backend, Validated};
