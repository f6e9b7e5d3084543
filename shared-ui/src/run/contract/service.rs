//! Who a service is and where it lives, as types that cannot hold a bad value: a
//! [`ServiceName`] (`pricing`) and a [`ServiceUrl`] (`http://127.0.0.1:1313`). The
//! manifest's checks, `shell check` and the shell's settings all parse through them, so the
//! rules and their messages are written once.

use std::fmt;
use std::str::FromStr;

/// The longest name of the contract, in bytes.
pub const MAX_NAME_LEN: usize = 40;

/// Whether `value` is 1 to `max` of a-z, 0-9 and `-`, starting with a letter.
pub(crate) fn is_name_up_to(value: &str, max: usize) -> bool {
    !value.is_empty()
        && value.len() <= max
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `value` is a name of the contract: 1 to 40 of a-z, 0-9 and `-`, starting with a
/// letter. Service names, fragment ids, section ids and slot names all follow this rule.
pub fn is_name(value: &str) -> bool {
    is_name_up_to(value, MAX_NAME_LEN)
}

/// A string that is not a name of the contract ([`is_name`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` must be 1 to 40 of a-z, 0-9 and `-`, starting with a letter", .0.escape_default())]
pub struct NameError(pub String);

/// A service's name (`pricing`): in its manifest, in `/svc/{name}/…` and in the shell's
/// registry. A [name of the contract](is_name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceName(String);

impl ServiceName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name, as a `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl FromStr for ServiceName {
    type Err = NameError;

    fn from_str(value: &str) -> Result<Self, NameError> {
        if is_name(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(NameError(value.to_owned()))
        }
    }
}

impl TryFrom<&str> for ServiceName {
    type Error = NameError;

    fn try_from(value: &str) -> Result<Self, NameError> {
        value.parse()
    }
}

impl TryFrom<String> for ServiceName {
    type Error = NameError;

    fn try_from(value: String) -> Result<Self, NameError> {
        if is_name(&value) {
            Ok(Self(value))
        } else {
            Err(NameError(value))
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ServiceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a string is not a [`ServiceUrl`]; each message quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceUrlError {
    /// It does not parse as a URL.
    #[error("`{raw}` is not a URL: {reason}")]
    NotAUrl {
        /// What was given.
        raw: String,
        /// What the URL parser said.
        reason: url::ParseError,
    },
    /// Its scheme is not http or https.
    #[error("`{0}` must be an http:// or https:// URL")]
    Scheme(String),
    /// It has no host.
    #[error("`{0}` has no host")]
    NoHost(String),
    /// It carries a user name or a password.
    #[error("`{0}` must not carry a user name or password")]
    UserInfo(String),
    /// It has a query or a fragment.
    #[error("`{0}` must not have a query or fragment")]
    QueryOrFragment(String),
}

/// Where a service is reached: an http(s) URL with a host and nothing else that could
/// surprise (no user, query or fragment), kept without its trailing slash
/// (`http://127.0.0.1:1313`), so that `{url}{path}` is the URL of a service-relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrl {
    url: url::Url,
    text: String,
}

impl ServiceUrl {
    /// The URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL, as a `String` without a trailing slash.
    pub fn into_string(self) -> String {
        self.text
    }

    /// Its origin (`https://pricing.example`): scheme, host and port only.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }
}

impl FromStr for ServiceUrl {
    type Err = ServiceUrlError;

    fn from_str(raw: &str) -> Result<Self, ServiceUrlError> {
        let url = url::Url::parse(raw.trim()).map_err(|reason| ServiceUrlError::NotAUrl {
            raw: raw.to_owned(),
            reason,
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ServiceUrlError::Scheme(raw.to_owned()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ServiceUrlError::NoHost(raw.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ServiceUrlError::UserInfo(raw.to_owned()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ServiceUrlError::QueryOrFragment(raw.to_owned()));
        }
        let text = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self { url, text })
    }
}

impl TryFrom<&str> for ServiceUrl {
    type Error = ServiceUrlError;

    fn try_from(raw: &str) -> Result<Self, ServiceUrlError> {
        raw.parse()
    }
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for ServiceUrl {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_follow_the_rule_of_names() {
        for good in ["pricing", "a", "svc-2", &"a".repeat(40)] {
            assert_eq!(good.parse::<ServiceName>().unwrap().as_str(), good);
        }
        for bad in ["", "Pricing", "2fa", "-x", "a_b", "a b", &"a".repeat(41)] {
            let err = bad.parse::<ServiceName>().unwrap_err();
            assert!(err.to_string().contains("must be 1 to 40"), "{bad}: {err}");
        }
        assert!(ServiceName::try_from("x\ny".to_owned())
            .unwrap_err()
            .to_string()
            .contains("x\\ny"));
    }

    #[test]
    fn service_urls_are_http_with_a_host_and_nothing_more() {
        let url: ServiceUrl = " http://127.0.0.1:1313/ ".parse().unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:1313");
        let public: ServiceUrl = "https://Pricing.example/app/".parse().unwrap();
        assert_eq!(public.as_str(), "https://pricing.example/app");
        assert_eq!(public.origin(), "https://pricing.example");
        for (bad, says) in [
            ("not a url", "is not a URL"),
            ("ftp://x", "http:// or https://"),
            ("http://u:p@x", "user name or password"),
            ("http://x/?q", "query or fragment"),
            ("http://x/#f", "query or fragment"),
        ] {
            let err = bad.parse::<ServiceUrl>().unwrap_err().to_string();
            assert!(err.contains(says) && err.contains(bad), "{bad}: {err}");
        }
    }
}
