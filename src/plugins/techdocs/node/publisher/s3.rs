//! The S3-compatible object-store publisher (cargo feature `s3`).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::{
    METADATA_FILE, PublishResponse, Publisher, StaticFile, content_type_for, list_files,
    safe_file_path,
};
use crate::plugins::techdocs::common::{DocsEntity, TechDocsMetadata};
use crate::plugins::techdocs::node::PublisherError;
use crate::services::config::Config;

const SIGN_FOR: Duration = Duration::from_secs(300);

/// Settings of [`AwsS3Publisher`], from `techdocs.publisher.awsS3`.
///
/// ```
/// use backlot::plugins::techdocs::node::AwsS3PublisherConfig;
/// use backlot::services::config::Config;
///
/// let config = Config::from_value(serde_json::json!({"techdocs": {"publisher": {"awsS3": {
///     "bucketName": "docs", "region": "eu-west-1", "endpoint": "http://127.0.0.1:9000",
///     "s3ForcePathStyle": true,
///     "credentials": {"accessKeyId": "a", "secretAccessKey": "s"},
/// }}}}));
/// let s3 = AwsS3PublisherConfig::from_config(&config)?;
/// assert_eq!(s3.bucket_name, "docs");
/// assert!(s3.force_path_style);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsS3PublisherConfig {
    /// `bucketName`.
    pub bucket_name: String,
    /// `bucketRootPath`: a key prefix (default none).
    pub bucket_root_path: String,
    /// `region` (default `us-east-1`).
    pub region: String,
    /// `endpoint` (default `https://s3.<region>.amazonaws.com`).
    pub endpoint: Option<String>,
    /// `s3ForcePathStyle`: path-style URLs, as most S3-compatible servers need.
    pub force_path_style: bool,
    /// `credentials.accessKeyId` (default: the `AWS_ACCESS_KEY_ID` environment variable).
    pub access_key_id: Option<String>,
    /// `credentials.secretAccessKey` (default: `AWS_SECRET_ACCESS_KEY`).
    pub secret_access_key: Option<String>,
}

impl AwsS3PublisherConfig {
    /// Reads `techdocs.publisher.awsS3`.
    ///
    /// # Errors
    ///
    /// [`PublisherError::InvalidConfig`] naming the key.
    pub fn from_config(config: &Config) -> Result<Self, PublisherError> {
        let base = "techdocs.publisher.awsS3";
        let raw: RawS3 = config
            .opt_get_as(base)
            .map_err(|e| PublisherError::InvalidConfig {
                key: e.path().unwrap_or(base).to_owned(),
                reason: e.to_string(),
            })?
            .unwrap_or_default();
        Ok(Self {
            bucket_name: raw
                .bucket_name
                .ok_or_else(|| PublisherError::InvalidConfig {
                    key: format!("{base}.bucketName"),
                    reason: "is required".to_owned(),
                })?,
            bucket_root_path: raw
                .bucket_root_path
                .unwrap_or_default()
                .trim_matches('/')
                .to_owned(),
            region: raw.region.unwrap_or_else(|| "us-east-1".to_owned()),
            endpoint: raw.endpoint,
            force_path_style: raw.s3_force_path_style,
            access_key_id: raw.credentials.access_key_id,
            secret_access_key: raw.credentials.secret_access_key,
        })
    }
}

/// `techdocs.publisher.awsS3` as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawS3 {
    bucket_name: Option<String>,
    bucket_root_path: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    #[serde(default)]
    s3_force_path_style: bool,
    #[serde(default)]
    credentials: RawCredentials,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCredentials {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
}

/// Publishes to an S3-compatible bucket: objects `<bucketRootPath>/<namespace>/<kind>/<name>/<file>`,
/// signed with AWS signature v4 (presigned URLs) and sent with `reqwest`.
///
/// ```no_run
/// use backlot::plugins::techdocs::node::{AwsS3Publisher, AwsS3PublisherConfig, Publisher};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = AwsS3PublisherConfig::default();
/// config.bucket_name = "docs".into();
/// config.endpoint = Some("http://127.0.0.1:9000".into());
/// config.force_path_style = true;
/// config.access_key_id = Some("test".into());
/// config.secret_access_key = Some("test".into());
/// let publisher = AwsS3Publisher::new(config)?;
/// publisher.create_bucket().await?;
/// let meta = publisher.fetch_metadata(&"default/component/x".parse()?).await;
/// # let _ = meta;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AwsS3Publisher {
    bucket: Bucket,
    credentials: Credentials,
    root: String,
    case_sensitive: bool,
    http: reqwest::Client,
}

