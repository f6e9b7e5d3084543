//! Types that cannot hold invalid values: every field of a form is parsed into one of these
//! before it reaches storage, and each parse error is the message the form shows inline.

mod email;
mod name;
mod password;
mod plan;

pub use email::Email;
pub use name::Name;
pub use password::Password;
pub use plan::{Plan, PlanList};

/// An account as the views and the user context see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// Display name (user input: maud escapes it).
    pub name: String,
    /// Normalised (lowercase) email.
    pub email: String,
    /// Plan id.
    pub plan: String,
    /// When the account was created (Unix seconds).
    pub created_at: i64,
    /// When its name or plan last changed (Unix seconds; the creation time until then).
    pub updated_at: i64,
}

impl Account {
    /// The context the other teams see.
    pub fn context(&self) -> shared_ui::context::UserContext {
        shared_ui::context::UserContext {
            id: self.id,
            name: self.name.clone(),
            plan: self.plan.clone(),
            since: u64::try_from(self.created_at).ok(),
            changed: u64::try_from(self.updated_at)
                .ok()
                .filter(|_| self.updated_at > self.created_at),
        }
    }
}
