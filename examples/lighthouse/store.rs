//! The plugin's tables (through `DATABASE`) and the API's JSON shapes, which are those of
//! Spotify's lighthouse-audit-service: `AuditBody`, `AuditListItem`, `WebsiteListItem` and
//! `{ items, total, limit, offset }` lists.

use std::collections::BTreeMap;

use backlot::services::database::{
    DatabaseError, DbRow, FromDbRow, Migration, PluginDatabase, Sql,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The schema: audits (work in progress and results) and their category scores.
pub(crate) static MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "create_audits",
    "CREATE TABLE lighthouse_audits (
        id ${key} PRIMARY KEY,
        url ${key} NOT NULL,
        status ${key} NOT NULL,
        options ${json},
        time_created ${timestamp} NOT NULL,
        time_completed ${timestamp},
        heartbeat_at ${timestamp} NOT NULL,
        failure ${text},
        report ${text}
    );
    CREATE INDEX lighthouse_audits_url ON lighthouse_audits (url, time_created);
    CREATE INDEX lighthouse_audits_status ON lighthouse_audits (status);
    CREATE TABLE lighthouse_categories (
        audit_id ${key} NOT NULL REFERENCES lighthouse_audits (id) ON DELETE CASCADE,
        category ${key} NOT NULL,
        title ${text} NOT NULL,
        score ${float},
        PRIMARY KEY (audit_id, category)
    );",
)];

/// An audit's state, as the service names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum AuditStatus {
    /// Waiting for a slot or running.
    Running,
    /// Done: scores and report stored.
    Completed,
    /// Done without a report: `failure` says why.
    Failed,
}

impl AuditStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> Result<Self, DatabaseError> {
        match s {
            "RUNNING" => Ok(Self::Running),
            "COMPLETED" => Ok(Self::Completed),
            "FAILED" => Ok(Self::Failed),
            other => Err(DatabaseError::Decode {
                column: "status".to_string(),
                source: sqlx::Error::Decode(format!("unknown audit status {other:?}").into()),
            }),
        }
    }
}

/// One category score of an audit (`{ id, title, score }`, score 0 to 1 or null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CategoryScore {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) score: Option<f64>,
}

/// An audit in lists (`AuditListItem`), plus the failure reason of a failed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditListItem {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) time_created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) time_completed: Option<DateTime<Utc>>,
    pub(crate) status: AuditStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) categories: Option<BTreeMap<String, CategoryScore>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) failure: Option<String>,
}

/// A whole audit (`AuditBody`): the list item's fields and the Lighthouse report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditBody {
    #[serde(flatten)]
    pub(crate) item: AuditListItem,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) report: Option<Value>,
}

/// A website and its audits, newest first (`WebsiteListItem`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Website {
    pub(crate) url: String,
    pub(crate) audits: Vec<AuditListItem>,
    pub(crate) last_audit: AuditListItem,
}

/// A page of a list (`{ items, total, limit, offset }`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ListResponse<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: i64,
    pub(crate) limit: i64,
    pub(crate) offset: i64,
}

struct AuditRow {
    id: String,
    url: String,
    status: AuditStatus,
    time_created: DateTime<Utc>,
    time_completed: Option<DateTime<Utc>>,
    failure: Option<String>,
}

impl FromDbRow for AuditRow {
    fn from_row(row: DbRow) -> Result<Self, DatabaseError> {
        Ok(Self {
            id: row.get("id")?,
            url: row.get("url")?,
            status: AuditStatus::parse(&row.get::<String>("status")?)?,
            time_created: row.get("time_created")?,
            time_completed: row.get("time_completed")?,
            failure: row.get("failure")?,
        })
    }
}

const AUDIT_COLUMNS: &str = "id, url, status, time_created, time_completed, failure";

/// The plugin's queries.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) db: std::sync::Arc<PluginDatabase>,
}

