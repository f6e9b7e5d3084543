//! The PostgreSQL backend, for replicas: every replica reads and writes the same users and
//! sessions, so any of them answers for any user.
//!
//! Driver: `tokio-postgres` with a `deadpool-postgres` pool (at most [`POOL_SIZE`]
//! connections per replica, statements prepared once per connection and cached). No TLS
//! here: inside a cluster the database is reached over the pod network; put TLS in front
//! of it (or a service mesh) where that network is not trusted.
//!
//! The storage interface blocks (callers already run it on the blocking pool through
//! `web::block`), while the driver is async: the pool lives on a small runtime of its own
//! ([`RUNTIME_THREADS`] threads), each call is spawned there and the calling thread waits
//! for its answer. So no async worker ever waits for the database, and the connections'
//! I/O runs on threads that do nothing else.
//!
//! Durability: the account and its first session are inserted in one transaction that is
//! committed (PostgreSQL's default `synchronous_commit=on`: the WAL is flushed) before the
//! call returns. Migrations run in one transaction each, under an advisory lock, so
//! replicas that start together apply each one exactly once; the table
//! `schema_migrations` records them, and a database newer than this build is refused.
//!
//! `/readyz` must not block an async worker, so [`PgStorage::ping`] reads the result of a
//! `SELECT 1` that a background task runs every second.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::{
    now_secs, CreateAccountError, Credentials, LinkPurpose, NewAccount, NewLink, NewSession,
    PasswordReset, ProfileUpdate, StorageError, MIGRATIONS,
};
use crate::domain::Account;
use crate::security::session::TokenHash;

/// Connections per replica. Two replicas use at most 32 of PostgreSQL's default 100.
pub const POOL_SIZE: usize = 16;
/// Threads of the runtime that drives the connections.
pub const RUNTIME_THREADS: usize = 2;
/// How long a call waits for a connection, and for a new one to be made.
const CONNECTION_WAIT: Duration = Duration::from_secs(5);
/// A statement running longer is cancelled by the server.
const STATEMENT_TIMEOUT_MS: u32 = 10_000;
/// Key of the advisory lock that serialises migrations across replicas (`"mf-acct"`).
const MIGRATION_LOCK: i64 = 0x006d_662d_6163_6374;
/// How often the readiness check runs.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// A checked `postgres://` or `postgresql://` URL. `Debug` and `Display` hide the
/// password (and the query string, which may hold one).
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    url: String,
}

impl PostgresUrl {
    /// Checks the URL with the driver's own parser; the error never repeats the value.
    pub fn parse(value: &str) -> Result<Self, String> {
        value
            .parse::<tokio_postgres::Config>()
            .map_err(|e| format!("is not a valid PostgreSQL URL ({e})"))?;
        Ok(Self {
            url: value.to_owned(),
        })
    }

    /// The URL as given (it may hold a password: never log it).
    pub fn expose(&self) -> &str {
        &self.url
    }

    fn config(&self) -> tokio_postgres::Config {
        let mut config: tokio_postgres::Config =
            self.url.parse().expect("checked by PostgresUrl::parse");
        if config.get_application_name().is_none() {
            config.application_name("svc-accounts");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECTION_WAIT);
        }
        let options = format!(
            "{} -c statement_timeout={STATEMENT_TIMEOUT_MS}",
            config.get_options().unwrap_or_default()
        );
        config.options(options.trim());
        config
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.url.split_once("://").unwrap_or(("postgres", ""));
        let rest = rest.split('?').next().unwrap_or_default();
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => format!("{userinfo}@{host}"),
            },
            None => authority.to_owned(),
        };
        write!(f, "{scheme}://{authority}/{path}")?;
        if self.url.contains('?') {
            f.write_str("?…")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// The runtime the pool lives on. Dropped without waiting (dropping a runtime may happen on
/// an async worker, where waiting for its threads is not allowed).
struct DbRuntime(Option<tokio::runtime::Runtime>);

impl Drop for DbRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The PostgreSQL database. Cheap to clone.
#[derive(Clone)]
pub struct PgStorage {
    inner: Arc<Inner>,
}

struct Inner {
    url: PostgresUrl,
    pool: Pool,
    handle: tokio::runtime::Handle,
    health: Arc<Mutex<Result<(), String>>>,
    // Last, so the pool's connections go before their runtime.
    _runtime: DbRuntime,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStorage")
            .field("url", &self.inner.url)
            .finish()
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StorageError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => StorageError::Postgres(e),
        other => StorageError::Pool(other.to_string()),
    }
}

