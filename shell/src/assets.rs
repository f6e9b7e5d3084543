//! The shell's own assets (the loader, its stylesheet, the status page's controller),
//! embedded, and their URLs, each carrying its content hash
//! ([`shared_ui::assets::AssetSet::url`]): `/assets/fragment-loader.js?v=<hash>`, answered
//! `immutable`; the plain name still answers, revalidated.
//!
//! Layer: the floor, beside the settings: the views link these URLs, the routes serve them.

use std::sync::OnceLock;

use shared_ui::assets::{Asset, AssetSet};

const LOADER_JS: &[u8] = include_bytes!("../assets/fragment-loader.js");
const SHELL_CSS: &[u8] = include_bytes!("../assets/shell.css");
const STATUS_JS: &[u8] = include_bytes!("../assets/status-refresh.js");

/// Where the shell serves its own assets.
pub const PREFIX: &str = "/assets/";

/// The shell's own assets.
pub fn shell_assets() -> &'static AssetSet {
    static SET: OnceLock<AssetSet> = OnceLock::new();
    SET.get_or_init(|| {
        AssetSet::new(&[
            Asset::revalidated("fragment-loader.js", LOADER_JS),
            Asset::revalidated("shell.css", SHELL_CSS),
            Asset::revalidated("status-refresh.js", STATUS_JS),
        ])
    })
}

/// The URL of one of the shell's assets, with its content hash, made once per name.
fn hashed(name: &'static str, cell: &'static OnceLock<String>) -> &'static str {
    cell.get_or_init(|| shell_assets().url(PREFIX, name))
}

/// The shell's stylesheet.
pub fn shell_css_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    hashed("shell.css", &URL)
}

/// The loader module.
pub fn loader_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    hashed("fragment-loader.js", &URL)
}

/// The status page's controller module.
pub fn status_refresh_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    hashed("status-refresh.js", &URL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_url_carries_the_hash_of_its_bytes() {
        let hash = shared_ui::contract::content_hash(LOADER_JS);
        assert_eq!(loader_url(), format!("/assets/fragment-loader.js?v={hash}"));
        assert!(shell_css_url().starts_with("/assets/shell.css?v="));
        assert!(status_refresh_url().starts_with("/assets/status-refresh.js?v="));
    }
}
