//! Properties (proptest) of every parser of untrusted input, beside the fuzz targets in
//! `fuzz/` (which look for panics and broken invariants on arbitrary bytes): the proxy's
//! path check, the manifest parser, the signed-context verifier, svc-accounts' form reader
//! and fields, and the shell's settings (`SHELL_SERVICES`, trusted proxies). Each property
//! generates inputs of the shape it speaks about, so a rule is checked far past the handful
//! of examples of the unit tests. The regression inputs the fuzzers found are at the end.

use std::net::{IpAddr, Ipv4Addr};

use actix_web::http::header::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use shared_ui::context::{ContextKey, UserContext, DEFAULT_TTL};
use shared_ui::contract::{is_safe_path, FragmentSpec, Manifest, ManifestAssets, ServiceUrl};
use shared_ui::proxies::TrustedProxies;
use shared_ui::settings::Secret;
use shell::proxy::{is_site_path, parse_target, Target};
use shell::settings::{parse_pairs, valid_name};
use svc_accounts::domain::{Email, Name};
use svc_accounts::routes::form;

/// A contract name: a letter, then up to 39 of a-z, 0-9 and `-`.
fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,39}"
}

/// A path segment that is not `.` or `..`.
fn segment() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_~-][A-Za-z0-9_~.-]{0,15}"
}

/// A safe service-relative path: 1 to 5 plain segments.
fn safe_path() -> impl Strategy<Value = String> {
    prop::collection::vec(segment(), 1..5).prop_map(|s| format!("/{}", s.join("/")))
}

/// Something that makes a path unsafe.
fn poison() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "..",
        ".",
        "",
        "%2e%2e",
        "%2f",
        "a%00",
        "a\\b",
        "user@evil",
        "http:",
        "a?b",
        "a#b",
        "a b",
        "caf\u{e9}",
        "\u{0}",
        "a\tb",
    ])
}

