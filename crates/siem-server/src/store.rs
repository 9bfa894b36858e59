//! The database: organizations, hashed API tokens and connectors, through sqlx's `Any`
//! driver so the same queries run on SQLite (the embedded default) and PostgreSQL (several
//! instances sharing one configuration). Migrations are checked in under `migrations/`.
//!
//! The store never sees a secret value: a connector row holds its options without secret
//! fields and a *reference* to where the secret lives.

use std::path::Path;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::auth::Role;

/// A database failure, with the operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("database: {operation}: {source}")]
pub struct StoreError {
    operation: &'static str,
    #[source]
    source: sqlx::Error,
}

fn failed(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError { operation, source }
}

/// One connector as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConnector {
    /// Its organization.
    pub org_id: String,
    /// Its name, unique in the organization.
    pub name: String,
    /// `splunk`, `datadog` or `sentinel`.
    pub platform: String,
    /// The connector's keys as a JSON object, without secret values.
    pub options: serde_json::Map<String, serde_json::Value>,
    /// Where its secret lives (`aws:<name>` / `local:<name>`).
    pub secret_ref: Option<String>,
    /// The secret fields held there.
    pub secret_fields: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
}

/// The connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
}

/// What an insert found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// The row is new.
    Created,
    /// A row with that key exists.
    Exists,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Store {
    /// Connects (`sqlite://path` or `postgres://…`) and applies the migrations. A SQLite
    /// file and its folder are created if missing.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = match url.strip_prefix("sqlite://") {
            Some(path) => {
                let file = path.split('?').next().unwrap_or(path);
                if let Some(dir) = Path::new(file)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError {
                        operation: "create the database folder",
                        source: sqlx::Error::Io(e),
                    })?;
                }
                if path.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                }
            }
            None => url.to_owned(),
        };
        let sqlite = url.starts_with("sqlite:");
        let pool = AnyPoolOptions::new()
            // SQLite takes one writer at a time; more connections only wait on its lock.
            .max_connections(if sqlite { 1 } else { 8 })
            .connect(&url)
            .await
            .map_err(failed("connect"))?;
        if sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(failed("set WAL mode"))?;
        }
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError {
                operation: "migrate",
                source: e.into(),
            })?;
        Ok(Self { pool })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    /// Creates an organization.
    pub async fn create_org(&self, org_id: &str) -> Result<Inserted, StoreError> {
        if self.org_exists(org_id).await? {
            return Ok(Inserted::Exists);
        }
        let result = sqlx::query("INSERT INTO orgs (id, version, created_at) VALUES ($1, 0, $2)")
            .bind(org_id)
            .bind(now())
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(Inserted::Created),
            // Created by another request in between.
            Err(_) if self.org_exists(org_id).await? => Ok(Inserted::Exists),
            Err(e) => Err(failed("create an organization")(e)),
        }
    }

    /// Whether the organization exists.
    pub async fn org_exists(&self, org_id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT id FROM orgs WHERE id = $1")
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("read an organization"))?
            .is_some())
    }

    /// Every organization with its configuration version.
    pub async fn org_versions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        sqlx::query("SELECT id, version FROM orgs ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(failed("read organizations"))?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(failed("read organizations"))
    }

    /// Stores a token's hash for an organization and role.
    pub async fn insert_token(
        &self,
        token_hash: &str,
        org_id: &str,
        role: Role,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, org_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(org_id)
        .bind(role.as_str())
        .bind(now())
        .execute(&self.pool)
        .await
        .map(drop)
        .map_err(failed("store a token"))
    }

    /// The organization and role of a token hash.
    pub async fn find_token(&self, token_hash: &str) -> Result<Option<(String, Role)>, StoreError> {
        let row = sqlx::query("SELECT org_id, role FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed("read a token"))?;
        let Some(row) = row else { return Ok(None) };
        let org: String = row.try_get(0).map_err(failed("read a token"))?;
        let role: String = row.try_get(1).map_err(failed("read a token"))?;
        Ok(Role::parse(&role).map(|role| (org, role)))
    }

    /// An organization's connectors, by name.
    pub async fn connectors(&self, org_id: &str) -> Result<Vec<StoredConnector>, StoreError> {
        sqlx::query(&format!(
            "{SELECT_CONNECTOR} WHERE org_id = $1 ORDER BY name"
        ))
        .bind(org_id)
        .fetch_all(&self.pool)
        .await
        .map_err(failed("read connectors"))?
        .iter()
        .map(connector_from_row)
        .collect::<Result<_, _>>()
        .map_err(failed("read connectors"))
    }

    /// One connector.
    pub async fn connector(
        &self,
        org_id: &str,
        name: &str,
    ) -> Result<Option<StoredConnector>, StoreError> {
        sqlx::query(&format!(
            "{SELECT_CONNECTOR} WHERE org_id = $1 AND name = $2"
        ))
        .bind(org_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed("read a connector"))?
        .as_ref()
        .map(connector_from_row)
        .transpose()
        .map_err(failed("read a connector"))
    }

    /// Inserts a connector (and bumps its organization's version), unless one of that
    /// name exists.
    pub async fn insert_connector(&self, c: &StoredConnector) -> Result<Inserted, StoreError> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let exists = sqlx::query("SELECT name FROM connectors WHERE org_id = $1 AND name = $2")
            .bind(&c.org_id)
            .bind(&c.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed("read a connector"))?
            .is_some();
        if exists {
            return Ok(Inserted::Exists);
        }
        sqlx::query(
            "INSERT INTO connectors (org_id, name, platform, options, secret_ref, secret_fields, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&c.org_id)
        .bind(&c.name)
        .bind(&c.platform)
        .bind(serde_json::Value::Object(c.options.clone()).to_string())
        .bind(c.secret_ref.clone())
        .bind(c.secret_fields.join(","))
        .bind(&c.created_at)
        .bind(&c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(failed("insert a connector"))?;
        bump_version(&mut tx, &c.org_id).await?;
        tx.commit().await.map_err(failed("commit"))?;
        Ok(Inserted::Created)
    }

    /// Replaces a connector's options and secret reference. Returns whether it existed.
    pub async fn update_connector(&self, c: &StoredConnector) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let updated = sqlx::query(
            "UPDATE connectors SET platform = $1, options = $2, secret_ref = $3, \
             secret_fields = $4, updated_at = $5 WHERE org_id = $6 AND name = $7",
        )
        .bind(&c.platform)
        .bind(serde_json::Value::Object(c.options.clone()).to_string())
        .bind(c.secret_ref.clone())
        .bind(c.secret_fields.join(","))
        .bind(&c.updated_at)
        .bind(&c.org_id)
        .bind(&c.name)
        .execute(&mut *tx)
        .await
        .map_err(failed("update a connector"))?
        .rows_affected();
        if updated == 0 {
            return Ok(false);
        }
        bump_version(&mut tx, &c.org_id).await?;
        tx.commit().await.map_err(failed("commit"))?;
        Ok(true)
    }

    /// Deletes a connector. Returns whether it existed.
    pub async fn delete_connector(&self, org_id: &str, name: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(failed("begin"))?;
        let deleted = sqlx::query("DELETE FROM connectors WHERE org_id = $1 AND name = $2")
            .bind(org_id)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(failed("delete a connector"))?
            .rows_affected();
        if deleted == 0 {
            return Ok(false);
        }
        bump_version(&mut tx, org_id).await?;
        tx.commit().await.map_err(failed("commit"))?;
        Ok(true)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A new timestamp for a row being written.
pub fn timestamp() -> String {
    now()
}

const SELECT_CONNECTOR: &str = "SELECT org_id, name, platform, options, secret_ref, \
     secret_fields, created_at, updated_at FROM connectors";

fn connector_from_row(row: &AnyRow) -> Result<StoredConnector, sqlx::Error> {
    let options: String = row.try_get(3)?;
    let options = match serde_json::from_str(&options) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => {
            return Err(sqlx::Error::Decode(
                "a connector's options column is not a JSON object".into(),
            ))
        }
    };
    let fields: String = row.try_get(5)?;
    Ok(StoredConnector {
        org_id: row.try_get(0)?,
        name: row.try_get(1)?,
        platform: row.try_get(2)?,
        options,
        secret_ref: row.try_get(4)?,
        secret_fields: fields
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect(),
        created_at: row.try_get(6)?,
        updated_at: row.try_get(7)?,
    })
}

async fn bump_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    org_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE orgs SET version = version + 1 WHERE id = $1")
        .bind(org_id)
        .execute(&mut **tx)
        .await
        .map(drop)
        .map_err(failed("bump the configuration version"))
}