/// Runs `fut` on `handle` and waits for it from this (non-async) thread.
fn wait_on<T, E, Fut>(handle: &tokio::runtime::Handle, fut: Fut) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StorageError> + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().unwrap_or(Err(StorageError::Stopped.into()))
}

async fn migrate(pool: &Pool, database: &str) -> Result<(), StorageError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    loop {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                applied_at BIGINT  NOT NULL
            )",
        )
        .await?;
        let version: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        if version < 0 || version as usize > MIGRATIONS.len() {
            return Err(StorageError::NewerSchema {
                database: database.to_owned(),
                found: i64::from(version),
                known: MIGRATIONS.len(),
            });
        }
        let Some(migration) = MIGRATIONS.get(version as usize) else {
            tx.commit().await?;
            return Ok(());
        };
        tx.batch_execute(migration.postgres).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&(version + 1), &migration.name, &now_secs()],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            version = version + 1,
            migration = migration.name,
            "applied database migration"
        );
    }
}

fn account_from_row(row: &tokio_postgres::Row) -> Account {
    Account {
        id: row.get(0),
        name: row.get(1),
        email: row.get(2),
        plan: row.get(3),
        created_at: row.get(4),
        updated_at: row.get(5),
    }
}

/// Deletes a link of `purpose` and returns its account if it had not expired.
async fn take_link(
    client: &impl GenericClient,
    purpose: LinkPurpose,
    link: TokenHash,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let take = client
        .prepare_cached(
            "DELETE FROM email_links WHERE token_hash = $1 AND purpose = $2
             RETURNING account_id, expires_at",
        )
        .await?;
    let row = client
        .query_opt(&take, &[&&link.0[..], &purpose.as_str()])
        .await?;
    Ok(row
        .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        .filter(|(_, expires_at)| *expires_at > now_secs())
        .map(|(id, _)| id))
}

