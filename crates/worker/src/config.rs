//! The worker's configuration (TOML), every field documented; see config/worker.example.toml.

use cocoon_ratls::PolicyKind;
use cocoon_transport::AttestationConfig;
use cocoon_transport::PeerPolicy;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The `[embedded]` table: the engine's own configuration.
#[cfg(feature = "embedded")]
pub type EmbeddedConfig = cocoon_engine::EngineConfig;
/// The `[embedded]` table, read as-is in a build without the engine so that starting such a
/// worker can say what is missing.
#[cfg(not(feature = "embedded"))]
pub type EmbeddedConfig = serde_json::Value;

/// The `[speech]` table: the speech engine's configuration.
#[cfg(feature = "speech")]
pub type SpeechTable = cocoon_speech::SpeechConfig;
/// The `[speech]` table, read as-is in a build without the speech engine.
#[cfg(not(feature = "speech"))]
pub type SpeechTable = serde_json::Value;

/// Why a worker built without the speech engine refuses `[speech]`.
pub const SPEECH_NOT_BUILT: &str = "`[speech]` needs a worker built with the speech engine \
     (cargo feature `speech`, e.g. `cargo build --release -p cocoon --features speech`)";

/// Why a worker built without the engine refuses `[embedded]`.
pub const EMBEDDED_NOT_BUILT: &str = "`[embedded]` needs a worker built with the embedded engine \
     (cargo feature `embedded`, e.g. `cargo build --release -p cocoon --features embedded`); \
     remove the table to use an OpenAI-compatible `backend` instead";

/// The worker's configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Worker ports of the proxies to serve through ("host:port"). The worker dials each one
    /// (it may sit behind NAT) and splits `max_active` among them. Empty with a `[chain]`:
    /// every proxy the root's registry lists.
    #[serde(default)]
    pub proxies: Vec<String>,
    /// The TON chain (`[chain]`: API URL and key, root address) to find proxies in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<cocoon_onchain::ChainConfig>,
    /// Routing name of the model served (what clients put in `model`).
    pub model: String,
    /// Base URL of the OpenAI-compatible backend (vLLM, SGLang, llama.cpp server, Ollama),
    /// e.g. "http://127.0.0.1:8000". Requests go to `<backend>/v1/chat/completions` etc.
    /// Required unless `[embedded]` or `[speech]` is given (then it is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The optional OpenAI features the external `backend` has: any of "tools" (tool calls),
    /// "logprobs", "logit_bias", "n" (several choices). Announced to proxies, which route a
    /// request that uses one only to workers that have it; this worker forwards such fields
    /// only for these. Default: what the backend says of itself at start when it can (llama.cpp's
    /// server: `GET /props`, and a one-token trial for tools), else none (the fields are
    /// refused). The embedded engine announces its own (`cocoon_engine::openai::FEATURES`).
    #[serde(
        default,
        skip_serializing_if = "cocoon_openai::FeatureSet::is_empty",
        deserialize_with = "cocoon_openai::FeatureSet::deserialize_strict"
    )]
    pub features: cocoon_openai::FeatureSet,
    /// The weights file the external `backend` serves, when this worker can read it: its
    /// SHA-256 is computed at start and attested (claim `model_sha256`), so proxies that
    /// allowlist model hashes admit this worker. The embedded engine hashes its own file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_file: Option<std::path::PathBuf>,
    /// Run the model in-process with the embedded llama.cpp engine instead of calling
    /// `backend`: `model_path` (GGUF file, required), `context` (tokens per sequence, default
    /// 2048), `threads` (default: all cores), `parallel` (sequences generated at once, default
    /// 2), `queue` (requests waiting for a sequence before `engine_busy`, default 32). Needs a
    /// worker built with the cargo feature `embedded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded: Option<EmbeddedConfig>,
    /// Serve speech to text (`/v1/audio/transcriptions`) in-process with Whisper on
    /// CTranslate2: `model_dir` (with model.bin, config.json, vocabulary.txt; required),
    /// `threads` (default: all cores, at most 4), `beam_size` (default 5), `parallel`
    /// (transcriptions at once, default 1), `max_seconds` (longest audio, default 600). Needs a
    /// worker built with the cargo feature `speech`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech: Option<SpeechTable>,
    /// Serve embeddings (`/v1/embeddings`) in-process with an embedding model on the embedded
    /// llama.cpp engine: the same keys as `[embedded]`, with `model_path` a GGUF embedding model
    /// (e.g. all-MiniLM-L6-v2 from scripts/fetch-models.sh), `context` the most tokens one
    /// input may have (at most the model's trained context; 512 for MiniLM) and `parallel` the
    /// inputs embedded together. Needs the cargo feature `embedded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddedConfig>,
    /// Hardware profile: "cpu", "H100", "H100:80GiB" or "2xH100:80GiB".
    #[serde(default = "default_hardware")]
    pub hardware: String,
    /// Price multiplier in per-mille (1000 = 1.0x). Changeable at run time.
    #[serde(default = "default_coefficient")]
    pub coefficient: u32,
    /// Maximum concurrent requests, over all proxies together.
    #[serde(default = "default_max_active")]
    pub max_active: u32,
    /// Address of the HTTP endpoint with /health, /stats and /earnings (read-only).
    #[serde(default = "default_stats_listen")]
    pub stats_listen: SocketAddr,
    /// Address of the operator's controls (`/admin/*`, with the token in
    /// `<data_dir>/admin-token`). Keep it on loopback. Default: a free loopback port, named
    /// in the start-up log and in `/stats` (`admin`).
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// DEVELOPMENT ONLY: serve proxies on non-loopback addresses under an `any` or `dev`
    /// `proxy_policy`, or local endpoints on non-loopback addresses. Without it such a worker
    /// refuses to start; with it, it warns loudly and `/stats` says so.
    #[serde(default)]
    pub insecure_dev: bool,
    /// The most proof of work (leading zero bits of SHA-256) this node does before TLS with a
    /// proxy; a proxy asking more is refused. Default 26 (a few seconds of one core).
    #[serde(default = "default_max_pow")]
    pub max_pow_difficulty: u8,
    /// How often to check the backend (`GET /v1/models`), in milliseconds.
    #[serde(default = "default_poll_ms")]
    pub backend_poll_ms: u64,
    /// On SIGTERM, how long running requests may take to finish (no new ones are taken)
    /// before the links close, in seconds.
    #[serde(default = "default_drain_secs")]
    pub drain_timeout_secs: u64,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// What this worker presents to proxies.
    #[serde(default)]
    pub attestation: AttestationConfig,
    /// What proxies must prove to this worker.
    #[serde(default = "default_policy")]
    pub proxy_policy: PeerPolicy,
    /// Where the worker keeps its identity key (unless `attestation.key_file` says otherwise)
    /// and the latest payout voucher from each proxy. Without it both live only in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<std::path::PathBuf>,
}

