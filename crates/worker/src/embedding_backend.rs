//! A backend that embeds texts in-process: an embedding model on the embedded llama.cpp engine
//! (`cocoon_engine::Embedder`), answering `/v1/embeddings` only.

use crate::backend::{Backend, BackendRequest, BackendResponse};
use cocoon_engine::{openai, Embedder};
use cocoon_openai::{ApiError, Endpoint};
use cocoon_transport::full;
use futures::future::BoxFuture;
use http::{HeaderValue, StatusCode};
use std::sync::Arc;

/// A [`Backend`] that serves `/v1/embeddings` from an embedding model inside the worker.
pub struct EmbeddingBackend {
    embedder: Arc<Embedder>,
}

impl EmbeddingBackend {
    /// Loads the model on a blocking thread.
    pub async fn load(cfg: cocoon_engine::EngineConfig) -> Result<Self, String> {
        let embedder = tokio::task::spawn_blocking(move || Embedder::load(cfg))
            .await
            .map_err(|e| format!("embedding model loading thread failed: {e}"))?
            .map_err(|e| e.to_string())?;
        Ok(Self { embedder })
    }
}

impl Backend for EmbeddingBackend {
    fn describe(&self) -> String {
        let sha = self.embedder.model_sha256();
        let info = self.embedder.info();
        format!(
            "embedded embedding model: {} ({} dimensions, {} pooling, sha256 {})",
            self.embedder.file_name(),
            info.dimensions,
            info.pooling,
            &sha[..sha.len().min(16)]
        )
    }

    fn model_sha256(&self) -> Option<String> {
        Some(self.embedder.model_sha256().to_string())
    }

    fn health(&self) -> BoxFuture<'static, Result<(), String>> {
        let alive = self.embedder.is_alive();
        Box::pin(async move {
            if alive {
                Ok(())
            } else {
                Err("the embedding thread has stopped".into())
            }
        })
    }

    fn infer(&self, req: BackendRequest) -> BoxFuture<'static, Result<BackendResponse, ApiError>> {
        let embedder = self.embedder.clone();
        Box::pin(async move {
            if req.endpoint != Endpoint::Embeddings {
                return Err(ApiError::bad_request(
                    "unsupported_endpoint",
                    format!("this worker serves embeddings ({}) only", Endpoint::Embeddings.path()),
                ));
            }
            let body = openai::serve_embeddings(embedder, &req.body).await?;
            Ok(BackendResponse {
                status: StatusCode::OK,
                content_type: Some(HeaderValue::from_static("application/json")),
                body: full(body),
            })
        })
    }
}
