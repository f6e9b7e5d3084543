//! Types that cannot hold invalid values: each has private fields and a `parse`
//! constructor, so a handler never sees a plan id, an amount or a billing period as a
//! plain string or number.
//!
//! - [`money`]: [`Money`] in integer minor units with its [`Currency`], formatted for people.
//! - [`plan`]: [`PlanId`] and [`Plan`].
//! - [`billing`]: [`Billing`], the monthly/yearly choice of the `?billing=` query.
//! - [`catalog`]: [`Catalog`], the plans catalogue parsed from TOML, with errors that name
//!   the bad field.

pub mod billing;
pub mod catalog;
pub mod money;
pub mod plan;

pub use billing::Billing;
pub use catalog::{Catalog, CatalogError};
pub use money::{Currency, Money};
pub use plan::{Plan, PlanId};
