//! The languages the translation prompt knows: their English names (a model understands
//! "Indonesian" far better than "id", which it may read as a word) and two example chat
//! messages in each, shown to the model as earlier turns of the conversation (few-shot), so
//! that it answers in the expected shape and keeps a chat's tone, HTML and emoji.
//!
//! The examples are written in the standard register a chat between adults uses (Indonesian
//! slang examples, "Aku udah kirim", made the default model's Indonesian worse). They are
//! this project's own sentences, not from the evaluation set of `cocoon
//! bench-translate`. A language not listed here is translated without examples, named as the
//! caller wrote it.

/// A language with its two example messages (the same two messages in every language).
#[derive(Debug)]
pub struct Language {
    /// ISO-639-1 code.
    pub code: &'static str,
    /// English name, as the prompt says it.
    pub name: &'static str,
    /// The example messages, in this language.
    pub examples: [&'static str; 2],
}

/// Every language with examples; English first.
pub const LANGUAGES: &[Language] = &[
    Language {
        code: "en",
        name: "English",
        examples: ["Hi! Are we still meeting at the café at 6?", "I sent you the <b>photos</b> from yesterday 📸"],
    },
    Language {
        code: "ru",
        name: "Russian",
        examples: ["Привет! Мы всё ещё встречаемся в кафе в 6?", "Я отправил тебе вчерашние <b>фотографии</b> 📸"],
    },
    Language {
        code: "uk",
        name: "Ukrainian",
        examples: ["Привіт! Ми ще зустрічаємося в кафе о 6?", "Я надіслав тобі вчорашні <b>фотографії</b> 📸"],
    },
    Language {
        code: "es",
        name: "Spanish",
        examples: ["¡Hola! ¿Seguimos quedando en la cafetería a las 6?", "Te mandé las <b>fotos</b> de ayer 📸"],
    },
    Language {
        code: "pt",
        name: "Portuguese",
        examples: ["Oi! Ainda vamos nos encontrar no café às 6?", "Te mandei as <b>fotos</b> de ontem 📸"],
    },
    Language {
        code: "de",
        name: "German",
        examples: ["Hi! Treffen wir uns noch um 6 im Café?", "Ich habe dir die <b>Fotos</b> von gestern geschickt 📸"],
    },
    Language {
        code: "fr",
        name: "French",
        examples: ["Salut ! On se retrouve toujours au café à 6 h ?", "Je t'ai envoyé les <b>photos</b> d'hier 📸"],
    },
    Language {
        code: "it",
        name: "Italian",
        examples: ["Ciao! Ci vediamo ancora al bar alle 6?", "Ti ho mandato le <b>foto</b> di ieri 📸"],
    },
    Language {
        code: "id",
        name: "Indonesian",
        examples: [
            "Hai! Apakah kita masih jadi bertemu di kafe jam 6?",
            "Saya sudah mengirim <b>foto-foto</b> kemarin kepadamu 📸",
        ],
    },
    Language {
        code: "tr",
        name: "Turkish",
        examples: ["Selam! Hâlâ saat 6'da kafede buluşuyor muyuz?", "Sana dünkü <b>fotoğrafları</b> gönderdim 📸"],
    },
];

/// The language `name_or_code` names ("id", "ID", "Indonesian", "indonesian"), if listed.
pub fn find(name_or_code: &str) -> Option<&'static Language> {
    let wanted = name_or_code.trim();
    LANGUAGES.iter().find(|l| l.code.eq_ignore_ascii_case(wanted) || l.name.eq_ignore_ascii_case(wanted))
}

/// How the prompt names the language the caller gave: its English name when listed, else the
/// caller's own words.
pub fn display_name(name_or_code: &str) -> String {
    find(name_or_code).map_or_else(|| name_or_code.trim().to_string(), |l| l.name.to_string())
}

/// The example turns for a translation into `to`: (source message, its translation) pairs.
/// Into English, the sources are in two other languages (Russian and Spanish), so the model
/// sees that any language goes to English; into another listed language, the sources are
/// English. Empty for a language without examples.
pub fn examples_into(to: &str) -> Vec<(&'static str, &'static str)> {
    let Some(target) = find(to) else { return Vec::new() };
    if target.code == "en" {
        let (ru, es) = (find("ru"), find("es"));
        return match (ru, es) {
            (Some(ru), Some(es)) => vec![(ru.examples[0], target.examples[0]), (es.examples[1], target.examples[1])],
            _ => Vec::new(),
        };
    }
    let english = &LANGUAGES[0];
    english.examples.iter().copied().zip(target.examples.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_find_the_same_language() {
        assert_eq!(find("id").map(|l| l.name), Some("Indonesian"));
        assert_eq!(find(" Indonesian ").map(|l| l.code), Some("id"));
        assert_eq!(find("RU").map(|l| l.name), Some("Russian"));
        assert!(find("Klingon").is_none());
        assert_eq!(display_name("es"), "Spanish");
        assert_eq!(display_name("Klingon"), "Klingon");
    }

    #[test]
    fn examples_keep_what_a_translation_must_keep() {
        assert_eq!(LANGUAGES[0].code, "en");
        for l in LANGUAGES {
            // Each example keeps the number, the HTML tag and the emoji of the English one.
            assert!(l.examples[0].contains('6'), "{}", l.code);
            assert!(l.examples[1].contains("<b>") && l.examples[1].contains("</b>"), "{}", l.code);
            assert!(l.examples[1].ends_with('📸'), "{}", l.code);
        }
        let into_ru = examples_into("Russian");
        assert_eq!(into_ru.len(), 2);
        assert_eq!(into_ru[0].0, LANGUAGES[0].examples[0]);
        let into_en = examples_into("en");
        assert!(into_en.iter().all(|(src, dst)| src != dst && LANGUAGES[0].examples.contains(dst)));
        assert!(examples_into("Klingon").is_empty());
    }
}
