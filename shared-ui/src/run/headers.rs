//! Header names of the fragment contract (`docs/DESIGN.md`), so that the shell and the services
//! spell them the same way.

/// The request id, accepted from the caller or made, echoed on every response and put in
/// every log line of the request.
pub const REQUEST_ID: &str = "x-request-id";
/// The public base path under which the shell serves a service (e.g. `/svc/accounts`). A
/// fragment prefixes its own links, form actions and asset URLs with it.
pub const BASE_PATH: &str = "x-mf-base-path";
/// The signed-in user's context, signed by the shell (see [`crate::context`]).
pub const USER_CONTEXT: &str = "x-mf-user";
/// Sent on every fragment answer: the manifest version, so that the shell notices a redeploy.
pub const FRAGMENT_VERSION: &str = "x-fragment-version";
/// Set by the shell's browser loader on its fetches: the answer may be a bare fragment.
pub const LOADER: &str = "x-mf-loader";
/// The session service's cookie: svc-accounts sets it, the shell reads its token for the
/// session lookup (`docs/DESIGN.md#sessions`).
pub const SESSION_COOKIE: &str = "mf_session";
