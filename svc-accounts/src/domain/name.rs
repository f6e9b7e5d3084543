use unicode_normalization::UnicodeNormalization;

/// Bidirectional controls, zero-width characters and other invisible formatting: they can
/// make a name display as something it is not (`U+202E` turns `moc.elgoog` around).
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// A display name: trimmed, 1 to [`Name::MAX_CHARS`] characters, no control characters and
/// no invisible formatting characters, in Unicode NFC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Longest accepted name, in characters.
    pub const MAX_CHARS: usize = 100;

    /// Parses a submitted name; the error is the inline message.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("Enter your name.");
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err("Use at most 100 characters for your name.");
        }
        if name.chars().any(char::is_control) {
            return Err("Your name cannot contain control characters.");
        }
        if name.chars().any(is_invisible_format) {
            return Err(
                "Your name cannot contain invisible formatting characters (such as \
                 right-to-left overrides or zero-width spaces).",
            );
        }
        Ok(Self(name.nfc().collect()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"é".repeat(100)).is_ok());
        assert!(Name::parse(&"é".repeat(101)).is_err());
        assert!(Name::parse("A\u{0}da").is_err());
        for bidi in [
            "Ada\u{202E}gnp.exe",
            "A\u{200B}da",
            "\u{2067}Ada",
            "Ada\u{FEFF}",
        ] {
            assert!(Name::parse(bidi).is_err(), "{}", bidi.escape_unicode());
        }
        assert_eq!(Name::parse("Jose\u{301}").unwrap().as_str(), "Jos\u{e9}");
        assert_eq!(Name::parse("<b>x</b>").unwrap().as_str(), "<b>x</b>");
    }
}
