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
        // Normalised first, then checked: NFC can lengthen a name (`U+FB2C` is three
        // characters in NFC), and what is stored and shown must hold the bounds.
        let name: String = raw.trim().nfc().collect();
        let name = name.trim();
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
        Ok(Self(name.to_owned()))
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

    #[test]
    fn the_bound_holds_for_the_normalised_name() {
        // Found by tests/tests/properties.rs: 100 characters whose NFC form is longer
        // (U+FB2C is three, U+0344 two) were accepted and stored as 300.
        let long = Name::parse(&"\u{FB2C}".repeat(40));
        assert!(long.is_err(), "120 characters once normalised");
        let name = Name::parse(&"\u{344}".repeat(50)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name.as_str().chars().count(), 100);
        assert_eq!(Name::parse(name.as_str()).unwrap(), name);
        assert!(Name::parse(&"\u{344}".repeat(51)).is_err());
        // And a name that NFC shortens to the bound passes.
        assert!(Name::parse(&"e\u{301}".repeat(100)).is_ok());
    }
}
