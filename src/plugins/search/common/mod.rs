//! Types shared by the search plugin, its modules and its clients: documents, queries and
//! result sets in Backstage's wire shape.

mod cursor;
mod document;
mod query;
mod result;

pub use cursor::PageCursor;
pub use document::{DocumentAuthorization, SearchDocument};
pub use query::{FilterValue, SearchQuery};
pub use result::{ResultHighlight, SearchResult, SearchResultSet};
