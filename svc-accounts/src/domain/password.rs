/// A new password: at least [`Password::MIN_CHARS`] characters, at most
/// [`Password::MAX_BYTES`] bytes (argon2 would take more, but a cap keeps hashing cheap to
/// refuse). Never trimmed, never shown, never logged.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    /// Shortest accepted password, in characters.
    pub const MIN_CHARS: usize = 10;
    /// Longest accepted password, in bytes.
    pub const MAX_BYTES: usize = 128;

    /// Parses a new password; the error is the inline message.
    pub fn parse(raw: String) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("Choose a password.");
        }
        if raw.len() > Self::MAX_BYTES {
            return Err("Use a password of at most 128 bytes.");
        }
        if raw.chars().count() < Self::MIN_CHARS {
            return Err("Use at least 10 characters for your password.");
        }
        Ok(Self(raw))
    }

    /// The password, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_have_a_minimum_and_a_maximum_length() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("".into()).is_err());
        assert!(Password::parse("0123456789".into()).is_ok());
        assert!(Password::parse("x".repeat(128)).is_ok());
        assert!(Password::parse("x".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("0123456789".into()).unwrap()),
            "Password([redacted])"
        );
    }
}
