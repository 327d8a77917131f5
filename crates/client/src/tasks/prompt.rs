//! Translation and summaries as chat prompts, the way Telegram runs them on Cocoon: requests
//! are built here and model output is parsed here, with no I/O, so that whatever a (small) model
//! answers becomes either a result or a clear per-text error, never a crash.
//!
//! Translation sends each text of a batch as its own chat completion (sent concurrently; small
//! models translate one message far more reliably than a JSON array of them), at temperature 0,
//! asking for the translation alone and keeping HTML, Markdown and emoji as they are.

use super::languages;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Longest text accepted per item, in bytes.
pub const MAX_TEXT: usize = 16 * 1024;
/// Most texts per translation request.
pub const MAX_TEXTS: usize = 64;

/// `POST /v1/tasks/translate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslateRequest {
    /// Target language: a code ("fr") or a name ("French").
    pub to: String,
    /// Source language, if known; when it equals `to`, every text is reported as same-language.
    #[serde(default)]
    pub from: Option<String>,
    /// The texts to translate (1 to [`MAX_TEXTS`]); one that is empty or over [`MAX_TEXT`] bytes gets its own error.
    pub texts: Vec<String>,
    /// Model to use (default: the first model the network offers).
    #[serde(default)]
    pub model: Option<String>,
    /// Output budget per text (default: twice the text's length in bytes, 64 to 2048).
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// `POST /v1/tasks/summarize`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummarizeRequest {
    /// The text to summarize, at most 8 × [`MAX_TEXT`] bytes.
    pub text: String,
    /// Language of the summary (default: the text's own).
    #[serde(default)]
    pub language: Option<String>,
    /// Model to use (default: the first model the network offers).
    #[serde(default)]
    pub model: Option<String>,
    /// Output budget for the summary (default 160).
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// One translated text, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Translation {
    /// The translation, when there is one.
    pub text: Option<String>,
    /// Why this text has no translation.
    pub error: Option<TextError>,
}

/// Why one text of a batch was not translated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextError {
    /// `bad_input`, `same_language`, `malformed_output`, `failed` (its request failed).
    pub code: &'static str,
    /// A human-readable explanation.
    pub message: String,
}

impl Translation {
    fn ok(text: String) -> Self {
        Translation { text: Some(text), error: None }
    }
    fn err(code: &'static str, message: impl Into<String>) -> Self {
        Translation { text: None, error: Some(TextError { code, message: message.into() }) }
    }
}

/// A request-wide problem (HTTP 400).
pub fn check_translate(r: &TranslateRequest) -> Result<(), String> {
    if r.to.trim().is_empty() || r.to.len() > 64 {
        return Err("`to` must name a language (1..64 bytes)".into());
    }
    if r.texts.is_empty() || r.texts.len() > MAX_TEXTS {
        return Err(format!("`texts` must hold 1..={MAX_TEXTS} texts"));
    }
    Ok(())
}

/// What to send to the model: the indices of texts that need translating, and one chat body
/// for each. Texts that are empty, too long or already in the target language get their error
/// here.
pub fn translate_plan(r: &TranslateRequest, model: &str) -> (Vec<Option<Translation>>, Vec<usize>, Vec<Value>) {
    let same = r.from.as_deref().is_some_and(|f| same_language(f, &r.to));
    let mut results: Vec<Option<Translation>> = Vec::with_capacity(r.texts.len());
    let mut todo = Vec::new();
    for (i, t) in r.texts.iter().enumerate() {
        if t.trim().is_empty() {
            results.push(Some(Translation::err("bad_input", "empty text")));
        } else if t.len() > MAX_TEXT {
            results.push(Some(Translation::err("bad_input", format!("text over {MAX_TEXT} bytes"))));
        } else if same {
            results.push(Some(Translation::err("same_language", format!("the text is already in {}", r.to))));
        } else {
            results.push(None);
            todo.push(i);
        }
    }
    let bodies = todo.iter().map(|&i| translate_body(r, model, &r.texts[i])).collect();
    (results, todo, bodies)
}

