//! The signed-context verifier (`shared_ui::context::ContextKey::verify`) on any header
//! value: no panic, nothing unsigned verifies, and a context signed from the input verifies
//! to exactly that user with the right key only (and not once a byte of it changes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_ui::context::{ContextKey, UserContext, DEFAULT_TTL};
use shared_ui::settings::Secret;

fuzz_target!(|data: &[u8]| {
    let key = ContextKey::new(Secret::new("fuzz-context-secret-0123456789".to_owned()));
    let other = ContextKey::new(Secret::new("another-secret-0123456789".to_owned()));
    let text = String::from_utf8_lossy(data);
    // The fuzzer cannot forge HMAC-SHA256: any value it makes up reads as signed out.
    assert_eq!(key.verify(&text), None, "{text:?} verified");

    // A user built from the input, signed, then checked.
    let (id_bytes, rest) = data.split_at(data.len().min(8));
    let mut id = [0u8; 8];
    id[..id_bytes.len()].copy_from_slice(id_bytes);
    let (name, plan) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    let user = UserContext {
        id: i64::from_le_bytes(id),
        name: String::from_utf8_lossy(name).into_owned(),
        plan: String::from_utf8_lossy(plan).into_owned(),
        // The optional dates, present or not by the input's first byte.
        since: (id[0] & 1 == 1).then(|| u64::from_le_bytes(id)),
        changed: (id[0] & 2 == 2).then(|| u64::from(id[1])),
    };
    let signed = key.sign(&user, DEFAULT_TTL);
    assert_eq!(key.verify(&signed), Some(user.clone()));
    assert_eq!(other.verify(&signed), None);
    // Flip one byte of the value (chosen by the input): it no longer verifies.
    if !signed.is_empty() {
        let at = usize::from(data.first().copied().unwrap_or(0)) % signed.len();
        let mut bytes = signed.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).expect("ASCII stays ASCII");
        if tampered != signed {
            // Base64 without padding has slack bits in its last character: a change
            // there can decode to the same bytes, and then it is the same context.
            if let Some(got) = key.verify(&tampered) {
                assert_eq!(got, user, "a tampered value verified as another user");
            }
        }
    }
});
