//! Task endpoints on the client's API: `POST /v1/tasks/translate` and `POST /v1/tasks/summarize`,
//! JSON in and out, through the network at temperature 0; prompts
//! and output parsing live in [`prompt`].
//!
//! Translate: `{"to": "fr", "texts": ["..."], "from"?, "model"?, "max_tokens"?}` (each text its
//! own chat completion, a few at a time) →
//! `{"translations": [{"text": "..."} | {"error": {"code", "message"}}], "model", "usage"}`.
//! Summarize: `{"text": "...", "language"?, "model"?, "max_tokens"?}` →
//! `{"summary": "...", "model", "usage"}`.

mod languages;
pub mod prompt;

use crate::{forward, Shared};
use axum::{
    body::Body as AxumBody,
    extract::State,
    response::{IntoResponse, Response},
    Json,
};
use cocoon_openai::{ApiError, Endpoint};
use cocoon_transport::{full, read_limited};
use futures::StreamExt;
use http::StatusCode;
use prompt::{SummarizeRequest, TranslateRequest};
use serde_json::{json, Value};
use std::sync::Arc;

const MAX_TASK_BODY: usize = 1024 * 1024;

/// Texts of one batch translated at once.
const TRANSLATE_CONCURRENCY: usize = 4;

fn error(e: ApiError) -> Response {
    (e.status, Json(serde_json::from_slice::<Value>(&e.to_json()).unwrap_or_default())).into_response()
}

async fn parse<T: serde::de::DeserializeOwned>(body: AxumBody) -> Result<T, ApiError> {
    let bytes = read_limited(body, MAX_TASK_BODY)
        .await
        .map_err(|e| ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))
}

/// `POST /v1/tasks/translate`: translates a batch of texts in one chat completion.
pub async fn translate(State(s): State<Arc<Shared>>, body: AxumBody) -> Response {
    let result = async {
        let r: TranslateRequest = parse(body).await?;
        prompt::check_translate(&r).map_err(|m| ApiError::bad_request("invalid_request", m))?;
        let model = model_or_default(&s, r.model.clone()).await?;
        let (results, todo, chats) = prompt::translate_plan(&r, &model);
        // Each text is its own request; a few at a time, answers kept in order.
        let answers: Vec<Result<Value, ApiError>> = futures::stream::iter(chats.into_iter().map(|chat| ask(&s, chat)))
            .buffered(TRANSLATE_CONCURRENCY)
            .collect()
            .await;
        let mut usage = json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0});
        let mut texts = Vec::with_capacity(answers.len());
        for a in &answers {
            match a {
                Ok(answer) => {
                    for k in ["prompt_tokens", "completion_tokens", "total_tokens"] {
                        usage[k] = json!(usage[k].as_u64().unwrap_or(0) + answer["usage"][k].as_u64().unwrap_or(0));
                    }
                    if let Some(c) = answer["usage"]["total_cost"].as_u64() {
                        usage["total_cost"] = json!(usage["total_cost"].as_u64().unwrap_or(0) + c);
                    }
                    texts.push(Ok(prompt::answer_text(answer).unwrap_or_default().to_string()));
                }
                Err(e) => texts.push(Err(format!("{}: {}", e.code, e.message))),
            }
        }
        // A request-wide refusal (no money, no worker) is the answer when nothing got through.
        if let (Some(Err(first)), true) = (answers.first(), answers.iter().all(Result::is_err)) {
            return Err(first.clone());
        }
        let translations = prompt::translate_finish(results, &todo, &r.texts, &texts);
        Ok::<_, ApiError>(
            json!({"object": "translation", "model": model, "to": r.to, "translations": translations, "usage": usage}),
        )
    }
    .await;
    result.map(|v| Json(v).into_response()).unwrap_or_else(error)
}

/// `POST /v1/tasks/summarize`: summarizes one text in 2 to 3 sentences.
pub async fn summarize(State(s): State<Arc<Shared>>, body: AxumBody) -> Response {
    let result = async {
        let r: SummarizeRequest = parse(body).await?;
        let model = model_or_default(&s, r.model.clone()).await?;
        let chat = prompt::summarize_body(&r, &model).map_err(|m| ApiError::bad_request("invalid_request", m))?;
        let answer = ask(&s, chat).await?;
        let summary = prompt::answer_text(&answer).and_then(prompt::summary_of).ok_or_else(|| {
            ApiError::from_status(StatusCode::BAD_GATEWAY, "malformed_output", "the model answered no summary")
        })?;
        Ok::<_, ApiError>(
            json!({"object": "summary", "model": model, "summary": summary, "usage": answer["usage"].clone()}),
        )
    }
    .await;
    result.map(|v| Json(v).into_response()).unwrap_or_else(error)
}

/// One non-streaming chat completion through the network, as an app would send it.
async fn ask(s: &Arc<Shared>, chat: Value) -> Result<Value, ApiError> {
    let bytes = serde_json::to_vec(&chat).map_err(|e| ApiError::internal("internal", e.to_string()))?;
    let resp = forward::completions(s, Endpoint::ChatCompletions, full(bytes)).await;
    let status = resp.status();
    let body = read_limited(resp.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|e| ApiError::from_status(StatusCode::BAD_GATEWAY, "proxy_failed", e.to_string()))?;
    if !status.is_success() {
        return Err(ApiError::from_json(status, &body)
            .unwrap_or_else(|| ApiError::from_status(status, "upstream_error", String::from_utf8_lossy(&body))));
    }
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::from_status(StatusCode::BAD_GATEWAY, "malformed_output", format!("answer is not JSON: {e}"))
    })
}

/// The requested model, or the first one the network offers.
async fn model_or_default(s: &Arc<Shared>, model: Option<String>) -> Result<String, ApiError> {
    if let Some(m) = model.filter(|m| !m.trim().is_empty()) {
        return Ok(m);
    }
    crate::api::first_model(s).await.ok_or_else(|| {
        ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE, "no_models", "no model is available on the network")
    })
}
