//! The manifest's JSON Schema, derived from the serde types of [`super::Manifest`] with
//! `schemars`, so that a field added to the types is in the schema at once.
//!
//! The schema is published as `docs/manifest.schema.json` for teams in any language; a test
//! here fails when the committed file differs from [`manifest_schema`]
//! (`MOSAIC_WRITE_SCHEMA=1 cargo test -p shared-ui schema` writes it), and
//! `tests/tests/contract.rs` validates every service's live manifest against it. The
//! patterns below state the rules of [`super::Manifest::validate`] in ECMA-262 regular
//! expressions; `validate` remains the authority (it also checks that ids are unique).

/// A name of the contract ([`super::is_name`]): 1 to 40 of `a-z0-9-`, starting with a letter.
pub const NAME_PATTERN: &str = "^[a-z][a-z0-9-]{0,39}$";

/// A Stimulus identifier: 1 to 60 of `a-z0-9-`, starting with a letter.
pub const IDENTIFIER_PATTERN: &str = "^[a-z][a-z0-9-]{0,59}$";

/// A manifest version: 1 to 64 printable ASCII characters, no spaces.
pub const VERSION_PATTERN: &str = "^[!-~]{1,64}$";

/// A title that is not only whitespace.
pub const NOT_BLANK_PATTERN: &str = "\\S";

/// A safe path ([`super::is_safe_path`]) that is not `/metrics`: `/`, or segments of
/// `A-Za-z0-9._~-` none of which is `.` or `..` (the length, at most 200, is `maxLength`).
pub const SAFE_PATH_PATTERN: &str = "^(?!/metrics$)(?:/|(?:/(?!\\.\\.?(?:/|$))[A-Za-z0-9._~-]+)+)$";

/// An asset URL ([`super::is_asset_url`]): a safe path, optionally followed by `?v=` and 16
/// lowercase hex digits, its content hash (the length, at most 219, is `maxLength`).
pub const ASSET_URL_PATTERN: &str =
    "^(?!/metrics(?:\\?|$))(?:/|(?:/(?!\\.\\.?(?:/|\\?|$))[A-Za-z0-9._~-]+)+)(?:\\?v=[0-9a-f]{16})?$";

/// The JSON Schema (2020-12) of a manifest.
pub fn manifest_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(super::Manifest))
        .expect("a schema always serialises");
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$comment".to_owned(),
            "Generated from shared_ui::contract::Manifest; the rules: docs/CONTRACT.md".into(),
        );
    }
    schema
}

/// The schema as committed: pretty JSON and a final newline.
pub fn manifest_schema_text() -> String {
    let mut text =
        serde_json::to_string_pretty(&manifest_schema()).expect("a schema always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/manifest.schema.json")
    }

    #[test]
    fn the_committed_schema_is_the_generated_one() {
        let generated = manifest_schema_text();
        let path = committed_path();
        if std::env::var_os("MOSAIC_WRITE_SCHEMA").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/manifest.schema.json is not the schema of the manifest types; \
             write it again with MOSAIC_WRITE_SCHEMA=1 cargo test -p shared-ui schema"
        );
    }

    #[test]
    fn the_schema_carries_the_limits() {
        let schema = manifest_schema();
        let fragment = &schema["$defs"]["FragmentSpec"]["properties"];
        assert_eq!(fragment["title"]["maxLength"], 100);
        assert_eq!(
            fragment["fallback"]["maxLength"],
            super::super::MAX_FALLBACK_BYTES
        );
        assert_eq!(fragment["path"]["pattern"], SAFE_PATH_PATTERN);
        assert_eq!(schema["properties"]["fragments"]["minItems"], 1);
        assert_eq!(
            schema["properties"]["actions"]["items"]["pattern"],
            SAFE_PATH_PATTERN
        );
    }
}