impl AwsS3Publisher {
    /// A publisher for the configured bucket.
    ///
    /// # Errors
    ///
    /// [`PublisherError::InvalidConfig`] for a bad endpoint or missing credentials.
    pub fn new(config: AwsS3PublisherConfig) -> Result<Self, PublisherError> {
        let bad = |key: &str, reason: String| PublisherError::InvalidConfig {
            key: format!("techdocs.publisher.awsS3.{key}"),
            reason,
        };
        let endpoint = config
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", config.region));
        let endpoint = url::Url::parse(&endpoint).map_err(|e| bad("endpoint", e.to_string()))?;
        let style = if config.force_path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            config.bucket_name.clone(),
            config.region.clone(),
        )
        .map_err(|e| bad("endpoint", e.to_string()))?;
        let credentials = match (config.access_key_id, config.secret_access_key) {
            (Some(k), Some(s)) => Credentials::new(k, s),
            _ => Credentials::from_env().ok_or_else(|| {
                bad(
                    "credentials",
                    "no credentials configured and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY unset"
                        .to_owned(),
                )
            })?,
        };
        Ok(Self {
            bucket,
            credentials,
            root: config.bucket_root_path,
            case_sensitive: false,
            http: crate::services::http_client::default_http_client(),
        })
    }

    /// Talks to S3 through `http` (for its timeouts).
    #[must_use]
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// Keeps the letter case of namespace, kind and name in keys.
    #[must_use]
    pub fn case_sensitive(mut self, yes: bool) -> Self {
        self.case_sensitive = yes;
        self
    }

    /// Creates the bucket (an existing bucket owned by the caller is fine).
    ///
    /// # Errors
    ///
    /// [`PublisherError::Storage`] when the store refuses.
    pub async fn create_bucket(&self) -> Result<(), PublisherError> {
        let url = self.bucket.create_bucket(&self.credentials).sign(SIGN_FOR);
        let res = self
            .http
            .put(url)
            .header("content-length", "0")
            .body(Vec::new())
            .send()
            .await
            .map_err(|e| self.err("", e))?;
        let status = res.status();
        if status.is_success() || status.as_u16() == 409 {
            Ok(())
        } else {
            Err(PublisherError::Storage {
                key: self.bucket.name().to_owned(),
                reason: format!("create bucket: http status {}", status.as_u16()),
            })
        }
    }

    fn key(&self, entity: &DocsEntity, rel: &str) -> String {
        let mut key = String::new();
        if !self.root.is_empty() {
            key.push_str(&self.root);
            key.push('/');
        }
        key.push_str(&entity.storage_path(self.case_sensitive));
        key.push('/');
        key.push_str(rel);
        key
    }

    fn err(&self, key: &str, e: reqwest::Error) -> PublisherError {
        PublisherError::Storage {
            key: key.to_owned(),
            reason: e.to_string(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, PublisherError> {
        let url = self
            .bucket
            .get_object(Some(&self.credentials), key)
            .sign(SIGN_FOR);
        let res = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| self.err(key, e))?;
        match res.status().as_u16() {
            200 => Ok(Some(res.bytes().await.map_err(|e| self.err(key, e))?)),
            404 => Ok(None),
            s => Err(PublisherError::Storage {
                key: key.to_owned(),
                reason: format!("http status {s}"),
            }),
        }
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PublisherError> {
        let url = self
            .bucket
            .put_object(Some(&self.credentials), key)
            .sign(SIGN_FOR);
        let res = self
            .http
            .put(url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| self.err(key, e))?;
        let status = res.status().as_u16();
        if res.status().is_success() {
            Ok(())
        } else {
            let body = res.text().await.unwrap_or_default();
            Err(PublisherError::Storage {
                key: key.to_owned(),
                reason: format!("http status {status}{}", s3_error_code(&body)),
            })
        }
    }

    async fn delete(&self, key: &str) -> Result<(), PublisherError> {
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), key)
            .sign(SIGN_FOR);
        self.http
            .delete(url)
            .send()
            .await
            .map_err(|e| self.err(key, e))?;
        Ok(())
    }
}

/// `: <Code>` from an S3 error body such as `<Error><Code>NoSuchBucket</Code>…`.
fn s3_error_code(body: &str) -> String {
    body.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| format!(": {code}"))
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl Publisher for AwsS3Publisher {
    async fn publish(
        &self,
        entity: &DocsEntity,
        directory: &Path,
    ) -> Result<PublishResponse, PublisherError> {
        let dir = directory.to_path_buf();
        let files = tokio::task::spawn_blocking(move || list_files(&dir))
            .await
            .map_err(|e| PublisherError::Io {
                path: directory.to_path_buf(),
                source: std::io::Error::other(e),
            })??;
        let old = self
            .fetch_metadata(entity)
            .await
            .map(|m| m.files)
            .unwrap_or_default();
        let ordered = files
            .iter()
            .filter(|f| f.as_str() != METADATA_FILE)
            .chain(files.iter().filter(|f| f.as_str() == METADATA_FILE));
        let mut objects = Vec::with_capacity(files.len());
        for rel in ordered {
            let path = directory.join(rel);
            let body = tokio::fs::read(&path)
                .await
                .map_err(|source| PublisherError::Io { path, source })?;
            let key = self.key(entity, rel);
            self.put(&key, body, content_type_for(rel)).await?;
            objects.push(key);
        }
        for stale in old.iter().filter(|f| !files.contains(f)) {
            if let Ok(rel) = safe_file_path(stale) {
                self.delete(&self.key(entity, &rel)).await?;
            }
        }
        Ok(PublishResponse { objects })
    }

    async fn fetch_metadata(
        &self,
        entity: &DocsEntity,
    ) -> Result<TechDocsMetadata, PublisherError> {
        let key = self.key(entity, METADATA_FILE);
        let bytes = self
            .get(&key)
            .await?
            .ok_or_else(|| PublisherError::NotFound { path: key.clone() })?;
        serde_json::from_slice(&bytes)
            .map_err(|source| PublisherError::InvalidMetadata { path: key, source })
    }

    async fn read_file(
        &self,
        entity: &DocsEntity,
        path: &str,
    ) -> Result<StaticFile, PublisherError> {
        let rel = safe_file_path(path)?;
        let key = self.key(entity, &rel);
        if let Some(content) = self.get(&key).await? {
            return Ok(StaticFile {
                content_type: content_type_for(&rel),
                path: rel,
                content,
            });
        }
        if !rel.ends_with("index.html") {
            let index = format!("{rel}/index.html");
            if let Some(content) = self.get(&self.key(entity, &index)).await? {
                return Ok(StaticFile {
                    content_type: content_type_for(&index),
                    path: index,
                    content,
                });
            }
        }
        Err(PublisherError::NotFound { path: key })
    }
}
