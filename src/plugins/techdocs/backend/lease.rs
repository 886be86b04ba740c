//! Build leases in the plugin's database, so replicas sharing a database and a publisher
//! build each site once: a replica builds a site only while it holds the site's row in
//! `techdocs_build_leases`; the others wait for the row to go and then serve what was
//! published.
//!
//! A lease is taken with a plain `INSERT` (a unique violation means another replica holds
//! it), renewed while the build runs, and deleted when the build ends. A holder that dies
//! leaves its row until `expires_at` (now + `techdocs.buildLeaseTimeout`) passes; the next
//! replica that asks then deletes it and builds. Times are epoch milliseconds of each replica's
//! clock, so replicas need clocks that agree to well within the timeout.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::services::database::{DatabaseError, PluginDatabase, Sql};

/// The build leases of one replica.
#[derive(Debug)]
pub(crate) struct BuildLeases {
    db: PluginDatabase,
    holder: String,
    timeout: Duration,
    ready: tokio::sync::OnceCell<()>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl BuildLeases {
    pub(crate) fn new(db: PluginDatabase, timeout: Duration) -> Self {
        Self {
            db,
            holder: uuid::Uuid::new_v4().to_string(),
            timeout,
            ready: tokio::sync::OnceCell::new(),
        }
    }

    /// How long a lease lives without renewal.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Creates the table when missing (once per replica; the plugin calls it at start).
    pub(crate) async fn table(&self) -> Result<(), DatabaseError> {
        self.ready
            .get_or_try_init(|| async {
                let created = Sql::new(
                    "CREATE TABLE IF NOT EXISTS techdocs_build_leases (\
                     site ${text} NOT NULL PRIMARY KEY, holder ${text} NOT NULL, \
                     expires_at BIGINT NOT NULL)",
                )
                .execute(&self.db)
                .await;
                match created {
                    // PostgreSQL: another replica created it at the same moment.
                    Err(e) if e.is_unique_violation() => Ok(()),
                    other => other.map(|_| ()),
                }
            })
            .await
            .map(|_| ())
    }

    /// Takes the lease of `site`; `false` while another replica holds a live one.
    pub(crate) async fn try_acquire(&self, site: &str) -> Result<bool, DatabaseError> {
        self.table().await?;
        let now = now_ms();
        Sql::new("DELETE FROM techdocs_build_leases WHERE site = ? AND expires_at < ?")
            .bind(site)
            .bind(now)
            .execute(&self.db)
            .await?;
        let inserted = Sql::new(
            "INSERT INTO techdocs_build_leases (site, holder, expires_at) VALUES (?, ?, ?)",
        )
        .bind(site)
        .bind(self.holder.as_str())
        .bind(now.saturating_add(ms(self.timeout)))
        .execute(&self.db)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether any replica holds a live lease of `site`.
    pub(crate) async fn is_held(&self, site: &str) -> Result<bool, DatabaseError> {
        self.table().await?;
        let row: Option<(i64,)> =
            Sql::new("SELECT expires_at FROM techdocs_build_leases WHERE site = ?")
                .bind(site)
                .fetch_optional(&self.db)
                .await?;
        Ok(row.is_some_and(|(expires,)| expires >= now_ms()))
    }

    /// Pushes this replica's lease of `site` a full timeout ahead.
    pub(crate) async fn renew(&self, site: &str) -> Result<(), DatabaseError> {
        Sql::new("UPDATE techdocs_build_leases SET expires_at = ? WHERE site = ? AND holder = ?")
            .bind(now_ms().saturating_add(ms(self.timeout)))
            .bind(site)
            .bind(self.holder.as_str())
            .execute(&self.db)
            .await
            .map(|_| ())
    }

    /// Gives up this replica's lease of `site`.
    pub(crate) async fn release(&self, site: &str) -> Result<(), DatabaseError> {
        Sql::new("DELETE FROM techdocs_build_leases WHERE site = ? AND holder = ?")
            .bind(site)
            .bind(self.holder.as_str())
            .execute(&self.db)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::database::DatabaseManager;

    #[tokio::test]
    async fn one_holder_at_a_time_and_expired_leases_are_taken_over() {
        let db = DatabaseManager::in_memory()
            .for_plugin("techdocs")
            .await
            .unwrap();
        let a = BuildLeases::new(db.clone(), Duration::from_secs(60));
        let b = BuildLeases::new(db.clone(), Duration::from_secs(60));
        assert!(a.try_acquire("default/component/x").await.unwrap());
        assert!(!b.try_acquire("default/component/x").await.unwrap());
        assert!(b.is_held("default/component/x").await.unwrap());
        assert!(b.try_acquire("default/component/y").await.unwrap());
        // Only the holder releases.
        b.release("default/component/x").await.unwrap();
        assert!(a.is_held("default/component/x").await.unwrap());
        a.release("default/component/x").await.unwrap();
        assert!(!a.is_held("default/component/x").await.unwrap());
        assert!(b.try_acquire("default/component/x").await.unwrap());

        // A holder that died: its lease expires and another replica takes it.
        let dead = BuildLeases::new(db.clone(), Duration::ZERO);
        assert!(dead.try_acquire("default/component/z").await.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(!a.is_held("default/component/z").await.unwrap());
        assert!(a.try_acquire("default/component/z").await.unwrap());
        // Renewing keeps it.
        a.renew("default/component/z").await.unwrap();
        assert!(!b.try_acquire("default/component/z").await.unwrap());
    }
}
