//! svc-accounts' form body reader (`routes::form::parse`) and its field parsers (`Email`,
//! `Name`, `Password`) on any body: no panic; what parses is normalised (parsing it again
//! gives the same value) and within the documented bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svc_accounts::domain::{Email, Name, Password};
use svc_accounts::routes::form;

fuzz_target!(|data: &[u8]| {
    let Ok(mut parsed) = form::parse(data) else {
        return;
    };
    let email = parsed.take("email");
    let name = parsed.take("name");
    let password = parsed.take("password");
    if let Ok(e) = Email::parse(&email) {
        let s = e.as_str();
        assert!(s.is_ascii() && s.len() <= Email::MAX_BYTES, "{s:?}");
        assert_eq!(s, s.to_ascii_lowercase());
        assert_eq!(s.matches('@').count(), 1, "{s:?}");
        assert_eq!(Email::parse(s).expect("a normalised email parses"), e);
    }
    if let Ok(n) = Name::parse(&name) {
        let s = n.as_str();
        assert!(!s.trim().is_empty(), "{s:?}");
        assert!(!s.chars().any(char::is_control), "{s:?}");
        assert_eq!(Name::parse(s).expect("a parsed name parses").as_str(), s);
    }
    if let Ok(p) = Password::parse(password.clone()) {
        assert_eq!(p.expose(), password);
        assert!(password.len() <= Password::MAX_BYTES);
        assert!(password.chars().count() >= Password::MIN_CHARS);
    }
});
