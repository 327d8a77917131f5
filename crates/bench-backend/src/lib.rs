//! A synthetic OpenAI-compatible backend for tests, demos and benchmarks.
//!
//! Workers need something to forward to. A real inference server is heavy and
//! nondeterministic; this one answers instantly (or with a configured pace)
//! with well-formed chat/completions responses and streams, reports usage like
//! vLLM does, and counts what happened to each stream, so end-to-end tests can
//! assert on it and benchmarks measure the network rather than the model.

pub mod embeddings;
mod handlers;
mod options;
mod request;
mod response;
mod stats;
mod stream;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::serve::ListenerExt as _;
use axum::Router;
use bytes::Bytes;
use cocoon_openai::Endpoint;

pub use options::Options;
pub use stats::{Stats, StatsSnapshot};

/// The backend: cheap to clone, all clones share state and statistics.
#[derive(Clone)]
pub struct BenchBackend {
    inner: Arc<Inner>,
}

/// State shared by all handlers.
pub(crate) struct Inner {
    pub opts: Options,
    pub stats: Arc<Stats>,
    /// The model name encoded as a JSON string.
    pub model_json: String,
    /// Content of one chunk (`opts.bytes` JSON-safe bytes).
    pub chunk: String,
    /// The `GET /v1/models` body.
    pub models_body: Bytes,
    /// Source of response ids.
    pub next_id: AtomicU64,
    /// The body of the latest completion request, exactly as received (`GET /last-request`):
    /// what tests compare with what the client sent.
    pub last_request: std::sync::Mutex<Bytes>,
}

impl BenchBackend {
    /// A backend answering per `opts`, with fresh statistics.
    pub fn new(opts: Options) -> Self {
        let model_json = serde_json::Value::from(opts.model.as_str()).to_string();
        let models_body = Bytes::from(format!(
            r#"{{"object":"list","data":[{{"id":{model_json},"object":"model","created":{},"owned_by":"cocoon-bench-backend"}}]}}"#,
            handlers::unix_now()
        ));
        let chunk = response::filler(opts.bytes);
        Self {
            inner: Arc::new(Inner {
                opts,
                stats: Arc::new(Stats::default()),
                model_json,
                chunk,
                models_body,
                next_id: AtomicU64::new(1),
                last_request: Default::default(),
            }),
        }
    }

    /// The options this backend was built with.
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// Current counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// All routes, ready to be served or nested.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/models", get(handlers::models))
            .route(Endpoint::ChatCompletions.path(), post(handlers::chat_completions))
            .route(Endpoint::Completions.path(), post(handlers::completions))
            .route(Endpoint::Embeddings.path(), post(embeddings::embeddings))
            .route("/stats", get(handlers::stats))
            .route("/last-request", get(handlers::last_request))
            .route("/health", get(handlers::health))
            .with_state(self.inner.clone())
    }

    /// Serve on `listener` (with `TCP_NODELAY`) until `shutdown` resolves,
    /// then finish in-flight requests and return.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("bench backend: cannot set TCP_NODELAY: {e}");
            }
        });
        // into_make_service: a bare Router is deep-copied for every connection.
        axum::serve(listener, self.router().into_make_service()).with_graceful_shutdown(shutdown).await
    }
}
