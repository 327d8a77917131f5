//! Whether a summary is faithful to its source: every number, name and date it states must
//! occur in the source (a model that summarises must not invent facts), and the facts a case
//! lists as essential should be kept. Pure text checks, no I/O, so that `cocoon bench-translate`
//! can score summaries the same way every time.
//!
//! What counts as a fact in the summary:
//! - a number: a run of digits (`14:30` is `14` and `30`; `1,500` is `1` and `500`);
//! - a name: a word that starts with an upper-case letter and is not the first word of a
//!   sentence (in any script with case: Latin, Cyrillic, Greek);
//! - a date word: a month or weekday name (English, Russian, Spanish, Indonesian stems), even
//!   at the start of a sentence.
//!
//! A fact occurs in the source when the source holds it, compared without case (so that a
//! name may start a sentence in the summary and not in the source, or the other way round).
//! Names are compared by their first five letters, so that inflected forms (Russian `Анны` for
//! `Анна`, Indonesian `Jakartanya`) still match their source.

/// Month and weekday stems in the evaluation set's languages, lower case.
const DATE_STEMS: &[&str] = &[
    // English
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    // Russian (stems that cover the cases)
    "январ",
    "феврал",
    "март",
    "апрел",
    "мая",
    "май",
    "июн",
    "июл",
    "август",
    "сентябр",
    "октябр",
    "ноябр",
    "декабр",
    "понедельник",
    "вторник",
    "среда",
    "среду",
    "среды",
    "четверг",
    "пятниц",
    "суббот",
    "воскресень",
    // Spanish
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
    // Indonesian
    "januari",
    "februari",
    "maret",
    "mei",
    "juni",
    "juli",
    "agustus",
    "oktober",
    "desember",
    "senin",
    "selasa",
    "rabu",
    "kamis",
    "jumat",
    "sabtu",
    "minggu",
];

/// Letters of a name compared with the source (inflections change the end of a name).
const NAME_STEM: usize = 5;

/// One fact a summary states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A run of digits.
    Number(String),
    /// A capitalised word inside a sentence.
    Name(String),
    /// A month or weekday word.
    Date(String),
}

impl Fact {
    /// The fact as it was written.
    pub fn text(&self) -> &str {
        match self {
            Fact::Number(s) | Fact::Name(s) | Fact::Date(s) => s,
        }
    }
}

/// What a check of one summary found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Facts of the summary that the source does not hold (empty: faithful).
    pub invented: Vec<String>,
    /// Essential facts of the case that the summary left out.
    pub missing: Vec<String>,
    /// Essential facts of the case.
    pub essential: usize,
}

impl Report {
    /// No fact invented.
    pub fn faithful(&self) -> bool {
        self.invented.is_empty()
    }
}

/// Checks `summary` against its `source` and the case's `essential` facts (strings the summary
/// should contain, compared without case).
pub fn check(source: &str, summary: &str, essential: &[String]) -> Report {
    let source_lower = source.to_lowercase();
    let source_numbers: Vec<String> = numbers(source);
    let source_words: Vec<String> = words(source).into_iter().map(|(w, _)| w.to_lowercase()).collect();
    let mut invented = Vec::new();
    for fact in facts(summary) {
        let held = match &fact {
            Fact::Number(n) => source_numbers.contains(n),
            Fact::Date(d) => date_stem(&d.to_lowercase()).is_some_and(|stem| source_lower.contains(stem)),
            Fact::Name(n) => {
                let stem: String = n.to_lowercase().chars().take(NAME_STEM).collect();
                source_words.iter().any(|w| w.starts_with(&stem))
            }
        };
        if !held && !invented.iter().any(|i: &String| i == fact.text()) {
            invented.push(fact.text().to_string());
        }
    }
    let summary_lower = summary.to_lowercase();
    let missing = essential.iter().filter(|f| !summary_lower.contains(&f.to_lowercase())).cloned().collect();
    Report { invented, missing, essential: essential.len() }
}

