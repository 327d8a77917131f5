//! The token that guards the client's money routes (`/v1/payments/*`): in
//! `<data_dir>/api-token` (see [`cocoon_transport::token`]). A web page open on this machine
//! can reach the local API but cannot read the file, so it cannot spend or withdraw.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use cocoon_transport::AccessToken;

/// File name of the token in the client's data directory.
pub const TOKEN_FILE: &str = "api-token";

/// Reads or creates the client's API token.
pub fn load(data_dir: Option<&std::path::Path>) -> std::io::Result<AccessToken> {
    AccessToken::load_or_create(data_dir, TOKEN_FILE, "the money routes (/v1/payments/*)")
}

/// Middleware for the money routes: the token, and JSON for anything that changes state.
pub async fn require(State(token): State<AccessToken>, req: Request, next: Next) -> Response {
    match token.check(req.headers(), req.method() != axum::http::Method::GET) {
        Ok(()) => next.run(req).await,
        Err(e) => cocoon_transport::error_response(&e).map(axum::body::Body::new),
    }
}
