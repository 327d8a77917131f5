//! A backend that forwards to an OpenAI-compatible HTTP server.

use crate::backend::{Backend, BackendRequest, BackendResponse};
use crate::backend_http::BackendHttp;
use bytes::Bytes;
use cocoon_openai::ApiError;
use futures::future::BoxFuture;
use http::{header, StatusCode, Uri};
use http_body_util::{BodyExt, Full};

/// A [`Backend`] that forwards requests to an OpenAI-compatible HTTP server (vLLM, SGLang,
/// llama.cpp server, Ollama).
pub struct OpenAiBackend {
    base: String,
    client: BackendHttp,
}

impl OpenAiBackend {
    /// `base` is e.g. "http://127.0.0.1:8000" (a trailing "/" or "/v1" is accepted).
    pub fn new(base: &str) -> Result<Self, String> {
        let base = base.trim_end_matches('/').trim_end_matches("/v1").to_string();
        let client = BackendHttp::new(&base).map_err(|e| e.to_string())?;
        Ok(Self { base, client })
    }

    fn uri(&self, path: &str) -> Result<Uri, ApiError> {
        format!("{}{}", self.base, path).parse().map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "bad_backend_url", format!("{e}"))
        })
    }
}

fn unreachable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "server_error",
        "backend_unreachable",
        format!("backend request failed: {e}"),
    )
}

impl Backend for OpenAiBackend {
    fn describe(&self) -> String {
        format!("openai-compatible server at {}", self.base)
    }

    fn health(&self) -> BoxFuture<'static, Result<(), String>> {
        let client = self.client.clone();
        let uri = self.uri("/v1/models");
        Box::pin(async move {
            let uri = uri.map_err(|e| e.message)?;
            let req = http::Request::get(uri).body(Full::new(Bytes::new())).map_err(|e| e.to_string())?;
            let resp = client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            // Drain the (small) body so the connection can be reused.
            let _ = resp.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("GET /v1/models answered {status}"))
            }
        })
    }

    fn infer(&self, req: BackendRequest) -> BoxFuture<'static, Result<BackendResponse, ApiError>> {
        let client = self.client.clone();
        let uri = self.uri(req.endpoint.path());
        if req.endpoint == cocoon_openai::Endpoint::AudioTranscriptions {
            let translations = self.uri("/v1/audio/translations");
            return Box::pin(async move {
                let uris = crate::speech_upstream::SpeechUris { transcriptions: uri?, translations: translations? };
                crate::speech_upstream::transcribe(client, uris, req.body).await
            });
        }
        Box::pin(async move {
            let http_req = http::Request::post(uri?)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, if req.stream { "text/event-stream" } else { "application/json" })
                .body(Full::new(req.body))
                .map_err(unreachable)?;
            let resp = client.request(http_req).await.map_err(unreachable)?;
            let status = resp.status();
            let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
            let body = resp.into_body().map_err(|e| Box::new(e) as cocoon_transport::BoxError).boxed_unsync();
            Ok(BackendResponse { status, content_type, body })
        })
    }
}
