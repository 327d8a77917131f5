//! The OpenAI endpoints the network forwards.
//!
//! The set is deliberately closed: anything that is not one of these paths is
//! never routed to a worker, so adding an endpoint is an explicit decision.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An inference endpoint served by workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`
    #[serde(rename = "chat")]
    ChatCompletions,
    /// `POST /v1/completions`
    #[serde(rename = "completions")]
    Completions,
    /// `POST /v1/audio/transcriptions` (speech to text; the body travels the network in the
    /// form of [`crate::transcription`]).
    #[serde(rename = "transcriptions")]
    AudioTranscriptions,
    /// `POST /v1/embeddings` (vectors of texts; [`crate::embeddings`]). Never streamed, and
    /// billed by prompt tokens only.
    #[serde(rename = "embeddings")]
    Embeddings,
}

impl Endpoint {
    /// Every endpoint, for iteration.
    pub const ALL: [Endpoint; 4] =
        [Endpoint::ChatCompletions, Endpoint::Completions, Endpoint::AudioTranscriptions, Endpoint::Embeddings];

    /// The HTTP path of this endpoint.
    pub fn path(&self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
            Endpoint::AudioTranscriptions => "/v1/audio/transcriptions",
            Endpoint::Embeddings => "/v1/embeddings",
        }
    }

    /// The endpoint served at `path` (a trailing `/` is tolerated).
    pub fn from_path(path: &str) -> Option<Self> {
        let path = path.strip_suffix('/').unwrap_or(path);
        Self::ALL.into_iter().find(|e| e.path() == path)
    }

    /// Whether the answer has generated tokens (an output bound, `max_tokens`): false for
    /// embeddings, which are billed by their input alone.
    pub fn generates(&self) -> bool {
        !matches!(self, Endpoint::Embeddings)
    }

    /// Short stable name, used in configs and on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat",
            Endpoint::Completions => "completions",
            Endpoint::AudioTranscriptions => "transcriptions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned by [`Endpoint::from_str`] for an unknown name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown endpoint `{0}` (expected `chat`, `completions`, `transcriptions` or `embeddings`)")]
pub struct UnknownEndpoint(pub String);

impl FromStr for Endpoint {
    type Err = UnknownEndpoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|e| e.as_str() == s).ok_or_else(|| UnknownEndpoint(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_names_round_trip() {
        for e in Endpoint::ALL {
            assert_eq!(Endpoint::from_path(e.path()), Some(e));
            assert_eq!(e.as_str().parse::<Endpoint>(), Ok(e));
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
            assert_eq!(serde_json::from_str::<Endpoint>(&json).unwrap(), e);
        }
        assert_eq!(Endpoint::from_path("/v1/chat/completions/"), Some(Endpoint::ChatCompletions));
        assert_eq!(Endpoint::from_path("/v1/embeddings"), Some(Endpoint::Embeddings));
        assert_eq!(Endpoint::from_path("/v1/images/generations"), None);
        assert!("images".parse::<Endpoint>().is_err());
    }
}
