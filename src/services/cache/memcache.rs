//! The memcached store (`backend.cache.store: memcache`): backlot's own small client for
//! memcached's binary protocol over tokio TCP, with SASL PLAIN authentication (what
//! Backstage's `user:pass@host:port` connection strings mean).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::config::{self, CacheConfig, invalid};
use super::error::BoxError;
use super::manager::BuiltStore;
use super::reconnect::{ConnectFn, Reconnecting};
use super::{CacheError, CacheStore};

const REQUEST_MAGIC: u8 = 0x80;
const RESPONSE_MAGIC: u8 = 0x81;
const OP_GET: u8 = 0x00;
const OP_SET: u8 = 0x01;
const OP_DELETE: u8 = 0x04;
const OP_SASL_AUTH: u8 = 0x21;
const STATUS_OK: u16 = 0x0000;
const STATUS_NOT_FOUND: u16 = 0x0001;
const HEADER_LEN: usize = 24;
/// Largest response body accepted; anything bigger is treated as garbage.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// memcached reads expirations above 30 days as absolute unix times.
const RELATIVE_EXPIRY_LIMIT: u64 = 60 * 60 * 24 * 30;

/// Settings of a [`MemcacheStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemcacheStoreOptions {
    /// Bound of one operation, waiting for a connection included (`backend.cache.timeout`).
    pub timeout: Duration,
    /// Bound of one background connection attempt (`backend.cache.connectTimeout`).
    pub connect_timeout: Duration,
    /// Connections per server (`backend.cache.memcache.poolSize`, default 4); each carries
    /// one request at a time.
    pub pool_size: usize,
}

impl Default for MemcacheStoreOptions {
    fn default() -> Self {
        Self {
            timeout: config::DEFAULT_TIMEOUT,
            connect_timeout: config::DEFAULT_CONNECT_TIMEOUT,
            pool_size: 4,
        }
    }
}

/// A cache store on one or more memcached servers.
///
/// The connection string is Backstage's: `host:port` or `user:pass@host:port`, several
/// servers separated by commas (keys are spread over them by hash). With credentials, every
/// connection authenticates with SASL PLAIN (memcached started with `-S`). TTLs have
/// one-second resolution (rounded up).
///
/// ```no_run
/// use backlot::services::cache::{CacheStore, MemcacheStore, MemcacheStoreOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), backlot::services::cache::CacheError> {
/// let store = MemcacheStore::new("127.0.0.1:11211", MemcacheStoreOptions::default())?;
/// store.set("catalog:k", b"1".to_vec(), None).await?;
/// assert_eq!(store.get("catalog:k").await?, Some(b"1".to_vec()));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MemcacheStore {
    servers: Vec<Server>,
    timeout: Duration,
}

#[derive(Debug)]
struct Server {
    addr: String,
    pool: Vec<Reconnecting<Arc<Mutex<Conn>>>>,
    next: AtomicUsize,
}

#[derive(Debug, Clone)]
struct Credentials {
    user: String,
    pass: String,
}

