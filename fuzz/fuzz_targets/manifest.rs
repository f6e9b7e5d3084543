//! The manifest parser (`shared_ui::contract::Manifest::parse`) on any bytes a service may
//! answer: no panic, and a manifest that parses is valid, round-trips through JSON, and
//! holds only safe service-relative paths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared_ui::contract::{is_safe_path, Manifest};

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = Manifest::parse(data) else {
        return;
    };
    manifest.validate().expect("a parsed manifest validates");
    let json = serde_json::to_vec(&manifest).expect("a manifest serialises");
    assert_eq!(Manifest::parse(&json).expect("it parses again"), manifest);
    for f in &manifest.fragments {
        assert!(is_safe_path(&f.path), "{:?}", f.path);
        assert_eq!(manifest.fragment(&f.id).map(|g| &g.path), Some(&f.path));
    }
    for p in manifest
        .assets
        .css
        .iter()
        .chain(manifest.actions.iter())
        .chain(manifest.assets.controllers.iter().map(|c| &c.module))
    {
        assert!(is_safe_path(p), "{p:?}");
    }
});