fn default_hardware() -> String {
    "cpu".into()
}
fn default_coefficient() -> u32 {
    1000
}
fn default_max_active() -> u32 {
    16
}
fn default_admin_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}
fn default_stats_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9200))
}
fn default_drain_secs() -> u64 {
    30
}
fn default_poll_ms() -> u64 {
    1000
}
fn default_max_body() -> usize {
    8 * 1024 * 1024
}
pub(crate) fn default_policy() -> PeerPolicy {
    PeerPolicy::new(PolicyKind::Dev)
}

/// Limits on run-time settings.
pub use cocoon_proto::MAX_COEFFICIENT;

impl WorkerConfig {
    /// Checks what serde cannot.
    /// What would leave this worker open (empty: closed): an insecure `proxy_policy` towards
    /// proxies on other machines, or local endpoints on non-loopback addresses.
    pub fn openings(&self, proxies: &[String]) -> Vec<String> {
        use cocoon_transport::exposure::{is_loopback, remote_proxy_open};
        let mut why: Vec<String> = remote_proxy_open(&self.proxy_policy, proxies).into_iter().collect();
        for (name, addr) in [("stats_listen", self.stats_listen), ("admin_listen", self.admin_listen)] {
            if !is_loopback(&addr) {
                why.push(format!("`{name}` {addr} is reachable from other machines"));
            }
        }
        why
    }

    /// Checks values serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        if self.proxies.is_empty() && self.chain.is_none() {
            return Err("worker needs at least one proxy in `proxies`, or a `[chain]` to find them in the root".into());
        }
        if self.model.trim().is_empty() {
            return Err("`model` must not be empty".into());
        }
        if self.max_active == 0 {
            return Err("`max_active` must be at least 1".into());
        }
        if self.coefficient == 0 || self.coefficient > MAX_COEFFICIENT {
            return Err(format!("`coefficient` must be 1..={MAX_COEFFICIENT}"));
        }
        cocoon_proto::HardwareProfile::parse(&self.hardware)?;
        let engines = [self.embedded.is_some(), self.speech.is_some(), self.embedding.is_some()];
        if engines.iter().filter(|&&e| e).count() > 1 {
            return Err("a worker serves one model: one of `[embedded]`, `[speech]` and `[embedding]`".into());
        }
        if !self.features.is_empty() && engines.contains(&true) {
            return Err(format!(
                "`features` ({}) are for an external `backend`; the embedded engines announce their own",
                self.features
            ));
        }
        if let Some(_embedding) = &self.embedding {
            #[cfg(feature = "embedded")]
            return _embedding.validate().map_err(|e| format!("[embedding]: {e}"));
            #[cfg(not(feature = "embedded"))]
            return Err(EMBEDDED_NOT_BUILT.replace("[embedded]", "[embedding]"));
        }
        if let Some(_speech) = &self.speech {
            #[cfg(feature = "speech")]
            return _speech.validate().map_err(|e| format!("[speech]: {e}"));
            #[cfg(not(feature = "speech"))]
            return Err(SPEECH_NOT_BUILT.into());
        }
        match (&self.embedded, &self.backend) {
            #[cfg(feature = "embedded")]
            (Some(engine), _) => engine.validate().map_err(|e| format!("[embedded]: {e}"))?,
            #[cfg(not(feature = "embedded"))]
            (Some(_), _) => return Err(EMBEDDED_NOT_BUILT.into()),
            (None, None) => {
                return Err("`backend` is required (the URL of an OpenAI-compatible server), \
                            or an `[embedded]` table to run a model in-process"
                    .into())
            }
            (None, Some(url)) if !url.starts_with("http://") => {
                return Err(format!("`backend` must be an http:// URL, got {url:?}"));
            }
            (None, Some(url))
                if self.attestation.mode == cocoon_transport::AttestMode::Tdx
                    && !cocoon_transport::is_loopback_host(url) =>
            {
                return Err(format!(
                    "`backend` {url:?} is plaintext HTTP to another machine: under tdx attestation the prompts \
                     must not leave the TEE; run the backend inside the VM (loopback)"
                ));
            }
            (None, Some(_)) => {}
        }
        Ok(())
    }
}

