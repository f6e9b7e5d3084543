/// A display name: trimmed, 1 to [`Name::MAX_CHARS`] characters, no control characters.
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
        assert_eq!(Name::parse("<b>x</b>").unwrap().as_str(), "<b>x</b>");
    }
}