async fn insert_session(
    client: &impl GenericClient,
    account_id: i64,
    session: NewSession,
    now: i64,
) -> Result<(), tokio_postgres::Error> {
    let sweep = client
        .prepare_cached("DELETE FROM sessions WHERE expires_at <= $1")
        .await?;
    client.execute(&sweep, &[&now]).await?;
    let insert = client
        .prepare_cached(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .await?;
    client
        .execute(
            &insert,
            &[&&session.hash.0[..], &account_id, &now, &session.expires_at],
        )
        .await?;
    Ok(())
}

impl PgStorage {
    /// Connects, applies the migrations and starts the readiness check. Errors name the URL
    /// (password hidden).
    pub fn open(url: &PostgresUrl) -> Result<Self, StorageError> {
        let database = url.to_string();
        let connect_error = |reason: String| StorageError::Connect {
            database: database.clone(),
            reason,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("accounts-postgres")
            .enable_all()
            .build()
            .map_err(|e| connect_error(format!("cannot start its runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let runtime = DbRuntime(Some(runtime));
        let manager = Manager::from_config(
            url.config(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(CONNECTION_WAIT),
                create: Some(CONNECTION_WAIT),
                recycle: Some(CONNECTION_WAIT),
            })
            .build()
            .map_err(|e| connect_error(e.to_string()))?;

        let (migrating, name) = (pool.clone(), database.clone());
        wait_on(&handle, async move { migrate(&migrating, &name).await }).map_err(|e| match e {
            e @ StorageError::NewerSchema { .. } => e,
            other => connect_error(other.to_string()),
        })?;

        let health = Arc::new(Mutex::new(Ok(())));
        handle.spawn(check_health(pool.clone(), Arc::clone(&health)));
        Ok(Self {
            inner: Arc::new(Inner {
                url: url.clone(),
                pool,
                handle,
                health,
                _runtime: runtime,
            }),
        })
    }

    /// The URL (its `Display` hides the password).
    pub fn url(&self) -> &PostgresUrl {
        &self.inner.url
    }

    /// Runs `f` with a pooled connection on the database runtime and waits for it.
    fn with_client<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(deadpool_postgres::Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let pool = self.inner.pool.clone();
        wait_on(&self.inner.handle, async move {
            let client = pool.get().await.map_err(|e| E::from(pool_error(e)))?;
            f(client).await
        })
    }

    /// Runs `fut` on the database runtime and awaits it from any async context (the
    /// rate limiter's calls, made on the HTTP workers, wait without blocking them).
    async fn spawned<T, Fut>(&self, fut: Fut) -> Result<T, StorageError>
    where
        T: Send + 'static,
        Fut: Future<Output = Result<T, StorageError>> + Send + 'static,
    {
        self.inner
            .handle
            .spawn(fut)
            .await
            .unwrap_or(Err(StorageError::Stopped))
    }

    /// The rate limiter's counters, shared by every replica: counts one event under each
    /// key at once, or none if any key already holds `limit` events in its window (then
    /// `Ok(Err(wait))`, the longest wait). Keys are locked in order (advisory locks) for the
    /// transaction, so concurrent attempts on several replicas are counted one after
    /// another; times are the database's clock, so replicas' clocks do not matter. Returns
    /// the new events' ids, in the order of `keys`.
    pub async fn take_events(
        &self,
        keys: Vec<(String, usize, Duration)>,
    ) -> Result<Result<Vec<i64>, Duration>, StorageError> {
        let pool = self.inner.pool.clone();
        self.spawned(async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            let tx = client.transaction().await?;
            let now: i64 = tx
                .query_one(
                    "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                    &[],
                )
                .await?
                .get(0);
            let mut locks: Vec<&str> = keys.iter().map(|(k, _, _)| k.as_str()).collect();
            locks.sort_unstable();
            locks.dedup();
            for key in locks {
                tx.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                    &[&key],
                )
                .await?;
            }
            let mut worst: Option<i64> = None;
            for (key, limit, window) in &keys {
                let window = window.as_millis() as i64;
                tx.execute(
                    "DELETE FROM rate_limit_events WHERE key = $1 AND at_ms <= $2",
                    &[key, &(now - window)],
                )
                .await?;
                // The `limit`-th newest event in the window, if there are that many.
                let nth = tx
                    .query_opt(
                        "SELECT at_ms FROM rate_limit_events WHERE key = $1
                         ORDER BY at_ms DESC, id DESC OFFSET $2 LIMIT 1",
                        &[key, &(limit.saturating_sub(1) as i64)],
                    )
                    .await?;
                let full = *limit == 0 || nth.is_some();
                if full {
                    let oldest: i64 = nth.map_or(now, |row| row.get(0));
                    let wait = (window - (now - oldest)).max(0);
                    worst = Some(worst.map_or(wait, |w| w.max(wait)));
                }
            }
            if let Some(wait) = worst {
                tx.rollback().await?;
                return Ok(Err(Duration::from_millis(wait as u64)));
            }
            let mut ids = Vec::with_capacity(keys.len());
            for (key, _, _) in &keys {
                let row = tx
                    .query_one(
                        "INSERT INTO rate_limit_events (key, at_ms) VALUES ($1, $2) RETURNING id",
                        &[key, &now],
                    )
                    .await?;
                ids.push(row.get(0));
            }
            // Now and then, keys that never came back: anything older than a day.
            if rand::random::<u8>() < 4 {
                tx.execute(
                    "DELETE FROM rate_limit_events WHERE at_ms <= $1",
                    &[&(now - 24 * 60 * 60 * 1000)],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(Ok(ids))
        })
        .await
    }

    /// Forgets every event of `key` (if given) and the events with these ids.
    pub async fn forget_events(
        &self,
        key: Option<String>,
        ids: Vec<i64>,
    ) -> Result<(), StorageError> {
        let pool = self.inner.pool.clone();
        self.spawned(async move {
            let client = pool.get().await.map_err(pool_error)?;
            if let Some(key) = key {
                client
                    .execute("DELETE FROM rate_limit_events WHERE key = $1", &[&key])
                    .await?;
            }
            if !ids.is_empty() {
                client
                    .execute("DELETE FROM rate_limit_events WHERE id = ANY($1)", &[&ids])
                    .await?;
            }
            Ok(())
        })
        .await
    }

    /// For `/readyz`: the result of the last check (at most about a second old).
    pub fn ping(&self) -> Result<(), String> {
        let health = self
            .inner
            .health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        health.map_err(|why| format!("the database {} does not answer: {why}", self.inner.url))
    }

    /// Inserts an account, its address not yet confirmed.
    pub fn create_account(&self, new: &NewAccount) -> Result<Account, CreateAccountError> {
        let new = new.clone();
        self.with_client(move |client| async move {
            let insert = client
                .prepare_cached(
                    "INSERT INTO accounts (name, email, password_hash, plan, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                )
                .await
                .map_err(StorageError::from)?;
            let now = now_secs();
            let row = client
                .query_one(
                    &insert,
                    &[&new.name, &new.email, &new.password_hash, &new.plan, &now],
                )
                .await;
            let id: i64 = match row {
                Ok(row) => row.get(0),
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                    return Err(CreateAccountError::EmailTaken)
                }
                Err(e) => return Err(StorageError::from(e).into()),
            };
            Ok(Account {
                id,
                name: new.name,
                email: new.email,
                plan: new.plan,
                created_at: now,
                updated_at: now,
            })
        })
    }

    /// What a sign-in checks for a normalised email.
    pub fn credentials(&self, email: &str) -> Result<Option<Credentials>, StorageError> {
        let email = email.to_owned();
        self.with_client(move |client| async move {
            let query = client
                .prepare_cached(
                    "SELECT id, password_hash, email_confirmed_at IS NOT NULL
                     FROM accounts WHERE lower(email) = lower($1)",
                )
                .await?;
            let row = client.query_opt(&query, &[&email]).await?;
            Ok(row.map(|r| Credentials {
                account_id: r.get(0),
                password_hash: r.get(1),
                confirmed: r.get(2),
            }))
        })
    }

    /// Marks the address of `email` confirmed; whether an account has it.
    pub fn confirm_address(&self, email: &str) -> Result<bool, StorageError> {
        let email = email.to_owned();
        self.with_client(move |client| async move {
            let update = client
                .prepare_cached(
                    "UPDATE accounts SET email_confirmed_at = coalesce(email_confirmed_at, $1)
                     WHERE lower(email) = lower($2)",
                )
                .await?;
            Ok(client.execute(&update, &[&now_secs(), &email]).await? > 0)
        })
    }

    /// Starts a session; also sweeps expired ones.
    pub fn create_session(&self, account_id: i64, session: NewSession) -> Result<(), StorageError> {
        self.with_client(move |mut client| async move {
            let tx = client.transaction().await?;
            insert_session(&tx, account_id, session, now_secs()).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// The account of a live session.
    pub fn account_for_session(&self, session: TokenHash) -> Result<Option<Account>, StorageError> {
        self.with_client(move |client| async move {
            let query = client
                .prepare_cached(
                    "SELECT a.id, a.name, a.email, a.plan, a.created_at, a.updated_at
                     FROM sessions s JOIN accounts a ON a.id = s.account_id
                     WHERE s.token_hash = $1 AND s.expires_at > $2",
                )
                .await?;
            let row = client
                .query_opt(&query, &[&&session.0[..], &now_secs()])
                .await?;
            Ok(row.as_ref().map(account_from_row))
        })
    }

    /// Ends a session (no error if it is already gone).
    pub fn delete_session(&self, session: TokenHash) -> Result<(), StorageError> {
        self.with_client(move |client| async move {
            let query = client
                .prepare_cached("DELETE FROM sessions WHERE token_hash = $1")
                .await?;
            client.execute(&query, &[&&session.0[..]]).await?;
            Ok(())
        })
    }

    /// Changes an account's name and plan; `None` if the account is gone.
    pub fn update_profile(&self, update: &ProfileUpdate) -> Result<Option<Account>, StorageError> {
        let update = update.clone();
        self.with_client(move |client| async move {
            let query = client
                .prepare_cached(
                    "UPDATE accounts SET name = $1, plan = $2, updated_at = $3 WHERE id = $4
                     RETURNING id, name, email, plan, created_at, updated_at",
                )
                .await?;
            let row = client
                .query_opt(
                    &query,
                    &[&update.name, &update.plan, &now_secs(), &update.account_id],
                )
                .await?;
            Ok(row.as_ref().map(account_from_row))
        })
    }

    /// Stores an emailed link's hash (and sweeps expired links).
    pub fn create_link(&self, link: NewLink) -> Result<(), StorageError> {
        self.with_client(move |mut client| async move {
            let tx = client.transaction().await?;
            let sweep = tx
                .prepare_cached("DELETE FROM email_links WHERE expires_at <= $1")
                .await?;
            tx.execute(&sweep, &[&now_secs()]).await?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO email_links (token_hash, account_id, purpose, expires_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .await?;
            let values: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
                &&link.hash.0[..],
                &link.account_id,
                &link.purpose.as_str(),
                &link.expires_at,
            ];
            tx.execute(&insert, &values).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Uses up a live confirmation link and confirms its account's address.
    pub fn confirm_email(&self, link: TokenHash) -> Result<Option<i64>, StorageError> {
        self.with_client(move |mut client| async move {
            let tx = client.transaction().await?;
            let Some(account_id) = take_link(&tx, LinkPurpose::Confirm, link).await? else {
                return Ok(None);
            };
            let confirm = tx
                .prepare_cached(
                    "UPDATE accounts SET email_confirmed_at = coalesce(email_confirmed_at, $1)
                     WHERE id = $2",
                )
                .await?;
            tx.execute(&confirm, &[&now_secs(), &account_id]).await?;
            tx.commit().await?;
            Ok(Some(account_id))
        })
    }

    /// Applies a password reset in one transaction.
    pub fn reset_password(&self, reset: &PasswordReset) -> Result<Option<i64>, StorageError> {
        let reset = reset.clone();
        self.with_client(move |mut client| async move {
            let now = now_secs();
            let tx = client.transaction().await?;
            let Some(account_id) = take_link(&tx, LinkPurpose::Reset, reset.link).await? else {
                return Ok(None);
            };
            // The mailed link proves the address too.
            let update = tx
                .prepare_cached(
                    "UPDATE accounts SET password_hash = $1, updated_at = $2,
                         email_confirmed_at = coalesce(email_confirmed_at, $2)
                     WHERE id = $3",
                )
                .await?;
            tx.execute(&update, &[&reset.password_hash, &now, &account_id])
                .await?;
            let end = tx
                .prepare_cached(
                    "WITH s AS (DELETE FROM sessions WHERE account_id = $1)
                     DELETE FROM email_links WHERE account_id = $1 AND purpose = 'reset'",
                )
                .await?;
            tx.execute(&end, &[&account_id]).await?;
            insert_session(&tx, account_id, reset.session, now).await?;
            tx.commit().await?;
            Ok(Some(account_id))
        })
    }

    /// How many accounts exist (tests and operators).
    pub fn count_accounts(&self) -> Result<i64, StorageError> {
        self.count("SELECT count(*) FROM accounts")
    }

    /// How many sessions exist, expired ones included (tests and operators).
    pub fn count_sessions(&self) -> Result<i64, StorageError> {
        self.count("SELECT count(*) FROM sessions")
    }

    fn count(&self, sql: &'static str) -> Result<i64, StorageError> {
        self.with_client(move |client| async move { Ok(client.query_one(sql, &[]).await?.get(0)) })
    }

    /// The account with this email, if any (tests and operators).
    pub fn account_by_email(&self, email: &str) -> Result<Option<Account>, StorageError> {
        let email = email.to_owned();
        self.with_client(move |client| async move {
            let row = client
                .query_opt(
                    "SELECT id, name, email, plan, created_at, updated_at FROM accounts WHERE lower(email) = lower($1)",
                    &[&email],
                )
                .await?;
            Ok(row.as_ref().map(account_from_row))
        })
    }
}

/// Every [`HEALTH_EVERY`]: `SELECT 1` within two seconds, the result kept for `/readyz`.
async fn check_health(pool: Pool, health: Arc<Mutex<Result<(), String>>>) {
    loop {
        tokio::time::sleep(HEALTH_EVERY).await;
        let answer = tokio::time::timeout(Duration::from_secs(2), async {
            let client = pool.get().await.map_err(|e| pool_error(e).to_string())?;
            client
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|_| Err("no answer within 2 s".to_owned()));
        *health.lock().unwrap_or_else(|e| e.into_inner()) = answer;
    }
}

/// Fresh databases for tests (the API suite, the replica test): `CREATE DATABASE` on the
/// server of an admin URL such as the one `scripts/with-postgres` exports.
pub mod testing {
    use tokio_postgres::NoTls;

    /// The environment variable holding the admin URL of a test PostgreSQL server.
    pub const URL_VAR: &str = "ACCOUNTS_TEST_POSTGRES_URL";
    /// What a PostgreSQL test needs, when [`admin_url`] finds nothing.
    pub const NEEDS: &str = "a PostgreSQL server (ACCOUNTS_TEST_POSTGRES_URL is not set, \
                             and no installed PostgreSQL could be started)";
    /// How to get it.
    pub const INSTALL: &str = "apt-get install postgresql, or run the tests under \
                               scripts/with-postgres, which installs it when missing";

    /// The admin URL: `ACCOUNTS_TEST_POSTGRES_URL` when set; else a throwaway server of this
    /// process (started once, when Debian's `postgresql` is installed:
    /// `crate::storage::throwaway_postgres`). With neither: `None` locally (the PostgreSQL
    /// tests are skipped with a note), but a panic under `CI=true`, where PostgreSQL must be
    /// there.
    pub fn admin_url() -> Option<String> {
        static THROWAWAY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        if let Ok(url) = std::env::var(URL_VAR) {
            if !url.trim().is_empty() {
                return Some(url);
            }
        }
        let url = THROWAWAY.get_or_init(|| match crate::storage::throwaway_postgres::start() {
            Ok(url) => {
                eprintln!("svc-accounts tests: {URL_VAR} is not set: started a throwaway PostgreSQL at {url}");
                Some(url)
            }
            Err(why) => {
                eprintln!("svc-accounts tests: no throwaway PostgreSQL: {why}");
                None
            }
        });
        if url.is_none() && std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{URL_VAR} is not set and no PostgreSQL could be started, and CI=true: the \
                 PostgreSQL tests must run in CI (run them under scripts/with-postgres)"
            );
        }
        url.clone()
    }

    /// `url` with its database name replaced by `name`.
    pub fn with_database(url: &str, name: &str) -> String {
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
        let authority = rest.split('/').next().unwrap_or_default();
        let mut out = format!("{scheme}://{authority}/{name}");
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        out
    }

    /// Runs `sql` on the admin URL's server from a thread of its own (so it works from any
    /// context, async or not).
    fn admin(admin_url: &str, sql: String) -> Result<(), String> {
        let admin_url = admin_url.to_owned();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&admin_url, NoTls)
                    .await
                    .map_err(|e| format!("cannot connect to the test PostgreSQL: {e}"))?;
                tokio::spawn(connection);
                client.batch_execute(&sql).await.map_err(|e| e.to_string())
            })
        })
        .join()
        .map_err(|_| "the admin thread panicked".to_owned())?
    }

    /// Creates `test_<random>` and returns its URL.
    pub fn create_database(admin_url: &str) -> String {
        let name = format!("test_{}", hex::encode(rand::random::<[u8; 8]>()));
        admin(admin_url, format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        with_database(admin_url, &name)
    }

    /// Drops a database made by [`create_database`], closing its connections (best effort).
    pub fn drop_database(admin_url: &str, database_url: &str) {
        let name = database_url
            .split('?')
            .next()
            .and_then(|u| u.rsplit('/').next())
            .unwrap_or_default();
        if name.starts_with("test_") && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            let _ = admin(
                admin_url,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::fixtures::{renamed, session};

    #[test]
    fn the_url_is_shown_without_its_password() {
        let url =
            PostgresUrl::parse("postgres://acct:p%40ss@db:5432/accounts?sslmode=disable").unwrap();
        assert_eq!(url.to_string(), "postgres://acct:***@db:5432/accounts?…");
        assert!(!format!("{url:?}").contains("p%40ss"));
        assert_eq!(
            testing::with_database("postgres://u@127.0.0.1:5/postgres?x=1", "t"),
            "postgres://u@127.0.0.1:5/t?x=1"
        );
    }

    /// Two replicas starting at once on a fresh database: each migration runs once, both
    /// see the same data.
    #[test]
    fn replicas_migrate_once_and_share_accounts_and_sessions() {
        let Some(admin) = testing::admin_url() else {
            shared_ui::testkit::missing(testing::NEEDS, testing::INSTALL);
            return;
        };
        let url = testing::create_database(&admin);
        let parsed = PostgresUrl::parse(&url).unwrap();
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| PgStorage::open(&parsed));
            let b = s.spawn(|| PgStorage::open(&parsed));
            (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
        });
        let far = now_secs() + 60;
        let new = |email: &str| NewAccount {
            name: "Ada".into(),
            email: email.into(),
            password_hash: "$argon2id$fake".into(),
            plan: "pro".into(),
        };
        let ada = a.create_account(&new("ada@example.com")).unwrap();
        a.create_session(ada.id, session([1; 32], far)).unwrap();
        assert!(matches!(
            b.create_account(&new("ADA@example.com")),
            Err(CreateAccountError::EmailTaken)
        ));
        assert!(!b.credentials("ada@example.com").unwrap().unwrap().confirmed);
        assert!(a.confirm_address("ADA@example.com").unwrap());
        assert!(b.credentials("ada@example.com").unwrap().unwrap().confirmed);
        assert_eq!(
            b.account_for_session(TokenHash([1; 32])).unwrap(),
            Some(ada.clone())
        );
        assert_eq!(
            b.credentials("ada@example.com")
                .unwrap()
                .map(|c| c.account_id),
            Some(ada.id)
        );
        a.delete_session(TokenHash([1; 32])).unwrap();
        assert_eq!(b.account_for_session(TokenHash([1; 32])).unwrap(), None);
        b.create_session(ada.id, session([3; 32], now_secs() - 1))
            .unwrap();
        a.create_session(ada.id, session([4; 32], far)).unwrap();
        // The expired session was swept when the new one was made.
        assert_eq!(a.count_sessions().unwrap(), 1);
        let updated = b.update_profile(&renamed(ada.id)).unwrap().unwrap();
        assert_eq!(
            a.account_by_email("ada@example.com").unwrap(),
            Some(updated)
        );
        assert!(a.ping().is_ok());
        drop((a, b));
        // Opening again finds every migration applied.
        let again = PgStorage::open(&parsed).unwrap();
        assert_eq!(again.count_accounts().unwrap(), 1);
        drop(again);
        testing::drop_database(&admin, &url);
    }
}
