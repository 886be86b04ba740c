//! The generic HTTP reader for hosts in `backend.reading.allow` (Backstage `FetchUrlReader`).

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use url::Url;

use super::path::has_glob;
use super::{
    AllowList, ReadTreeOptions, ReadTreeResponse, ReadUrlOptions, ReadUrlResponse, SearchFile,
    SearchOptions, SearchResponse, UrlReader, UrlReaderError, UrlReaderLimits,
};

/// The most redirects one read follows.
const MAX_REDIRECTS: usize = 10;

/// Reads `http:` and `https:` URLs whose host is in the allow-list, with a plain `GET`.
///
/// - `read_url` sends `If-None-Match` for a given etag and `If-Modified-Since` for a given
///   date; a `304` answer, or a `200` whose `ETag` equals the given etag, is
///   [`UrlReaderError::NotModified`]. `404` and `410` are [`UrlReaderError::NotFound`], other
///   non-2xx answers [`UrlReaderError::Http`]. The body is streamed and cut off with
///   [`UrlReaderError::TooLarge`] past the size limit; the whole request has a timeout.
/// - Redirects are followed (at most 10) only to URLs the allow-list also allows; others end
///   the read with [`UrlReaderError::NotAllowed`] naming the redirect target.
/// - `read_tree` is [`UrlReaderError::Unsupported`]: a plain web server has no trees.
/// - `search` with a URL without glob characters reads that URL and returns it as the one
///   file (no files when it is not found); glob URLs are [`UrlReaderError::Unsupported`].
///
/// ```no_run
/// use backlot::services::url_reader::{
///     AllowList, AllowRule, FetchUrlReader, ReadUrlOptions, UrlReader, UrlReaderLimits,
/// };
/// use url::Url;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let allow = AllowList::new(vec![AllowRule::parse("example.com")?]);
/// let reader = FetchUrlReader::new(allow, UrlReaderLimits::default())?;
/// let res = reader
///     .read_url(&Url::parse("https://example.com/catalog-info.yaml")?, &ReadUrlOptions::new())
///     .await?;
/// println!("{} bytes, etag {:?}", res.bytes.len(), res.etag);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct FetchUrlReader {
    client: reqwest::Client,
    allow: Arc<AllowList>,
    limits: UrlReaderLimits,
}

/// The redirect policy's refusal, found again in the client error's source chain.
#[derive(Debug)]
struct RedirectNotAllowed(String);

impl fmt::Display for RedirectNotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redirect to '{}' is not allowed", self.0)
    }
}

impl StdError for RedirectNotAllowed {}

