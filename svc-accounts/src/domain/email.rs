use unicode_normalization::UnicodeNormalization;

/// An email address, normalised (Unicode NFKC, then lowercase, then ASCII only) so that
/// uniqueness ignores letter case, full-width forms and look-alike scripts.
///
/// The check is deliberately plain: one `@`, a non-empty local part of at most 64 bytes
/// without spaces, a domain of dot-separated labels (letters, digits, `-`) with at least one
/// dot, at most 254 bytes in all. It rejects what is surely wrong rather than every
/// RFC 5322 corner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Longest accepted address, in bytes.
    pub const MAX_BYTES: usize = 254;

    /// Parses a submitted address; the error is the inline message.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim();
        if email.is_empty() {
            return Err("Enter your email address.");
        }
        if email.len() > Self::MAX_BYTES {
            return Err("Use an email address of at most 254 characters.");
        }
        // Compatibility forms fold to what they look like (full-width `ａ` is `a`), then
        // only ASCII is accepted: look-alike letters from other scripts (Cyrillic `а`)
        // cannot make a second account that reads the same as someone else's. Domains with
        // other scripts are written in their `xn--` form.
        let email: String = email.nfkc().collect::<String>().to_lowercase();
        // NFKC can lengthen an address (`U+3389` is `kcal`): the bound holds for what is
        // stored.
        if email.len() > Self::MAX_BYTES {
            return Err("Use an email address of at most 254 characters.");
        }
        if !email.is_ascii() {
            return Err(
                "Use the plain ASCII form of your email address (a domain in another script \
                 in its xn-- form).",
            );
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("Enter an email address like name@example.com.");
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err("Enter an email address like name@example.com.");
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa_mple.com",
            "ada@@example.com",
            "<script>@example.com",
            "ada@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        // Full-width forms fold onto the ASCII account; other scripts are refused.
        assert_eq!(
            Email::parse("ＡＤＡ＠ｅｘａｍｐｌｅ．ｃｏｍ")
                .unwrap()
                .as_str(),
            "ada@example.com"
        );
        assert!(Email::parse("\u{430}da@example.com").is_err(), "Cyrillic a");
        assert!(Email::parse("ada@ex\u{430}mple.com").is_err(), "Cyrillic a");
        assert!(Email::parse("ada@xn--exmple-4nf.com").is_ok());
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(63));
        assert!(Email::parse(&long).is_ok());
        let too_long = format!("a@{}.com", "b.".repeat(130));
        assert!(Email::parse(&too_long).is_err());
    }

    #[test]
    fn the_bound_holds_for_the_normalised_address() {
        // Found by tests/tests/properties.rs: 235 bytes of `U+3389` (`kcal` in NFKC) were
        // accepted and stored as a 310-byte address.
        let raw = format!("a@{}com", format!("{}.", "\u{3389}".repeat(15)).repeat(5));
        assert_eq!(raw.len(), 235);
        assert!(Email::parse(&raw).is_err());
        let fits = format!("a@{}com", format!("{}.", "\u{3389}".repeat(15)).repeat(4));
        let email = Email::parse(&fits).unwrap();
        assert_eq!(email.as_str().len(), 249);
        assert_eq!(Email::parse(email.as_str()).unwrap(), email);
    }
}