/// The chat body that translates one text. The text goes as a one-string JSON array, which
/// small models treat as data to translate rather than a message to answer (measured with
/// `cocoon bench-translate`: a plain-text prompt made Qwen2.5 0.5B reply to the messages).
/// Languages are named in English ([`languages::display_name`]), and for the languages listed
/// there two example turns come first (few-shot): the system prompt and the examples depend
/// only on the languages, so the engine's prompt-prefix cache computes them once. The system
/// prompt asks for natural, everyday language and for the meaning rather than the words
/// (measured with the default model: en-ru chrF 58 -> 63, every other direction level or up).
fn translate_body(r: &TranslateRequest, model: &str, text: &str) -> Value {
    let to = languages::display_name(&r.to);
    let from = r.from.as_deref().map(|f| format!(" from {}", languages::display_name(f))).unwrap_or_default();
    let system = format!(
        "You are a professional translator of chat messages. Translate every string of the JSON array the user \
         sends{from} into natural, everyday {to}, as a native speaker would write it in a chat: the meaning, not \
         word by word. Keep HTML tags, Markdown, emoji, links, numbers and placeholders exactly as they are. \
         Answer with only a JSON array of 1 string, the translation, and nothing else."
    );
    let as_array = |t: &str| serde_json::to_string(&[t]).unwrap_or_default();
    let mut messages = vec![json!({"role": "system", "content": system})];
    // Examples only when the source language is not pinned to another one than theirs.
    if r.from.is_none() {
        for (source, translation) in languages::examples_into(&r.to) {
            messages.push(json!({"role": "user", "content": as_array(source)}));
            messages.push(json!({"role": "assistant", "content": as_array(translation)}));
        }
    }
    let input = as_array(text);
    let budget = r.max_tokens.unwrap_or(default_budget(&input));
    messages.push(json!({"role": "user", "content": input}));
    json!({"model": model, "temperature": 0, "max_tokens": budget, "messages": messages})
}

/// Fills in the model's answers, one per text sent (`None`: that request failed, with why):
/// the translation alone (plain, fenced, quoted or as a one-string JSON array), else a
/// per-text error.
pub fn translate_finish(
    mut results: Vec<Option<Translation>>,
    todo: &[usize],
    sent: &[String],
    answers: &[Result<String, String>],
) -> Vec<Translation> {
    for (&i, answer) in todo.iter().zip(answers) {
        let source = sent.get(i).map(String::as_str).unwrap_or_default();
        results[i] = Some(match answer {
            Err(why) => Translation::err("failed", why.clone()),
            Ok(answer) => one_answer(answer, source),
        });
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Translation::err("malformed_output", "no answer"))).collect()
}

/// One text's translation in the model's answer, or why there is none.
fn one_answer(answer: &str, source: &str) -> Translation {
    let text = parse_string_array(answer)
        .filter(|a| a.len() == 1)
        .and_then(|mut a| a.pop())
        .or_else(|| plain_answer(answer, source));
    match text {
        None => {
            let snippet: String = answer.chars().take(200).collect();
            Translation::err("malformed_output", format!("the model answered no translation: {snippet:?}"))
        }
        Some(t) if t.trim().is_empty() => Translation::err("malformed_output", "the model answered an empty string"),
        Some(t) if t.trim() == source.trim() && source.chars().any(char::is_alphabetic) => Translation::err(
            "same_language",
            "the model returned the text unchanged: it is probably already in the target language",
        ),
        Some(t) => Translation::ok(t),
    }
}