/// The numbers, names and date words `text` states, in order.
pub fn facts(text: &str) -> Vec<Fact> {
    let mut out: Vec<Fact> = numbers(text).into_iter().map(Fact::Number).collect();
    for (word, sentence_start) in words(text) {
        let lower = word.to_lowercase();
        if date_stem(&lower).is_some() {
            out.push(Fact::Date(word.to_string()));
        } else if !sentence_start && word.chars().next().is_some_and(char::is_uppercase) {
            out.push(Fact::Name(word.to_string()));
        }
    }
    out
}

/// The date stem `word` (lower case) starts with, if any.
fn date_stem(word: &str) -> Option<&'static str> {
    DATE_STEMS.iter().copied().find(|stem| word.starts_with(stem))
}

/// Every run of ASCII digits in `text`.
fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The words of `text` (runs of letters, with inner apostrophes and hyphens), each with
/// whether it starts a sentence (first word, or first after `.`, `!`, `?`, `:`, or a line
/// break).
fn words(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let inner = (c == '\'' || c == '-' || c == '’')
            && start.is_some()
            && chars.peek().is_some_and(|(_, n)| n.is_alphabetic());
        if c.is_alphabetic() || inner {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            out.push((&text[s..i], sentence_start));
            sentence_start = false;
        }
        if matches!(c, '.' | '!' | '?' | ':' | '\n' | '¿' | '¡') {
            sentence_start = true;
        }
    }
    if let Some(s) = start {
        out.push((&text[s..], sentence_start));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const SOURCE: &str = "The board met on Tuesday, March 3. Anna Petrova said sales grew 12% to 4,500 units, \
                          and the new office in Jakarta opens at 09:30 on Monday.";

    #[test]
    fn a_summary_that_only_repeats_the_source_is_faithful() {
        let summary = "Anna Petrova told the board on Tuesday that sales grew 12% to 4,500 units. \
                       The Jakarta office opens on Monday.";
        let r = check(SOURCE, summary, &strings(&["Anna Petrova", "12%", "Jakarta"]));
        assert!(r.faithful(), "{r:?}");
        assert!(r.missing.is_empty() && r.essential == 3, "{r:?}");
    }

    #[test]
    fn invented_numbers_names_and_dates_are_caught() {
        let summary = "Sales grew 15% under Boris in Jakarta. Friday is the opening, with 4,500 units.";
        let r = check(SOURCE, summary, &strings(&["Anna Petrova", "12%"]));
        assert_eq!(r.invented, strings(&["15", "Boris", "Friday"]), "{r:?}");
        assert_eq!(r.missing, strings(&["Anna Petrova", "12%"]));
        assert!(!r.faithful());
    }

    #[test]
    fn names_match_through_inflection_and_case_and_sentence_starts_are_not_names() {
        let source = "Встреча с Анной Петровой перенесена на пятницу, 14 мая.";
        let summary = "Встречу с Анной перенесли на пятницу 14 мая. Петрова будет.";
        let r = check(source, summary, &[]);
        assert!(r.faithful(), "{r:?}");
        // "Переговоры" starts a sentence: not a name; "Иван" inside one is.
        let r = check(source, "Переговоры с Иваном в пятницу.", &[]);
        assert_eq!(r.invented, strings(&["Иваном"]));
        // A date word counts even at a sentence start.
        let r = check(source, "Четверг: встреча.", &[]);
        assert_eq!(r.invented, strings(&["Четверг"]));
    }

    #[test]
    fn digits_split_on_separators_and_words_keep_inner_hyphens() {
        assert_eq!(numbers("at 09:30, 1,500 and v2"), strings(&["09", "30", "1", "500", "2"]));
        let w = words("Jean-Luc's plan. it's ok! ¿Qué?");
        assert_eq!(w, vec![("Jean-Luc's", true), ("plan", false), ("it's", true), ("ok", false), ("Qué", true)]);
        assert!(facts("").is_empty());
    }
}
