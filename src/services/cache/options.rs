//! Per-call and per-client options.

use std::time::Duration;

/// Options of one [`CacheClient::set`](super::CacheClient::set) call.
///
/// ```
/// use std::time::Duration;
/// use backlot::services::cache::SetOptions;
///
/// let opts = SetOptions::ttl(Duration::from_secs(60));
/// assert_eq!(opts.ttl, Some(Duration::from_secs(60)));
/// assert_eq!(SetOptions::default().ttl, None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetOptions {
    /// How long the value lives; `None` uses the client's default TTL (and with none of
    /// those, the value lives until evicted). A zero TTL means "no expiry", as in keyv.
    pub ttl: Option<Duration>,
}

impl SetOptions {
    /// Options with the given time to live.
    pub const fn ttl(ttl: Duration) -> Self {
        Self { ttl: Some(ttl) }
    }
}

/// Options of a [`CacheClient`](super::CacheClient), given to
/// [`CacheClient::with_options`](super::CacheClient::with_options).
///
/// ```
/// use std::time::Duration;
/// use backlot::services::cache::CacheClientOptions;
///
/// let opts = CacheClientOptions::default_ttl(Duration::from_secs(3600));
/// assert_eq!(opts.default_ttl, Some(Duration::from_secs(3600)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheClientOptions {
    /// The TTL of values set without one; `None` keeps the client's current default.
    pub default_ttl: Option<Duration>,
}

impl CacheClientOptions {
    /// Options with the given default time to live.
    pub const fn default_ttl(ttl: Duration) -> Self {
        Self {
            default_ttl: Some(ttl),
        }
    }
}
