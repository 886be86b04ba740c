use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The page cursor of the built-in engines: base64 of the JSON `{"page":n}` (0-based), as
/// Backstage's Lunr and PostgreSQL engines write it.
///
/// ```
/// use backlot::plugins::search::common::PageCursor;
///
/// let cursor = PageCursor { page: 2 }.encode();
/// assert_eq!(PageCursor::decode(&cursor), Some(PageCursor { page: 2 }));
/// assert_eq!(PageCursor::decode("not a cursor"), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageCursor {
    /// The 0-based page number.
    pub page: usize,
}

impl PageCursor {
    /// The cursor as an opaque string.
    pub fn encode(self) -> String {
        STANDARD.encode(format!("{{\"page\":{}}}", self.page))
    }

    /// Reads a cursor; `None` when it is not one of ours.
    pub fn decode(cursor: &str) -> Option<Self> {
        let bytes = STANDARD.decode(cursor).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
