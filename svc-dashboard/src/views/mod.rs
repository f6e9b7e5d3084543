//! maud views: small functions returning `Markup`, composed from shared-ui components.
//!
//! - [`overview`]: the `overview` fragment (greeting or signed-out state, live figures).
//! - [`stats`]: the `stats` fragment (figures card and latency table).
//! - [`fallback`]: the static HTML the manifest offers when the service cannot answer.
//! - [`format`]: numbers, durations and clock times for people.
//!
//! Element ids carry a `dashboard-` prefix so they stay unique on a page composed of
//! several teams' fragments; headings start at `h2` because the page owns the `h1`.

pub mod fallback;
pub mod format;
pub mod overview;
pub mod stats;