/// The chat body for a summary of 2-3 sentences.
pub fn summarize_body(r: &SummarizeRequest, model: &str) -> Result<Value, String> {
    if r.text.trim().is_empty() {
        return Err("`text` is empty".into());
    }
    if r.text.len() > 8 * MAX_TEXT {
        return Err(format!("`text` is over {} bytes", 8 * MAX_TEXT));
    }
    let lang = match r.language.as_deref() {
        Some(l) => format!("Write it in {l}."),
        None => "Write it in the language of the text.".to_string(),
    };
    // Faithfulness first (checked by `cocoon bench-translate`'s summary cases): only what the
    // text states, with its names, numbers, dates and times as written.
    let system = format!(
        "You summarize texts. Answer with a summary of the user's text in 2 to 3 sentences, and nothing else. \
         State only facts the text states; keep names, numbers, dates and times exactly as written. {lang}"
    );
    Ok(chat_body(model, &system, &r.text, r.max_tokens.unwrap_or(160)))
}

/// The summary in the model's answer, trimmed; `None` when there is none.
pub fn summary_of(answer: &str) -> Option<String> {
    let s = answer.trim().trim_start_matches("Summary:").trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn chat_body(model: &str, system: &str, user: &str, max_tokens: u32) -> Value {
    json!({
        "model": model,
        "temperature": 0,
        "max_tokens": max_tokens,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
    })
}

/// Room for one translation: about twice the input's bytes, within sane bounds.
fn default_budget(input: &str) -> u32 {
    (input.len() as u32).saturating_mul(2).clamp(64, 2048)
}

fn same_language(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().to_ascii_lowercase();
    norm(a) == norm(b)
}

/// The first JSON array of strings in `s` (models like to wrap answers in prose or ``` fences).
fn parse_string_array(s: &str) -> Option<Vec<String>> {
    let start = s.find('[')?;
    let end = s.rfind(']')?;
    if end < start {
        return None;
    }
    serde_json::from_str::<Vec<String>>(&s[start..=end]).ok()
}

/// A one-text translation answered as plain text instead of a JSON array (small models often
/// do): the text without code fences or surrounding quotes, unless it rambles (many times the
/// source's length, or several paragraphs where the source had one).
fn plain_answer(answer: &str, source: &str) -> Option<String> {
    let mut t = answer.trim();
    if let Some(inner) = t.strip_prefix("```").and_then(|r| r.strip_suffix("```")) {
        t = inner.split_once('\n').map_or(inner, |(_, body)| body).trim();
    }
    if t.len() >= 2 && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('«') && t.ends_with('»'))) {
        let mut chars = t.chars();
        chars.next();
        chars.next_back();
        t = chars.as_str().trim();
    }
    let rambles = t.len() > 4 * source.len() + 64 || (t.contains("\n\n") && !source.contains("\n\n"));
    (!t.is_empty() && !t.starts_with('[') && !rambles).then(|| t.to_string())
}