impl MemcacheStore {
    /// A store for the servers in `connection`; does not connect yet.
    pub fn new(connection: &str, options: MemcacheStoreOptions) -> Result<Self, CacheError> {
        let mut servers = Vec::new();
        for entry in connection
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (creds, addr) = match entry.rsplit_once('@') {
                Some((creds, addr)) => {
                    let (user, pass) = creds.split_once(':').unwrap_or((creds, ""));
                    (
                        Some(Credentials {
                            user: decode(user),
                            pass: decode(pass),
                        }),
                        addr,
                    )
                }
                None => (None, entry),
            };
            let valid = addr
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(invalid(
                    "backend.cache.connection",
                    format!("memcache server '{addr}' is not host:port"),
                ));
            }
            let pool = (0..options.pool_size.max(1))
                .map(|_| {
                    let addr_owned = addr.to_owned();
                    let creds = creds.clone();
                    let connect: ConnectFn<Arc<Mutex<Conn>>> = Arc::new(move || {
                        let addr = addr_owned.clone();
                        let creds = creds.clone();
                        Box::pin(async move {
                            Conn::open(&addr, creds.as_ref())
                                .await
                                .map(|c| Arc::new(Mutex::new(c)))
                        })
                    });
                    Reconnecting::new(addr.to_owned(), options.connect_timeout, connect)
                })
                .collect();
            servers.push(Server {
                addr: addr.to_owned(),
                pool,
                next: AtomicUsize::new(0),
            });
        }
        if servers.is_empty() {
            return Err(invalid(
                "backend.cache.connection",
                "required for the memcache store (host:port or user:pass@host:port)",
            ));
        }
        Ok(Self {
            servers,
            timeout: options.timeout,
        })
    }

    fn server(&self, key: &str) -> &Server {
        if self.servers.len() == 1 {
            return &self.servers[0];
        }
        // FNV-1a: stable across processes, so every instance picks the same server.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.servers[(hash % self.servers.len() as u64) as usize]
    }

    async fn run(
        &self,
        op: &'static str,
        key: &str,
        opcode: u8,
        extras: &[u8],
        value: &[u8],
    ) -> Result<Response, CacheError> {
        let server = self.server(key);
        let slot = &server.pool[server.next.fetch_add(1, Ordering::Relaxed) % server.pool.len()];
        let mut used = None;
        let work = async {
            let (conn, generation) = slot.get().await?;
            used = Some(generation);
            let mut conn = conn.lock().await;
            conn.request(opcode, key.as_bytes(), extras, value)
                .await
                .map_err(|err| {
                    slot.invalidate(generation);
                    err.into_cache_error(op, key, &server.addr)
                })
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => {
                if let Some(generation) = used {
                    slot.invalidate(generation);
                }
                Err(CacheError::Timeout {
                    op,
                    key: key.to_owned(),
                    server: server.addr.clone(),
                    timeout: self.timeout,
                })
            }
        }
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn status_error(op: &'static str, key: &str, server: &str, status: u16, body: &[u8]) -> CacheError {
    let message = String::from_utf8_lossy(body);
    CacheError::Server {
        op,
        key: key.to_owned(),
        server: server.to_owned(),
        source: format!("memcached status 0x{status:04x}: {message}").into(),
    }
}

#[async_trait::async_trait]
impl CacheStore for MemcacheStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let resp = self.run("get", key, OP_GET, &[], &[]).await?;
        match resp.status {
            STATUS_OK => Ok(Some(resp.value)),
            STATUS_NOT_FOUND => Ok(None),
            s => Err(status_error(
                "get",
                key,
                &self.server(key).addr,
                s,
                &resp.value,
            )),
        }
    }

    async fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), CacheError> {
        let expiry = match ttl {
            None => 0,
            Some(ttl) => {
                let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
                let secs = secs.max(1);
                if secs > RELATIVE_EXPIRY_LIMIT {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0);
                    now + secs
                } else {
                    secs
                }
            }
        };
        let expiry = u32::try_from(expiry).unwrap_or(u32::MAX);
        let mut extras = [0u8; 8]; // flags (0) then expiry
        extras[4..].copy_from_slice(&expiry.to_be_bytes());
        let resp = self.run("set", key, OP_SET, &extras, &value).await?;
        match resp.status {
            STATUS_OK => Ok(()),
            s => Err(status_error(
                "set",
                key,
                &self.server(key).addr,
                s,
                &resp.value,
            )),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), CacheError> {
        let resp = self.run("delete", key, OP_DELETE, &[], &[]).await?;
        match resp.status {
            STATUS_OK | STATUS_NOT_FOUND => Ok(()),
            s => Err(status_error(
                "delete",
                key,
                &self.server(key).addr,
                s,
                &resp.value,
            )),
        }
    }
}

/// One memcached connection.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    /// Set while a request is in flight: if the caller gave up midway (timeout), the stream
    /// is out of step and must not be used again.
    in_flight: bool,
    opaque: u32,
}

#[derive(Debug)]
struct Response {
    status: u16,
    value: Vec<u8>,
}

