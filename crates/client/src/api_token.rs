//! The token that guards the client's money routes (`/v1/payments/*`): in
//! `<data_dir>/api-token` (see [`cocoon_transport::token`]). A web page open on this machine
//! can reach the local API but cannot read the file, so it cannot spend or withdraw.

use axum::{
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use cocoon_transport::{is_json, AccessToken};

/// File name of the token in the client's data directory.
pub const TOKEN_FILE: &str = "api-token";

/// Reads or creates the client's API token.
pub fn load(data_dir: Option<&std::path::Path>) -> std::io::Result<AccessToken> {
    AccessToken::load_or_create(data_dir, TOKEN_FILE, "the money routes (/v1/payments/*)")
}

/// An error in the API's JSON shape.
pub fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"error": {"message": message, "type": "invalid_request_error", "code": code}});
    (status, Json(body)).into_response()
}

/// Middleware for the money routes: the token, and JSON for anything that changes state.
pub async fn require(State(token): State<AccessToken>, req: Request, next: Next) -> Response {
    if !token.admits(req.headers()) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "the money routes need `Authorization: Bearer <token>` (the token is in the client's data_dir/api-token)",
        );
    }
    if req.method() != axum::http::Method::GET && !is_json(req.headers()) {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "json_required", "send `content-type: application/json`");
    }
    next.run(req).await
}