/// The assistant text of a chat completion response.
pub fn answer_text(response: &Value) -> Option<&str> {
    response.pointer("/choices/0/message/content").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(texts: &[&str]) -> TranslateRequest {
        TranslateRequest {
            to: "fr".into(),
            from: None,
            texts: texts.iter().map(|s| s.to_string()).collect(),
            model: None,
            max_tokens: None,
        }
    }

    fn ok(s: &str) -> Result<String, String> {
        Ok(s.to_string())
    }

    #[test]
    fn each_text_goes_out_alone_and_comes_back_in_order() {
        let r = req(&["Hello <b>world</b> 👋", "", "Good night"]);
        let (results, todo, bodies) = translate_plan(&r, "m");
        assert_eq!(todo, vec![0, 2]);
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0]["temperature"], 0);
        let messages = bodies[0]["messages"].as_array().unwrap();
        let user = messages.last().unwrap()["content"].as_str().unwrap();
        assert_eq!(serde_json::from_str::<Vec<String>>(user).unwrap(), vec!["Hello <b>world</b> 👋"]);
        // "fr" is named in English, with two example turns before the text.
        assert!(messages[0]["content"].as_str().unwrap().contains("into natural, everyday French,"));
        let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user", "assistant", "user"]);
        let prefix = |b: &Value| b["messages"].as_array().unwrap()[..5].to_vec();
        assert_eq!(prefix(&bodies[0]), prefix(&bodies[1]), "one cacheable prefix per language");
        // A language without examples: named as given, no examples.
        let mut r = req(&["Hello"]);
        r.to = "Klingon".into();
        let (_, _, bodies) = translate_plan(&r, "m");
        assert!(bodies[0]["messages"][0]["content"].as_str().unwrap().contains("everyday Klingon,"));
        assert_eq!(bodies[0]["messages"].as_array().unwrap().len(), 2);
        let out = translate_finish(results, &todo, &r.texts, &[ok("Bonjour <b>monde</b> 👋"), ok("[\"Bonne nuit\"]")]);
        assert_eq!(out[0].text.as_deref(), Some("Bonjour <b>monde</b> 👋"));
        assert_eq!(out[1].error.as_ref().map(|e| e.code), Some("bad_input"));
        assert_eq!(out[2].text.as_deref(), Some("Bonne nuit"));
    }

    #[test]
    fn bad_answers_are_per_text_errors() {
        let r = req(&["one", "two"]);
        let (results, todo, _) = translate_plan(&r, "m");
        let essay = "Here is a long explanation of numbers in French. ".repeat(5);
        let out = translate_finish(results, &todo, &r.texts, &[ok(&essay), Err("proxy_failed".into())]);
        assert_eq!(out[0].error.as_ref().unwrap().code, "malformed_output");
        assert_eq!(out[1].error.as_ref().unwrap().code, "failed");
    }

    #[test]
    fn an_answer_may_be_plain_fenced_or_quoted() {
        let r = req(&["Good morning"]);
        let (results, todo, _) = translate_plan(&r, "m");
        for answer in ["Bonjour", "  \"Bonjour\"\n", "```\nBonjour\n```", "«Bonjour»", "[\"Bonjour\"]"] {
            let out = translate_finish(results.clone(), &todo, &r.texts, &[ok(answer)]);
            assert_eq!(out[0].text.as_deref(), Some("Bonjour"), "{answer:?}");
        }
        // Unchanged or empty answers are still errors.
        let out = translate_finish(results.clone(), &todo, &r.texts, &[ok("Good morning")]);
        assert_eq!(out[0].error.as_ref().unwrap().code, "same_language");
        let out = translate_finish(results, &todo, &r.texts, &[ok("  ")]);
        assert_eq!(out[0].error.as_ref().unwrap().code, "malformed_output");
    }

    #[test]
    fn same_language_is_reported() {
        let mut r = req(&["Bonjour"]);
        r.from = Some("FR".into());
        let (results, todo, bodies) = translate_plan(&r, "m");
        assert!(todo.is_empty() && bodies.is_empty());
        assert_eq!(results[0].as_ref().unwrap().error.as_ref().unwrap().code, "same_language");
    }

    #[test]
    fn request_checks() {
        assert!(check_translate(&req(&[])).is_err());
        let mut r = req(&["x"]);
        r.to = " ".into();
        assert!(check_translate(&r).is_err());
        assert!(summarize_body(
            &SummarizeRequest { text: " ".into(), language: None, model: None, max_tokens: None },
            "m"
        )
        .is_err());
        assert_eq!(summary_of("  Summary: It rained.  "), Some("It rained.".into()));
        assert_eq!(summary_of("  "), None);
    }

    proptest! {
        #[test]
        fn any_model_output_gives_one_result_per_text(answer in ".{0,300}", n in 1usize..5) {
            let texts: Vec<String> = (0..n).map(|i| format!("text {i}")).collect();
            let r = TranslateRequest { to: "de".into(), from: None, texts: texts.clone(), model: None, max_tokens: None };
            let (results, todo, _) = translate_plan(&r, "m");
            let answers: Vec<Result<String, String>> = todo.iter().map(|_| Ok(answer.clone())).collect();
            let out = translate_finish(results, &todo, &texts, &answers);
            prop_assert_eq!(out.len(), n);
            prop_assert!(out.iter().all(|t| t.text.is_some() != t.error.is_some()));
        }
    }
}
