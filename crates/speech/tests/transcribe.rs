//! Whisper tiny.en on speech made by espeak-ng (needs the `ct2` feature, the model from
//! scripts/fetch-models.sh and espeak-ng; missing, these tests fail with instructions).
#![cfg(feature = "ct2")]

use cocoon_speech::{testing, SpeechConfig, SpeechError, Transcriber, TranscriptionParams};
use std::sync::{Arc, OnceLock};

fn transcriber() -> Arc<Transcriber> {
    static T: OnceLock<Arc<Transcriber>> = OnceLock::new();
    T.get_or_init(|| {
        let dir = testing::test_model().unwrap_or_else(|e| panic!("{e}"));
        Transcriber::load(SpeechConfig { parallel: 4, ..SpeechConfig::new(dir) }).unwrap_or_else(|e| panic!("{e}"))
    })
    .clone()
}

fn params() -> TranscriptionParams {
    TranscriptionParams {
        model: "whisper".into(),
        language: None,
        prompt: None,
        temperature: None,
        filename: Some("x.wav".into()),
    }
}

#[test]
fn espeak_hello_world_is_transcribed_with_usage() {
    let t = transcriber();
    assert_eq!(t.model_sha256(), "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a");
    let wav = testing::speak("hello world this is a test").unwrap_or_else(|e| panic!("{e}"));
    let out = t.transcribe(wav, &params()).unwrap();
    let text = out.text.to_lowercase();
    assert!(text.contains("hello") && text.contains("world"), "{out:?}");
    assert_eq!(out.language, "en");
    assert!(out.duration > 1.0 && out.duration < 10.0, "{}", out.duration);
    assert_eq!(out.segments.len(), 1);
    assert_eq!(out.usage["prompt_tokens"], cocoon_openai::transcription::audio_tokens(out.duration));
    let completion = out.usage["completion_tokens"].as_u64().unwrap();
    assert!((3..40).contains(&completion), "{}", out.usage);
    assert_eq!(t.running(), 0);
}

#[test]
fn bad_uploads_and_requests_are_the_callers_errors() {
    let t = transcriber();
    let e = t.transcribe(b"definitely not audio".to_vec(), &params()).unwrap_err();
    assert!(matches!(e, SpeechError::BadAudio(_)), "{e}");
    let wav = testing::speak("hello").unwrap();
    let e = t.transcribe(wav[..40].to_vec(), &params()).unwrap_err();
    assert!(matches!(e, SpeechError::BadAudio(_)), "{e}");
    let french = TranscriptionParams { language: Some("fr".into()), ..params() };
    let e = t.transcribe(wav.clone(), &french).unwrap_err();
    assert!(matches!(&e, SpeechError::InvalidRequest(m) if m.contains("English only")), "{e}");
    let prompted = TranscriptionParams { prompt: Some("Earlier:".into()), ..params() };
    assert!(matches!(t.transcribe(wav, &prompted), Err(SpeechError::InvalidRequest(_))));
}