fn default_max_pow() -> u8 {
    cocoon_transport::pow::DEFAULT_MAX_DIFFICULTY
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "proxies = [\"127.0.0.1:8802\"]\nmodel = \"m\"\n";

    #[test]
    fn backend_or_embedded() {
        let c: WorkerConfig = toml::from_str(BASE).unwrap();
        assert!(c.validate().unwrap_err().contains("`backend` is required"));
        let c: WorkerConfig = toml::from_str(&format!("{BASE}backend = \"ftp://x\"\n")).unwrap();
        assert!(c.validate().unwrap_err().contains("http://"));
        let c: WorkerConfig = toml::from_str(&format!("{BASE}backend = \"http://127.0.0.1:8000\"\n")).unwrap();
        c.validate().unwrap();

        let embedded = format!("{BASE}\n[embedded]\nmodel_path = \"m.gguf\"\nparallel = 4\n");
        let c: WorkerConfig = toml::from_str(&embedded).unwrap();
        #[cfg(feature = "embedded")]
        {
            c.validate().unwrap();
            assert_eq!(c.embedded.as_ref().map(|e| (e.parallel, e.context)), Some((4, 2048)));
            let typo = embedded.replace("parallel", "paralel");
            assert!(toml::from_str::<WorkerConfig>(&typo).is_err());
            let bad: WorkerConfig = toml::from_str(&embedded.replace("parallel = 4", "parallel = 0")).unwrap();
            assert!(bad.validate().unwrap_err().contains("[embedded]"));
        }
        #[cfg(not(feature = "embedded"))]
        assert!(c.validate().unwrap_err().contains("cargo feature `embedded`"));
    }

    #[test]
    fn one_engine_per_worker_and_embedding_alone_is_enough() {
        let embedding = format!("{BASE}\n[embedding]\nmodel_path = \"e.gguf\"\ncontext = 512\n");
        let c: WorkerConfig = toml::from_str(&embedding).unwrap();
        #[cfg(feature = "embedded")]
        {
            c.validate().unwrap();
            let bad: WorkerConfig = toml::from_str(&embedding.replace("context = 512", "context = 8")).unwrap();
            assert!(bad.validate().unwrap_err().contains("[embedding]"));
            let features: WorkerConfig =
                toml::from_str(&embedding.replace("model = \"m\"", "model = \"m\"\nfeatures = [\"tools\"]")).unwrap();
            assert!(features.validate().unwrap_err().contains("`features`"));
        }
        #[cfg(not(feature = "embedded"))]
        assert!(c.validate().unwrap_err().contains("[embedding]"));
        let both: WorkerConfig =
            toml::from_str(&format!("{embedding}\n[embedded]\nmodel_path = \"m.gguf\"\n")).unwrap();
        assert!(both.validate().unwrap_err().contains("one of"));
    }

    #[test]
    fn under_tdx_prompts_do_not_leave_the_machine_in_plaintext() {
        let tdx = |backend: &str| {
            let c: WorkerConfig =
                toml::from_str(&format!("{BASE}backend = \"{backend}\"\n\n[attestation]\nmode = \"tdx\"\n")).unwrap();
            c.validate()
        };
        assert!(tdx("http://10.0.0.5:8000").unwrap_err().contains("must not leave the TEE"));
        tdx("http://127.0.0.1:8000").unwrap();
        tdx("http://localhost:8000").unwrap();
        // Dev attestation proves nothing anyway: a remote backend is the operator's business.
        let c: WorkerConfig = toml::from_str(&format!("{BASE}backend = \"http://10.0.0.5:8000\"\n")).unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn open_on_a_public_address_is_named() {
        let c: WorkerConfig = toml::from_str(&format!("{BASE}backend = \"http://127.0.0.1:1\"\n")).unwrap();
        assert!(c.openings(&["127.0.0.1:8802".into()]).is_empty());
        let open = c.openings(&["203.0.113.7:8802".into()]);
        assert!(open.len() == 1 && open[0].contains("proxy_policy"), "{open:?}");
        let c: WorkerConfig =
            toml::from_str(&format!("{BASE}backend = \"http://127.0.0.1:1\"\nadmin_listen = \"0.0.0.0:9201\"\n"))
                .unwrap();
        assert!(c.openings(&["127.0.0.1:8802".into()])[0].contains("admin_listen"));
    }
}