impl FetchUrlReader {
    /// A reader for the hosts in `allow`, with the size limit and timeout of `limits`.
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::Client`] when the HTTP client cannot be built (TLS setup).
    pub fn new(allow: AllowList, limits: UrlReaderLimits) -> Result<Self, UrlReaderError> {
        Self::with_resolved(allow, limits, &[])
    }

    /// Like [`new`](Self::new), but connects to fixed addresses for the given host names
    /// instead of asking DNS (like `curl --resolve`; the port always comes from the URL).
    /// For split-horizon setups and tests; the allow-list still applies to the host name.
    ///
    /// ```
    /// use backlot::services::url_reader::{AllowList, AllowRule, FetchUrlReader, UrlReader, UrlReaderLimits};
    /// use url::Url;
    ///
    /// let allow = AllowList::new(vec![AllowRule::parse("*.git.test:8080")?]);
    /// let pinned = [("docs.git.test".to_owned(), "127.0.0.1:0".parse()?)];
    /// let reader = FetchUrlReader::with_resolved(allow, UrlReaderLimits::default(), &pinned)?;
    /// assert!(reader.can_read(&Url::parse("http://docs.git.test:8080/a")?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`UrlReaderError::Client`] when the HTTP client cannot be built (TLS setup).
    pub fn with_resolved(
        allow: AllowList,
        limits: UrlReaderLimits,
        resolved: &[(String, SocketAddr)],
    ) -> Result<Self, UrlReaderError> {
        let allow = Arc::new(allow);
        let policy_allow = Arc::clone(&allow);
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error("too many redirects");
            }
            let target = attempt.url();
            if matches!(target.scheme(), "http" | "https") && policy_allow.allows(target) {
                attempt.follow()
            } else {
                let refused = RedirectNotAllowed(target.to_string());
                attempt.error(refused)
            }
        });
        let mut builder = reqwest::Client::builder();
        for (host, addr) in resolved {
            builder = builder.resolve(host, *addr);
        }
        let client = builder
            .redirect(policy)
            .timeout(limits.timeout)
            .connect_timeout(limits.connect_timeout)
            .user_agent(concat!("backlot-url-reader/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| UrlReaderError::Client { source })?;
        Ok(Self {
            client,
            allow,
            limits,
        })
    }

    /// The allow-list this reader checks.
    pub fn allow_list(&self) -> &AllowList {
        &self.allow
    }

    fn request_error(&self, url: &Url, source: reqwest::Error) -> UrlReaderError {
        let mut cause: Option<&(dyn StdError + 'static)> = Some(&source);
        while let Some(err) = cause {
            if let Some(refused) = err.downcast_ref::<RedirectNotAllowed>() {
                return UrlReaderError::NotAllowed {
                    url: refused.0.clone(),
                };
            }
            cause = err.source();
        }
        if source.is_timeout() {
            return UrlReaderError::Timeout {
                url: url.to_string(),
            };
        }
        UrlReaderError::Request {
            url: url.to_string(),
            source,
        }
    }

    async fn fetch(
        &self,
        url: &Url,
        opts: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReaderError> {
        if !self.can_read(url) {
            return Err(UrlReaderError::NotAllowed {
                url: url.to_string(),
            });
        }
        let mut request = self.client.get(url.clone());
        if let Some(etag) = &opts.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(after) = opts.last_modified_after {
            request = request.header(IF_MODIFIED_SINCE, http_date(after));
        }
        if let Some(token) = &opts.token {
            request = request.bearer_auth(token);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| self.request_error(url, e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Err(UrlReaderError::NotModified {
                url: url.to_string(),
            });
        }
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Err(UrlReaderError::NotFound {
                url: url.to_string(),
            });
        }
        if !status.is_success() {
            return Err(UrlReaderError::Http {
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        let headers = response.headers();
        let etag = headers
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let last_modified_at = headers
            .get(LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|d| d.with_timezone(&Utc));
        if etag.is_some() && etag == opts.etag {
            return Err(UrlReaderError::NotModified {
                url: url.to_string(),
            });
        }
        let limit = self.limits.max_size;
        let too_large = || UrlReaderError::TooLarge {
            url: url.to_string(),
            limit,
        };
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.request_error(url, e))?
        {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let mut res = ReadUrlResponse::new(Bytes::from(body));
        res.etag = etag;
        res.last_modified_at = last_modified_at;
        Ok(res)
    }
}

/// Formats a date as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[async_trait::async_trait]
impl UrlReader for FetchUrlReader {
    fn can_read(&self, url: &Url) -> bool {
        matches!(url.scheme(), "http" | "https") && self.allow.allows(url)
    }

    async fn read_url(
        &self,
        url: &Url,
        opts: &ReadUrlOptions,
    ) -> Result<ReadUrlResponse, UrlReaderError> {
        self.fetch(url, opts).await
    }

    async fn read_tree(
        &self,
        url: &Url,
        _opts: &ReadTreeOptions,
    ) -> Result<ReadTreeResponse, UrlReaderError> {
        Err(UrlReaderError::Unsupported {
            url: url.to_string(),
            operation: "read_tree",
        })
    }

    async fn search(
        &self,
        url: &Url,
        opts: &SearchOptions,
    ) -> Result<SearchResponse, UrlReaderError> {
        if has_glob(url.path()) || url.path().contains("%7B") {
            return Err(UrlReaderError::Unsupported {
                url: url.to_string(),
                operation: "search with a glob pattern",
            });
        }
        let mut read_opts = ReadUrlOptions::new();
        read_opts.etag = opts.etag.clone();
        read_opts.token = opts.token.clone();
        match self.fetch(url, &read_opts).await {
            Ok(res) => {
                let mut file = SearchFile::new(url.as_str(), res.bytes);
                file.last_modified_at = res.last_modified_at;
                Ok(SearchResponse::new(
                    vec![file],
                    res.etag.unwrap_or_default(),
                ))
            }
            Err(UrlReaderError::NotFound { .. }) => Ok(SearchResponse::new(Vec::new(), "")),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        let at = DateTime::parse_from_rfc3339("1994-11-06T08:49:37Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = http_date(at);
        assert_eq!(text, "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(DateTime::parse_from_rfc2822(&text).unwrap(), at);
    }

    #[tokio::test]
    async fn unlisted_hosts_are_refused_without_a_request() {
        let reader = FetchUrlReader::new(AllowList::default(), UrlReaderLimits::default()).unwrap();
        let url = Url::parse("http://127.0.0.1:9/x").unwrap();
        assert!(!reader.can_read(&url));
        let err = reader
            .read_url(&url, &ReadUrlOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, UrlReaderError::NotAllowed { .. }));
    }

    #[tokio::test]
    async fn trees_and_glob_searches_are_unsupported() {
        let allow = AllowList::new(vec![super::super::AllowRule::parse("example.com").unwrap()]);
        let reader = FetchUrlReader::new(allow, UrlReaderLimits::default()).unwrap();
        let url = Url::parse("https://example.com/repo/").unwrap();
        let err = reader
            .read_tree(&url, &ReadTreeOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            UrlReaderError::Unsupported {
                operation: "read_tree",
                ..
            }
        ));
        let glob = Url::parse("https://example.com/repo/**/catalog-info.yaml").unwrap();
        let err = reader
            .search(&glob, &SearchOptions::new())
            .await
            .unwrap_err();
        assert!(matches!(err, UrlReaderError::Unsupported { .. }));
    }
}
