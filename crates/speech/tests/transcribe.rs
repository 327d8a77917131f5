//! Multilingual Whisper base on speech made by espeak-ng in several languages (needs the `ct2`
//! feature, the model from scripts/fetch-models.sh and espeak-ng; missing, these tests fail
//! with instructions).
#![cfg(feature = "ct2")]

use cocoon_speech::{testing, SpeechConfig, SpeechError, Task, Transcriber, TranscriptionParams};
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
        task: Task::Transcribe,
        language: None,
        prompt: None,
        temperature: None,
        filename: Some("x.wav".into()),
    }
}

#[test]
fn espeak_hello_world_is_transcribed_with_usage() {
    let t = transcriber();
    assert_eq!(t.model_sha256(), "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9");
    assert!(t.multilingual() && t.languages().len() == 99, "{:?}", t.languages());
    let wav = testing::speak("hello world this is a test").unwrap_or_else(|e| panic!("{e}"));
    let out = t.transcribe(wav, &params()).unwrap();
    let text = out.text.to_lowercase();
    assert!(text.contains("hello") && text.contains("world"), "{out:?}");
    assert_eq!((out.language.as_str(), out.task.as_str()), ("en", "transcribe"), "detected");
    assert!(out.duration > 1.0 && out.duration < 10.0, "{}", out.duration);
    assert_eq!(out.segments.len(), 1);
    assert_eq!(out.usage["prompt_tokens"], cocoon_openai::transcription::audio_tokens(out.duration));
    let completion = out.usage["completion_tokens"].as_u64().unwrap();
    assert!((3..40).contains(&completion), "{}", out.usage);
}

#[test]
fn bad_uploads_and_requests_are_the_callers_errors() {
    let t = transcriber();
    let e = t.transcribe(b"definitely not audio".to_vec(), &params()).unwrap_err();
    assert!(matches!(e, SpeechError::BadAudio(_)), "{e}");
    let wav = testing::speak("hello").unwrap();
    let e = t.transcribe(wav[..40].to_vec(), &params()).unwrap_err();
    assert!(matches!(e, SpeechError::BadAudio(_)), "{e}");
    let unknown = TranscriptionParams { language: Some("xx".into()), ..params() };
    let e = t.transcribe(wav.clone(), &unknown).unwrap_err();
    assert!(matches!(&e, SpeechError::InvalidRequest(m) if m.contains("99 languages")), "{e}");
    let prompted = TranscriptionParams { prompt: Some("Earlier:".into()), ..params() };
    assert!(matches!(t.transcribe(wav, &prompted), Err(SpeechError::InvalidRequest(_))));
}

/// Spoken by espeak-ng's voice at `wpm` words per minute, as a WAV file.
fn speak(voice: &str, wpm: u32, text: &str) -> Vec<u8> {
    testing::speak_at(voice, wpm, text).unwrap_or_else(|e| panic!("{e}"))
}

fn lower(t: &cocoon_speech::Transcript) -> String {
    t.text.to_lowercase()
}

/// Measured on Whisper base: espeak-ng's Spanish, German and French voices are recognised as
/// such from a sentence or two (its Russian and Indonesian voices are not: they are tested
/// with `language` given).
#[test]
fn the_spoken_language_is_detected_and_reported() {
    let t = transcriber();
    let cases: [(&str, u32, &str, &[&str]); 3] = [
        ("es", 150, "Buenos días a todos. Mañana por la mañana vamos a la playa con mis amigos.", &["playa", "amigos"]),
        ("de", 100, "Guten Morgen. Morgen früh fahren wir mit unseren Freunden ans Meer.", &["morgen", "freunden"]),
        (
            "fr",
            150,
            "Bonjour à tous. Demain matin nous allons à la plage avec nos amis, et le soir nous mangeons au restaurant.",
            &["bonjour", "amis"],
        ),
    ];
    for (voice, wpm, sentence, heard) in cases {
        let out = t.transcribe(speak(voice, wpm, sentence), &params()).unwrap();
        assert_eq!((out.language.as_str(), out.task.as_str()), (voice, "transcribe"), "{out:?}");
        assert!(heard.iter().all(|w| lower(&out).contains(w)), "{voice}: {:?} lacks one of {heard:?}", out.text);
    }
}

#[test]
fn a_given_language_is_the_one_decoded() {
    let t = transcriber();
    // Detection hears espeak-ng's Russian as another language; given `ru`, the text is Russian.
    let russian = speak("ru", 100, "Доброе утро. Завтра утром мы поедем на море с друзьями.");
    let given = TranscriptionParams { language: Some("ru".into()), ..params() };
    let out = t.transcribe(russian, &given).unwrap();
    assert_eq!(out.language, "ru");
    let cyrillic = out.text.chars().filter(|c| ('\u{400}'..='\u{4ff}').contains(c)).count();
    assert!(cyrillic * 2 > out.text.chars().filter(|c| c.is_alphabetic()).count(), "{:?}", out.text);
    let indonesian = speak("id", 120, "Selamat pagi, nama saya Budi dan saya tinggal di Jakarta.");
    let out = t.transcribe(indonesian, &TranscriptionParams { language: Some("id".into()), ..params() }).unwrap();
    assert!(lower(&out).contains("selamat") && lower(&out).contains("jakarta"), "{:?}", out.text);
}

#[test]
fn speech_in_another_language_is_translated_to_english() {
    let t = transcriber();
    let spanish = speak("es", 150, "Buenos días a todos. Mañana por la mañana vamos a la playa con mis amigos.");
    let translate = TranscriptionParams { task: Task::Translate, ..params() };
    let out = t.transcribe(spanish, &translate).unwrap();
    // English text, the spoken language reported.
    assert_eq!((out.task.as_str(), out.language.as_str()), ("translate", "es"), "{out:?}");
    assert!(lower(&out).contains("beach") && lower(&out).contains("friends"), "{:?}", out.text);
    assert!(out.usage["completion_tokens"].as_u64().unwrap() > 5, "{}", out.usage);
}
