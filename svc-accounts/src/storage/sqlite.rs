//! The SQLite backend: one file in WAL mode.
//!
//! Durability: `synchronous=FULL`, so every commit is on disk (the WAL is fsynced) before
//! the call returns; an account is committed before its success answer is sent, and a
//! `kill -9` or a power cut right after the answer loses nothing. (WAL with
//! `synchronous=NORMAL` would survive a process kill but not a power cut; the extra fsync
//! per sign-up is cheap next to argon2.)
//!
//! Connections: one writer behind a mutex (writes are serialised in the process, so they
//! never race for SQLite's write lock), a few readers (WAL lets them read while the writer
//! writes), and one for `/readyz`. Every method blocks: async callers go through
//! `web::block`. `busy_timeout` covers another process holding the file.
//!
//! The SQLite scripts of [`MIGRATIONS`] run in order; `PRAGMA user_version` records how
//! many have run, each runs in its own transaction at start.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use crate::domain::Account;
use crate::security::session::TokenHash;

use super::{
    now_secs, CreateAccountError, Credentials, LinkPurpose, NewAccount, NewLink, NewSession,
    PasswordReset, ProfileUpdate, StorageError, MIGRATIONS,
};

const READERS: usize = 3;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite database. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStorage {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    health: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding a connection leaves it usable: SQLite rolls back an open
    // transaction when the next one begins.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode stayed {mode}, WAL is required"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StorageError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > MIGRATIONS.len() as i64 || version < 0 {
            return Err(StorageError::NewerSchema {
                database: path.display().to_string(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        let Some(migration) = MIGRATIONS.get(version as usize) else {
            return Ok(());
        };
        tx.execute_batch(migration.sqlite)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(
            version = version + 1,
            migration = migration.name,
            "applied database migration"
        );
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == ErrorCode::ConstraintViolation
            && f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

fn account_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        email: row.get(2)?,
        plan: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path`, its folder included, and applies
    /// the migrations. Every error names the path.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StorageError::CreateFolder {
                path: path.to_owned(),
                source,
            })?;
        }
        let open = |p: &Path| {
            open_connection(p).map_err(|source| StorageError::Open {
                path: path.to_owned(),
                source,
            })
        };
        let mut writer = open(path)?;
        migrate(&mut writer, path).map_err(|e| match e {
            StorageError::Query(source) => StorageError::Open {
                path: path.to_owned(),
                source,
            },
            other => other,
        })?;
        let readers = (0..READERS)
            .map(|_| open(path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let health = open(path)?;
        health
            .busy_timeout(Duration::from_secs(1))
            .map_err(|source| StorageError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers,
                next_reader: AtomicUsize::new(0),
                health: Mutex::new(health),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.inner.readers.len();
        for i in 0..n {
            if let Ok(conn) = self.inner.readers[(start + i) % n].try_lock() {
                return conn;
            }
        }
        lock(&self.inner.readers[start % n])
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.inner.writer)
    }

    /// For `/readyz`: the file is still there and answers a query.
    pub fn ping(&self) -> Result<(), String> {
        if !self.inner.path.exists() {
            return Err(format!(
                "the database file {} is gone",
                self.inner.path.display()
            ));
        }
        let conn = lock(&self.inner.health);
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|_| ())
        .map_err(|e| {
            format!(
                "the database {} does not answer: {e}",
                self.inner.path.display()
            )
        })
    }

    /// Inserts an account, its address not yet confirmed.
    pub fn create_account(&self, new: &NewAccount) -> Result<Account, CreateAccountError> {
        let now = now_secs();
        let conn = self.writer();
        let inserted = conn.execute(
            "INSERT INTO accounts (name, email, password_hash, plan, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![new.name, new.email, new.password_hash, new.plan, now],
        );
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(CreateAccountError::EmailTaken),
            Err(e) => return Err(StorageError::from(e).into()),
        }
        Ok(Account {
            id: conn.last_insert_rowid(),
            name: new.name.clone(),
            email: new.email.clone(),
            plan: new.plan.clone(),
            created_at: now,
            updated_at: now,
        })
    }

    /// What a sign-in checks for a normalised email.
    pub fn credentials(&self, email: &str) -> Result<Option<Credentials>, StorageError> {
        let conn = self.reader();
        Ok(conn
            .query_row(
                "SELECT id, password_hash, email_confirmed_at IS NOT NULL
                 FROM accounts WHERE email = ?1",
                [email],
                |r| {
                    Ok(Credentials {
                        account_id: r.get(0)?,
                        password_hash: r.get(1)?,
                        confirmed: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Marks the address of `email` confirmed; whether an account has it.
    pub fn confirm_address(&self, email: &str) -> Result<bool, StorageError> {
        let conn = self.writer();
        let changed = conn.execute(
            "UPDATE accounts SET email_confirmed_at = coalesce(email_confirmed_at, ?1)
             WHERE email = ?2",
            params![now_secs(), email],
        )?;
        Ok(changed > 0)
    }

    /// Starts a session; also sweeps expired ones.
    pub fn create_session(&self, account_id: i64, session: NewSession) -> Result<(), StorageError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        insert_session(&tx, account_id, session, now_secs())?;
        tx.commit()?;
        Ok(())
    }

    /// The account of a live session.
    pub fn account_for_session(&self, session: TokenHash) -> Result<Option<Account>, StorageError> {
        let conn = self.reader();
        Ok(conn
            .query_row(
                "SELECT a.id, a.name, a.email, a.plan, a.created_at, a.updated_at
                 FROM sessions s JOIN accounts a ON a.id = s.account_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2",
                params![&session.0[..], now_secs()],
                account_from_row,
            )
            .optional()?)
    }

    /// Ends a session (no error if it is already gone).
    pub fn delete_session(&self, session: TokenHash) -> Result<(), StorageError> {
        let conn = self.writer();
        conn.execute(
            "DELETE FROM sessions WHERE token_hash = ?1",
            [&session.0[..]],
        )?;
        Ok(())
    }

    /// Changes an account's name and plan; `None` if the account is gone.
    pub fn update_profile(&self, update: &ProfileUpdate) -> Result<Option<Account>, StorageError> {
        let conn = self.writer();
        Ok(conn
            .query_row(
                "UPDATE accounts SET name = ?1, plan = ?2, updated_at = ?3 WHERE id = ?4
                 RETURNING id, name, email, plan, created_at, updated_at",
                params![update.name, update.plan, now_secs(), update.account_id],
                account_from_row,
            )
            .optional()?)
    }

    /// Stores an emailed link's hash (and sweeps expired links).
    pub fn create_link(&self, link: NewLink) -> Result<(), StorageError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM email_links WHERE expires_at <= ?1",
            [now_secs()],
        )?;
        tx.execute(
            "INSERT INTO email_links (token_hash, account_id, purpose, expires_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                &link.hash.0[..],
                link.account_id,
                link.purpose.as_str(),
                link.expires_at
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Uses up a live confirmation link and confirms its account's address.
    pub fn confirm_email(&self, link: TokenHash) -> Result<Option<i64>, StorageError> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(account_id) = take_link(&tx, LinkPurpose::Confirm, link)? else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE accounts SET email_confirmed_at = coalesce(email_confirmed_at, ?1)
             WHERE id = ?2",
            params![now_secs(), account_id],
        )?;
        tx.commit()?;
        Ok(Some(account_id))
    }

    /// Applies a password reset in one transaction.
    pub fn reset_password(&self, reset: &PasswordReset) -> Result<Option<i64>, StorageError> {
        let now = now_secs();
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(account_id) = take_link(&tx, LinkPurpose::Reset, reset.link)? else {
            return Ok(None);
        };
        // The mailed link proves the address too.
        tx.execute(
            "UPDATE accounts SET password_hash = ?1, updated_at = ?2,
                 email_confirmed_at = coalesce(email_confirmed_at, ?2)
             WHERE id = ?3",
            params![reset.password_hash, now, account_id],
        )?;
        tx.execute("DELETE FROM sessions WHERE account_id = ?1", [account_id])?;
        tx.execute(
            "DELETE FROM email_links WHERE account_id = ?1 AND purpose = 'reset'",
            [account_id],
        )?;
        insert_session(&tx, account_id, reset.session, now)?;
        tx.commit()?;
        Ok(Some(account_id))
    }

    /// How many accounts exist (tests and operators).
    pub fn count_accounts(&self) -> Result<i64, StorageError> {
        let conn = self.reader();
        Ok(conn.query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))?)
    }

    /// How many sessions exist, expired ones included (tests and operators).
    pub fn count_sessions(&self) -> Result<i64, StorageError> {
        let conn = self.reader();
        Ok(conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))?)
    }

    /// The account with this email, if any (tests and operators).
    pub fn account_by_email(&self, email: &str) -> Result<Option<Account>, StorageError> {
        let conn = self.reader();
        Ok(conn
            .query_row(
                "SELECT id, name, email, plan, created_at, updated_at FROM accounts WHERE email = ?1",
                [email],
                account_from_row,
            )
            .optional()?)
    }
}

/// Deletes a link of `purpose` and returns its account if it had not expired.
fn take_link(
    tx: &rusqlite::Transaction<'_>,
    purpose: LinkPurpose,
    link: TokenHash,
) -> rusqlite::Result<Option<i64>> {
    let row: Option<(i64, i64)> = tx
        .query_row(
            "DELETE FROM email_links WHERE token_hash = ?1 AND purpose = ?2
             RETURNING account_id, expires_at",
            params![&link.0[..], purpose.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(row
        .filter(|(_, expires_at)| *expires_at > now_secs())
        .map(|(id, _)| id))
}

fn insert_session(
    tx: &rusqlite::Transaction<'_>,
    account_id: i64,
    session: NewSession,
    now: i64,
) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
    tx.execute(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![&session.hash.0[..], account_id, now, session.expires_at],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::fixtures::{renamed, session};

    fn new_account(email: &str) -> NewAccount {
        NewAccount {
            name: "Ada".into(),
            email: email.into(),
            password_hash: "$argon2id$fake".into(),
            plan: "pro".into(),
        }
    }

    #[test]
    fn migrations_run_once_and_accounts_are_unique_by_email() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/accounts.db");
        let storage = SqliteStorage::open(&path).unwrap();
        let far = now_secs() + 60;
        let ada = storage
            .create_account(&new_account("ada@example.com"))
            .unwrap();
        storage
            .create_session(ada.id, session([1; 32], far))
            .unwrap();
        assert!(matches!(
            storage.create_account(&new_account("ADA@example.com")),
            Err(CreateAccountError::EmailTaken)
        ));
        let unconfirmed = storage.credentials("ada@example.com").unwrap().unwrap();
        assert!(
            !unconfirmed.confirmed,
            "a new account's address is not confirmed"
        );
        assert!(storage.confirm_address("ada@example.com").unwrap());
        let confirmed = storage.credentials("ada@example.com").unwrap().unwrap();
        assert!(confirmed.confirmed);
        assert_eq!(storage.count_accounts().unwrap(), 1);
        assert_eq!(storage.count_sessions().unwrap(), 1);
        assert_eq!(
            storage.account_for_session(TokenHash([1; 32])).unwrap(),
            Some(ada.clone())
        );
        drop(storage);

        let again = SqliteStorage::open(&path).unwrap();
        assert_eq!(again.count_accounts().unwrap(), 1);
        let updated = again.update_profile(&renamed(ada.id)).unwrap().unwrap();
        assert_eq!(
            (updated.name.as_str(), updated.plan.as_str()),
            ("Ada L.", "team")
        );
        again.delete_session(TokenHash([1; 32])).unwrap();
        assert_eq!(again.account_for_session(TokenHash([1; 32])).unwrap(), None);
        assert!(again.ping().is_ok());
    }

    #[test]
    fn expired_sessions_read_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::open(&dir.path().join("a.db")).unwrap();
        let ada = storage
            .create_account(&new_account("ada@example.com"))
            .unwrap();
        storage
            .create_session(ada.id, session([1; 32], now_secs() - 1))
            .unwrap();
        assert_eq!(
            storage.account_for_session(TokenHash([1; 32])).unwrap(),
            None
        );
        storage
            .create_session(ada.id, session([3; 32], now_secs() + 60))
            .unwrap();
        // The expired session was swept when the new one was made.
        assert_eq!(storage.count_sessions().unwrap(), 1);
    }

    #[test]
    fn a_directory_cannot_be_opened_and_the_error_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = SqliteStorage::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }
}