#[derive(Debug)]
enum ConnError {
    Io(std::io::Error),
    Protocol(String),
}

impl ConnError {
    fn into_cache_error(self, op: &'static str, key: &str, server: &str) -> CacheError {
        match self {
            ConnError::Io(err) => CacheError::Server {
                op,
                key: key.to_owned(),
                server: server.to_owned(),
                source: Box::new(err),
            },
            ConnError::Protocol(message) => CacheError::Protocol {
                op,
                key: key.to_owned(),
                server: server.to_owned(),
                message,
            },
        }
    }
}

impl From<std::io::Error> for ConnError {
    fn from(err: std::io::Error) -> Self {
        ConnError::Io(err)
    }
}

impl Conn {
    async fn open(addr: &str, creds: Option<&Credentials>) -> Result<Conn, BoxError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            in_flight: false,
            opaque: 0,
        };
        if let Some(creds) = creds {
            let mut token = Vec::with_capacity(creds.user.len() + creds.pass.len() + 2);
            token.push(0);
            token.extend_from_slice(creds.user.as_bytes());
            token.push(0);
            token.extend_from_slice(creds.pass.as_bytes());
            let resp = conn
                .request(OP_SASL_AUTH, b"PLAIN", &[], &token)
                .await
                .map_err(|e| match e {
                    ConnError::Io(e) => BoxError::from(e),
                    ConnError::Protocol(m) => BoxError::from(m),
                })?;
            if resp.status != STATUS_OK {
                return Err(format!(
                    "memcached SASL PLAIN authentication as '{}' failed (status 0x{:04x})",
                    creds.user, resp.status
                )
                .into());
            }
        }
        Ok(conn)
    }

    async fn request(
        &mut self,
        opcode: u8,
        key: &[u8],
        extras: &[u8],
        value: &[u8],
    ) -> Result<Response, ConnError> {
        if self.in_flight {
            return Err(ConnError::Protocol(
                "connection abandoned in the middle of a request".into(),
            ));
        }
        let key_len = u16::try_from(key.len())
            .map_err(|_| ConnError::Protocol("key longer than 65535 bytes".into()))?;
        let body_len = u32::try_from(extras.len() + key.len() + value.len())
            .map_err(|_| ConnError::Protocol("value too large".into()))?;
        self.opaque = self.opaque.wrapping_add(1);
        let mut request = Vec::with_capacity(HEADER_LEN + body_len as usize);
        request.extend_from_slice(&[REQUEST_MAGIC, opcode]);
        request.extend_from_slice(&key_len.to_be_bytes());
        request.extend_from_slice(&[extras.len() as u8, 0, 0, 0]);
        request.extend_from_slice(&body_len.to_be_bytes());
        request.extend_from_slice(&self.opaque.to_be_bytes());
        request.extend_from_slice(&[0; 8]); // cas
        request.extend_from_slice(extras);
        request.extend_from_slice(key);
        request.extend_from_slice(value);
        self.in_flight = true;
        self.stream.write_all(&request).await?;

        let mut head = [0u8; HEADER_LEN];
        self.stream.read_exact(&mut head).await?;
        if head[0] != RESPONSE_MAGIC || head[1] != opcode {
            return Err(ConnError::Protocol(format!(
                "expected a binary protocol response to opcode 0x{opcode:02x}, got bytes {:02x?}",
                &head[..4]
            )));
        }
        let resp_key_len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let resp_extras_len = usize::from(head[4]);
        let status = u16::from_be_bytes([head[6], head[7]]);
        let total = u32::from_be_bytes([head[8], head[9], head[10], head[11]]) as usize;
        let opaque = u32::from_be_bytes([head[12], head[13], head[14], head[15]]);
        if total > MAX_BODY || resp_key_len + resp_extras_len > total || opaque != self.opaque {
            return Err(ConnError::Protocol(format!(
                "malformed response header (body {total} bytes, key {resp_key_len}, extras {resp_extras_len})"
            )));
        }
        let mut body = vec![0u8; total];
        self.stream.read_exact(&mut body).await?;
        self.in_flight = false;
        body.drain(..resp_extras_len + resp_key_len);
        Ok(Response {
            status,
            value: body,
        })
    }
}