impl Store {
    /// Records a new audit of `url` as running.
    pub(crate) async fn insert(
        &self,
        id: &str,
        url: &str,
        options: &Value,
        now: DateTime<Utc>,
    ) -> Result<(), DatabaseError> {
        Sql::new(
            "INSERT INTO lighthouse_audits (id, url, status, options, time_created, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(url)
        .bind(AuditStatus::Running.as_str())
        .bind(options)
        .bind(now)
        .bind(now)
        .execute(&*self.db)
        .await?;
        Ok(())
    }

    /// Stores a finished audit's report and scores, if it is still running.
    pub(crate) async fn complete(
        &self,
        id: &str,
        report: &str,
        scores: &[CategoryScore],
    ) -> Result<(), DatabaseError> {
        let mut tx = self.db.begin().await?;
        let updated = Sql::new(
            "UPDATE lighthouse_audits SET status = ?, report = ?, time_completed = ? WHERE id = ? AND status = ?",
        )
        .bind(AuditStatus::Completed.as_str())
        .bind(report)
        .bind(Utc::now())
        .bind(id)
        .bind(AuditStatus::Running.as_str())
        .execute(&mut tx)
        .await?;
        if updated == 1 {
            for s in scores {
                Sql::new(
                    "INSERT INTO lighthouse_categories (audit_id, category, title, score) VALUES (?, ?, ?, ?)",
                )
                .bind(id)
                .bind(&s.id)
                .bind(&s.title)
                .bind(s.score)
                .execute(&mut tx)
                .await?;
            }
        }
        tx.commit().await
    }

    /// Marks a running audit failed with `reason`.
    pub(crate) async fn fail(&self, id: &str, reason: &str) -> Result<(), DatabaseError> {
        Sql::new(
            "UPDATE lighthouse_audits SET status = ?, failure = ?, time_completed = ? WHERE id = ? AND status = ?",
        )
        .bind(AuditStatus::Failed.as_str())
        .bind(reason)
        .bind(Utc::now())
        .bind(id)
        .bind(AuditStatus::Running.as_str())
        .execute(&*self.db)
        .await?;
        Ok(())
    }

    /// Keeps a running audit's row alive.
    pub(crate) async fn heartbeat(&self, id: &str) -> Result<(), DatabaseError> {
        Sql::new("UPDATE lighthouse_audits SET heartbeat_at = ? WHERE id = ? AND status = ?")
            .bind(Utc::now())
            .bind(id)
            .bind(AuditStatus::Running.as_str())
            .execute(&*self.db)
            .await?;
        Ok(())
    }

    /// Marks running audits whose last heartbeat is before `cutoff` failed: their process is
    /// gone (a backend stopped or killed mid-audit). Answers how many.
    pub(crate) async fn fail_stale(
        &self,
        cutoff: DateTime<Utc>,
        reason: &str,
    ) -> Result<u64, DatabaseError> {
        Sql::new(
            "UPDATE lighthouse_audits SET status = ?, failure = ?, time_completed = ? WHERE status = ? AND heartbeat_at < ?",
        )
        .bind(AuditStatus::Failed.as_str())
        .bind(reason)
        .bind(Utc::now())
        .bind(AuditStatus::Running.as_str())
        .bind(cutoff)
        .execute(&*self.db)
        .await
    }

    /// Adds the category scores to list items.
    async fn with_scores(&self, rows: Vec<AuditRow>) -> Result<Vec<AuditListItem>, DatabaseError> {
        let mut items = Vec::with_capacity(rows.len());
        if rows.is_empty() {
            return Ok(items);
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut query = Sql::new(
            "SELECT audit_id, category, title, score FROM lighthouse_categories WHERE audit_id IN (",
        );
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            query.push_bind(*id);
        }
        query.push(")");
        let scores: Vec<(String, String, String, Option<f64>)> = query.fetch_all(&*self.db).await?;
        let mut by_audit: BTreeMap<String, BTreeMap<String, CategoryScore>> = BTreeMap::new();
        for (audit, id, title, score) in scores {
            by_audit
                .entry(audit)
                .or_default()
                .insert(id.clone(), CategoryScore { id, title, score });
        }
        for r in rows {
            let categories = by_audit.remove(&r.id);
            items.push(AuditListItem {
                categories: categories
                    .or_else(|| (r.status == AuditStatus::Completed).then(BTreeMap::new)),
                id: r.id,
                url: r.url,
                time_created: r.time_created,
                time_completed: r.time_completed,
                status: r.status,
                failure: r.failure,
            });
        }
        Ok(items)
    }

    /// One audit with its report.
    pub(crate) async fn audit(&self, id: &str) -> Result<Option<AuditBody>, DatabaseError> {
        let row: Option<AuditRow> = Sql::new(format!(
            "SELECT {AUDIT_COLUMNS} FROM lighthouse_audits WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&*self.db)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let (report,): (Option<String>,) =
            Sql::new("SELECT report FROM lighthouse_audits WHERE id = ?")
                .bind(id)
                .fetch_one(&*self.db)
                .await?;
        let item = self.with_scores(vec![row]).await?.into_iter().next();
        Ok(item.map(|item| AuditBody {
            item,
            report: report.and_then(|r| serde_json::from_str(&r).ok()),
        }))
    }

    /// A page of audits, newest first.
    pub(crate) async fn audits(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<ListResponse<AuditListItem>, DatabaseError> {
        let rows: Vec<AuditRow> = Sql::new(format!(
            "SELECT {AUDIT_COLUMNS} FROM lighthouse_audits ORDER BY time_created DESC, id LIMIT ? OFFSET ?"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&*self.db)
        .await?;
        let (total,): (i64,) = Sql::new("SELECT COUNT(*) FROM lighthouse_audits")
            .fetch_one(&*self.db)
            .await?;
        Ok(ListResponse {
            items: self.with_scores(rows).await?,
            total,
            limit,
            offset,
        })
    }

    /// A website's newest `limit` audits, or `None` when it has none.
    pub(crate) async fn website(
        &self,
        url: &str,
        limit: i64,
    ) -> Result<Option<Website>, DatabaseError> {
        let rows: Vec<AuditRow> = Sql::new(format!(
            "SELECT {AUDIT_COLUMNS} FROM lighthouse_audits WHERE url = ? ORDER BY time_created DESC, id LIMIT ?"
        ))
        .bind(url)
        .bind(limit)
        .fetch_all(&*self.db)
        .await?;
        let audits = self.with_scores(rows).await?;
        Ok(audits.first().cloned().map(|last_audit| Website {
            url: url.to_string(),
            audits,
            last_audit,
        }))
    }

    /// A page of websites, the most recently audited first, each with its newest
    /// `audits_per_site` audits.
    pub(crate) async fn websites(
        &self,
        limit: i64,
        offset: i64,
        audits_per_site: i64,
    ) -> Result<ListResponse<Website>, DatabaseError> {
        let urls: Vec<(String,)> = Sql::new(
            "SELECT url FROM lighthouse_audits GROUP BY url ORDER BY MAX(time_created) DESC, url LIMIT ? OFFSET ?",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(&*self.db)
        .await?;
        let (total,): (i64,) = Sql::new("SELECT COUNT(DISTINCT url) FROM lighthouse_audits")
            .fetch_one(&*self.db)
            .await?;
        let mut items = Vec::with_capacity(urls.len());
        for (url,) in urls {
            if let Some(site) = self.website(&url, audits_per_site).await? {
                items.push(site);
            }
        }
        Ok(ListResponse {
            items,
            total,
            limit,
            offset,
        })
    }

    /// Every audited URL (for the scheduled re-audit), at most `limit`.
    pub(crate) async fn urls(&self, limit: i64) -> Result<Vec<String>, DatabaseError> {
        let urls: Vec<(String,)> =
            Sql::new("SELECT DISTINCT url FROM lighthouse_audits ORDER BY url LIMIT ?")
                .bind(limit)
                .fetch_all(&*self.db)
                .await?;
        Ok(urls.into_iter().map(|(u,)| u).collect())
    }

    /// Deletes an audit and its scores.
    pub(crate) async fn delete(&self, id: &str) -> Result<bool, DatabaseError> {
        let mut tx = self.db.begin().await?;
        Sql::new("DELETE FROM lighthouse_categories WHERE audit_id = ?")
            .bind(id)
            .execute(&mut tx)
            .await?;
        let deleted = Sql::new("DELETE FROM lighthouse_audits WHERE id = ?")
            .bind(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }
}
