//! Outgoing HTTP clients with a connect and a request timeout, so that a slow or silent peer
//! (a backend plugin, an S3 endpoint) cannot hold a page, a collator or a build for ever.
//!
//! Plugins build their clients here rather than with `reqwest::Client::new()`:
//! [`http_client`] reads `backend.httpClient.connectTimeout` (default 10 s) and
//! `backend.httpClient.requestTimeout` (default 60 s, body included); [`default_http_client`]
//! has the defaults, for constructors without config.

use std::time::Duration;

use super::config::duration::positive_duration;
use super::config::{Config, ConfigError};

/// The default of `backend.httpClient.connectTimeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of `backend.httpClient.requestTimeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// The timeouts of outgoing HTTP clients.
///
/// ```
/// use std::time::Duration;
/// use backlot::services::config::Config;
/// use backlot::services::http_client::HttpClientTimeouts;
///
/// let config = Config::from_value(serde_json::json!({
///     "backend": { "httpClient": { "connectTimeout": "2s", "requestTimeout": { "seconds": 30 } } }
/// }));
/// let timeouts = HttpClientTimeouts::from_config(&config)?;
/// assert_eq!(timeouts.connect, Duration::from_secs(2));
/// assert_eq!(timeouts.request, Duration::from_secs(30));
/// let _client = timeouts.client();
/// # Ok::<(), backlot::services::config::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpClientTimeouts {
    /// How long establishing a connection may take.
    pub connect: Duration,
    /// How long a whole request may take, reading the response body included.
    pub request: Duration,
}

impl Default for HttpClientTimeouts {
    fn default() -> Self {
        Self {
            connect: DEFAULT_CONNECT_TIMEOUT,
            request: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl HttpClientTimeouts {
    /// Reads `backend.httpClient.connectTimeout` and `backend.httpClient.requestTimeout`.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key of a value that is not a positive duration.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            connect: positive_duration(
                config,
                "backend.httpClient.connectTimeout",
                DEFAULT_CONNECT_TIMEOUT,
            )?,
            request: positive_duration(
                config,
                "backend.httpClient.requestTimeout",
                DEFAULT_REQUEST_TIMEOUT,
            )?,
        })
    }

    /// A client builder with these timeouts, for a client that needs more settings (such as
    /// no redirects) on top of them.
    ///
    /// ```
    /// use backlot::services::http_client::HttpClientTimeouts;
    ///
    /// let client = HttpClientTimeouts::default()
    ///     .builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()?;
    /// # drop(client);
    /// # Ok::<(), reqwest::Error>(())
    /// ```
    pub fn builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(self.connect)
            .timeout(self.request)
            // Below the server's default keep-alive timeout (5 s), so that a pooled connection
            // is not reused just as the backend closes it.
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
    }

    /// A client with these timeouts.
    pub fn client(&self) -> reqwest::Client {
        self.builder()
            .build()
            // Building fails only if the TLS backend cannot start, which `Client::new` would
            // turn into a panic; keep serving with the default client's behaviour instead.
            .unwrap_or_default()
    }
}

/// A client with the timeouts of `config` (`backend.httpClient.*`).
///
/// ```
/// use backlot::services::config::Config;
///
/// let client = backlot::services::http_client::http_client(&Config::default())?;
/// # drop(client);
/// # Ok::<(), backlot::services::config::ConfigError>(())
/// ```
///
/// # Errors
///
/// A [`ConfigError`] for an invalid timeout.
pub fn http_client(config: &Config) -> Result<reqwest::Client, ConfigError> {
    Ok(HttpClientTimeouts::from_config(config)?.client())
}

/// A client with the default timeouts (10 s to connect, 60 s per request).
pub fn default_http_client() -> reqwest::Client {
    HttpClientTimeouts::default().client()
}

/// Why [`read_body_capped`] gave up on an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CappedBodyError {
    /// The answer (announced or received) is larger than the limit.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// Reading the answer failed.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

/// Reads the body of `response`, giving up as soon as it is (or announces to be) larger than
/// `limit` bytes, so a hostile peer cannot make the caller buffer an unbounded answer.
pub(crate) async fn read_body_capped(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, CappedBodyError> {
    let too_large = || CappedBodyError::TooLarge { limit };
    let announced = response.content_length();
    if announced.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body =
        Vec::with_capacity(announced.map_or(8192, |n| usize::try_from(n).unwrap_or(8192)));
    while let Some(chunk) = response.chunk().await? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