/// Builds the store from `backend.cache` (`root`); keys are `<pluginId>:<key>`.
pub(crate) fn build(config: &CacheConfig, root: &Value) -> Result<BuiltStore, CacheError> {
    let connection = config.connection.as_deref().unwrap_or_default();
    let mut options = MemcacheStoreOptions {
        timeout: config.timeout,
        connect_timeout: config.connect_timeout,
        ..Default::default()
    };
    if let Some(n) = config::opt_usize(root, "memcache.poolSize")? {
        if n == 0 {
            return Err(invalid(
                "backend.cache.memcache.poolSize",
                "must be at least 1",
            ));
        }
        options.pool_size = n;
    }
    Ok(BuiltStore {
        store: Arc::new(MemcacheStore::new(connection, options)?),
        namespace_prefix: String::new(),
        separator: ":".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn parses_backstage_connection_strings() {
        let s = MemcacheStore::new(
            "user:p%40ss@cache.example.com:11211, 10.0.0.2:11212",
            MemcacheStoreOptions::default(),
        )
        .unwrap();
        assert_eq!(s.servers.len(), 2);
        assert_eq!(s.servers[0].addr, "cache.example.com:11211");
        assert_eq!(s.servers[1].addr, "10.0.0.2:11212");
        for bad in ["", "host", "host:port", ":11211", "u:p@"] {
            let err = MemcacheStore::new(bad, MemcacheStoreOptions::default()).unwrap_err();
            assert!(
                matches!(&err, CacheError::InvalidConfig { key, .. } if key == "backend.cache.connection"),
                "{bad}: {err}"
            );
        }
    }

    /// A one-connection fake speaking just enough of the binary protocol to check framing,
    /// SASL and expiry encoding; the real-server suite lives in tests/cache_stores.rs.
    #[tokio::test]
    async fn frames_requests_and_authenticates() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            for _ in 0..3 {
                let mut head = [0u8; 24];
                sock.read_exact(&mut head).await.unwrap();
                let total = u32::from_be_bytes(head[8..12].try_into().unwrap()) as usize;
                let mut body = vec![0u8; total];
                sock.read_exact(&mut body).await.unwrap();
                seen.push((head[1], head[4], body.clone()));
                let mut resp = [0u8; 24];
                resp[0] = RESPONSE_MAGIC;
                resp[1] = head[1];
                resp[12..16].copy_from_slice(&head[12..16]);
                if head[1] == OP_GET {
                    // flags extras + value "v"
                    resp[4] = 4;
                    resp[8..12].copy_from_slice(&5u32.to_be_bytes());
                    sock.write_all(&resp).await.unwrap();
                    sock.write_all(&[0, 0, 0, 0, b'v']).await.unwrap();
                } else {
                    sock.write_all(&resp).await.unwrap();
                }
            }
            seen
        });
        let options = MemcacheStoreOptions {
            pool_size: 1,
            ..Default::default()
        };
        let store = MemcacheStore::new(&format!("al:pw@{addr}"), options).unwrap();
        store
            .set("k", b"val".to_vec(), Some(Duration::from_millis(1500)))
            .await
            .unwrap();
        assert_eq!(store.get("k").await.unwrap(), Some(b"v".to_vec()));
        let seen = server.await.unwrap();
        assert_eq!(seen[0], (OP_SASL_AUTH, 0, b"PLAIN\0al\0pw".to_vec()));
        assert_eq!(seen[1].0, OP_SET);
        assert_eq!(seen[1].1, 8);
        assert_eq!(
            &seen[1].2[..8],
            &[0, 0, 0, 0, 0, 0, 0, 2],
            "1.5 s rounds up to 2"
        );
        assert_eq!(&seen[1].2[8..], b"kval");
        assert_eq!(seen[2], (OP_GET, 0, b"k".to_vec()));
    }
}