proptest! {
    #[test]
    fn a_path_of_plain_segments_is_safe_and_passes_the_proxy(svc in name(), path in safe_path()) {
        prop_assert!(is_safe_path(&path));
        let raw = format!("/svc/{svc}{path}");
        prop_assert_eq!(
            parse_target(&raw),
            Ok(Target { service: svc.as_str(), path: path.as_str() })
        );
    }

    #[test]
    fn one_poisoned_segment_anywhere_makes_the_proxy_refuse(
        svc in name(),
        before in prop::collection::vec(segment(), 0..3),
        bad in poison(),
        after in prop::collection::vec(segment(), 0..3),
    ) {
        let mut segments = before;
        segments.push(bad.to_owned());
        segments.extend(after);
        let path = format!("/{}", segments.join("/"));
        // `/` alone is the one safe path with an empty segment (and the proxy refuses it).
        prop_assume!(path != "/");
        prop_assert!(!is_safe_path(&path), "{:?}", path);
        prop_assert!(parse_target(&format!("/svc/{svc}{path}")).is_err(), "{:?}", path);
    }

    #[test]
    fn whatever_the_proxy_accepts_is_a_plain_path_of_one_service(raw in "/svc/[ -~]{0,60}") {
        if let Ok(t) = parse_target(&raw) {
            prop_assert!(valid_name(t.service));
            prop_assert!(is_safe_path(t.path));
            prop_assert_eq!(format!("/svc/{}{}", t.service, t.path), raw.clone());
        }
    }

    #[test]
    fn a_location_that_passes_is_a_path_on_this_site(loc in prop::collection::vec(any::<u8>(), 0..40)) {
        if is_site_path(&loc) {
            prop_assert_eq!(loc[0], b'/');
            prop_assert!(!matches!(loc.get(1), Some(b'/' | b'\\')));
            prop_assert!(loc.iter().all(|b| b.is_ascii_graphic() && *b != b'\\'));
        }
    }

    #[test]
    fn a_valid_manifest_round_trips_and_a_bad_path_is_named(
        svc in name(),
        version in "[!-~]{1,64}",
        ids in prop::collection::btree_set(name(), 1..5),
        paths in prop::collection::vec(safe_path(), 5),
        titles in prop::collection::vec("[A-Za-z][A-Za-z ]{0,30}", 5),
        fallback in prop::option::of("[ -~]{0,100}"),
        bad in poison(),
        which in 0usize..5,
    ) {
        let fragments: Vec<FragmentSpec> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| FragmentSpec {
                fallback: fallback.clone(),
                ..FragmentSpec::new(id.clone(), paths[i].clone(), titles[i].clone())
            })
            .collect();
        let manifest = Manifest {
            name: svc,
            version,
            fragments,
            assets: ManifestAssets { css: vec![paths[4].clone()], controllers: vec![] },
            actions: paths[..2].to_vec(),
        };
        let json = serde_json::to_vec(&manifest).unwrap();
        prop_assert_eq!(Manifest::parse(&json).unwrap(), manifest.clone());

        let mut broken = manifest.clone();
        let i = which % broken.fragments.len();
        broken.fragments[i].path = format!("{}/{bad}", broken.fragments[i].path);
        let err = Manifest::parse(&serde_json::to_vec(&broken).unwrap()).unwrap_err();
        prop_assert_eq!(err.field, format!("fragments[{i}].path"));
    }

    #[test]
    fn a_signed_context_verifies_only_with_its_key_and_untouched(
        id in any::<i64>(),
        user_name in any::<String>(),
        plan in "[a-z]{0,12}",
        at in any::<prop::sample::Index>(),
        junk in "[A-Za-z0-9_.-]{0,120}",
    ) {
        let key = ContextKey::new(Secret::new("property-secret-0123456789".into()));
        let other = ContextKey::new(Secret::new("property-secret-9876543210".into()));
        let user = UserContext {
            id,
            name: user_name,
            plan,
            since: None,
            changed: None,
        };
        let signed = key.sign(&user, DEFAULT_TTL);
        prop_assert_eq!(key.verify(&signed), Some(user.clone()));
        prop_assert_eq!(other.verify(&signed), None);
        // One changed character: either nothing, or (base64's slack bits) the same user.
        let mut bytes = signed.clone().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
        let tampered = String::from_utf8(bytes).unwrap();
        if let Some(got) = key.verify(&tampered) {
            prop_assert_eq!(got, user);
        }
        prop_assert_eq!(key.verify(&junk), None);
    }

    #[test]
    fn a_form_reads_back_the_first_value_of_each_field_percent_encoded_or_not(
        fields in prop::collection::vec(("[a-z_]{1,10}", any::<String>()), 0..6),
        plus in any::<bool>(),
    ) {
        let encode = |s: &str| {
            let e = percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
            if plus { e.replace("%20", "+") } else { e }
        };
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        let parsed = form::parse(body.join("&").as_bytes()).unwrap();
        for (k, _) in &fields {
            let first = &fields.iter().find(|(k2, _)| k2 == k).unwrap().1;
            prop_assert_eq!(parsed.get(k), first.as_str());
        }
    }

    #[test]
    fn a_form_with_bytes_that_are_not_utf8_is_refused(
        prefix in "[a-z]{1,5}=[a-z]{0,5}&",
        bad in prop::sample::select(vec!["%FF", "%C3%28", "%E2%82", "%80", "\u{0}%FE"]),
    ) {
        let body = format!("{}name={}", prefix, bad);
        prop_assert!(form::parse(body.as_bytes()).is_err());
    }

    #[test]
    fn an_accepted_email_is_normalised_and_parses_to_itself(
        raw in prop_oneof![
            "[ -~]{0,80}",
            "[A-Za-z0-9.+-]{1,20}@[A-Za-z0-9-]{1,10}\\.[A-Za-z]{2,6}",
            // Compatibility characters whose NFKC form is longer (`U+3389` is `kcal`).
            "[a-z\u{3389}\u{fb03}]{1,20}@([a-z\u{3389}\u{fb03}\u{ff41}]{1,15}\\.){1,7}[a-z]{2,4}",
            "[a-z]{1,5}@(\u{3389}{5,15}\\.){3,6}com",
        ]
    ) {
        if let Ok(email) = Email::parse(&raw) {
            let s = email.as_str();
            prop_assert!(s.is_ascii() && s.len() <= Email::MAX_BYTES);
            prop_assert_eq!(s, s.to_ascii_lowercase());
            prop_assert_eq!(Email::parse(s).unwrap(), email.clone());
        }
    }

    #[test]
    fn an_accepted_name_is_trimmed_bounded_and_parses_to_itself(
        raw in prop_oneof![
            any::<String>(),
            // Letters whose NFC form is longer than they are, among plain ones.
            "[a-zA-Z \u{e9}\u{344}\u{fb2c}\u{f73}\u{1d15e}]{1,140}",
        ]
    ) {
        if let Ok(n) = Name::parse(&raw) {
            let s = n.as_str();
            prop_assert!(!s.is_empty() && s.trim() == s);
            prop_assert!(s.chars().count() <= Name::MAX_CHARS);
            prop_assert!(!s.chars().any(char::is_control));
            let again = Name::parse(s).unwrap();
            prop_assert_eq!(again.as_str(), s);
        }
    }

    #[test]
    fn service_pairs_round_trip_and_their_urls_are_http(
        pairs in prop::collection::vec((name(), "[a-z][a-z0-9-]{0,20}(\\.[a-z]{2,5})?", 1u16..65535), 1..5),
        https in any::<bool>(),
        slash in any::<bool>(),
    ) {
        let scheme = if https { "https" } else { "http" };
        let text: Vec<String> = pairs
            .iter()
            .map(|(n, host, port)| format!(" {n} = {scheme}://{host}:{port}{} ", if slash { "/" } else { "" }))
            .collect();
        let parsed = parse_pairs(&text.join(",")).unwrap();
        prop_assert_eq!(parsed.len(), pairs.len());
        for ((n, url), (name, host, _)) in parsed.iter().zip(&pairs) {
            prop_assert_eq!(n, name);
            let kept = url.parse::<ServiceUrl>().unwrap().into_string();
            prop_assert!(kept.starts_with(&format!("{scheme}://{host}")), "{}", kept);
            prop_assert!(!kept.ends_with('/'));
        }
    }

    #[test]
    fn a_trusted_network_holds_exactly_its_addresses(
        net in any::<u32>(),
        prefix in 0u8..=32,
        probe in any::<u32>(),
    ) {
        let addr = Ipv4Addr::from(net);
        let trusted = TrustedProxies::parse(&[format!("{addr}/{prefix}")]).unwrap();
        prop_assert!(trusted.trusts(IpAddr::V4(addr)));
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        let inside = probe & mask == net & mask;
        prop_assert_eq!(trusted.trusts(IpAddr::V4(Ipv4Addr::from(probe))), inside);
        // Past /32 is refused, naming the setting.
        let err = TrustedProxies::parse(&[format!("{addr}/{}", u32::from(prefix) + 33)]).unwrap_err();
        prop_assert!(err.to_string().contains("TRUSTED_PROXIES"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards(
        peer in any::<u32>(),
        forwarded in "[0-9a-f.:, ]{0,60}",
    ) {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).unwrap();
        let peer = IpAddr::V4(Ipv4Addr::from(peer));
        prop_assume!(!trusted.trusts(peer));
        let mut headers = HeaderMap::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_str(&forwarded).unwrap(),
        );
        prop_assert_eq!(trusted.client_ip(peer, &headers), peer);
    }
}
