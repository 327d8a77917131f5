//! A backend that runs the model in-process: the embedded llama.cpp engine
//! (`cocoon-engine`), answering through the engine's OpenAI layer.
//!
//! The answer has the same shape as an HTTP backend's (OpenAI JSON or SSE with a usage chunk),
//! so the worker's meter counts it the same way. Dropping the response body drops the engine's
//! generation, which frees its sequence within one decode step.

use crate::backend::{Backend, BackendRequest, BackendResponse};
use cocoon_engine::{openai, Engine};
use cocoon_openai::ApiError;
use cocoon_transport::BoxError;
use futures::{future::BoxFuture, StreamExt};
use http::{HeaderValue, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use std::sync::Arc;

/// A [`Backend`] that runs a llama.cpp model inside the worker process.
pub struct EmbeddedBackend {
    engine: Arc<Engine>,
}

impl EmbeddedBackend {
    /// Wraps an engine that is already loaded.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// Loads the engine on a blocking thread (seconds to minutes for large models).
    pub async fn load(cfg: cocoon_engine::EngineConfig) -> Result<Self, String> {
        let engine = tokio::task::spawn_blocking(move || Engine::load(cfg))
            .await
            .map_err(|e| format!("engine loading thread failed: {e}"))?
            .map_err(|e| e.to_string())?;
        Ok(Self::new(engine))
    }

    /// The loaded engine behind this backend.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

impl Backend for EmbeddedBackend {
    fn describe(&self) -> String {
        let sha = self.engine.model_sha256();
        format!("embedded llama.cpp: {} (sha256 {})", self.engine.info().file_name, &sha[..sha.len().min(16)])
    }

    fn features(&self) -> Option<cocoon_openai::FeatureSet> {
        Some(cocoon_engine::openai::FEATURES)
    }

    fn model_sha256(&self) -> Option<String> {
        Some(self.engine.model_sha256().to_string())
    }

    fn health(&self) -> BoxFuture<'static, Result<(), String>> {
        let alive = self.engine.is_alive();
        Box::pin(async move {
            if alive {
                Ok(())
            } else {
                Err("the embedded engine's inference thread has stopped".into())
            }
        })
    }

    fn infer(&self, req: BackendRequest) -> BoxFuture<'static, Result<BackendResponse, ApiError>> {
        let engine = self.engine.clone();
        Box::pin(async move {
            let resp = openai::serve(engine, req.endpoint, &req.body).await?;
            let frames = resp.body.map(|chunk| Ok::<_, BoxError>(Frame::data(chunk)));
            Ok(BackendResponse {
                status: StatusCode::OK,
                content_type: Some(HeaderValue::from_static(resp.content_type)),
                body: StreamBody::new(frames).boxed_unsync(),
            })
        })
    }
}
