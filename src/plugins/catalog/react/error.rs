//! Errors of the catalog utility API.

use crate::frontend::PageError;
use crate::plugins::catalog::common::CatalogClientError;

/// A catalog API call that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogApiError {
    /// The HTTP call to the catalog failed or was answered with an error.
    #[error(transparent)]
    Client(#[from] CatalogClientError),
    /// Any other failure of an implementation.
    #[error("catalog api failed: {0}")]
    Other(String),
}

impl CatalogApiError {
    /// The HTTP status the catalog answered with, if it answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Client(e) => e.status(),
            Self::Other(_) => None,
        }
    }
}

impl From<CatalogApiError> for PageError {
    /// A 400 from the catalog (a bad filter or cursor) is the visitor's bad request; anything
    /// else is an internal error (logged, not shown).
    fn from(error: CatalogApiError) -> Self {
        if let CatalogApiError::Client(CatalogClientError::Response {
            status: 400,
            message,
            ..
        }) = &error
        {
            return PageError::bad_request(message.clone());
        }
        PageError::internal(
            std::error::Error::source(&error)
                .map_or_else(|| error.to_string(), |source| format!("{error}: {source}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_requests_stay_bad_requests() {
        let e = CatalogApiError::Client(CatalogClientError::Response {
            method: "GET".into(),
            url: "http://x/api/catalog/entities/by-query".into(),
            status: 400,
            name: "InputError".into(),
            message: "malformed cursor".into(),
        });
        let page = PageError::from(e);
        assert_eq!(page.status_code(), 400);
        assert_eq!(page.message(), "malformed cursor");
        let e = CatalogApiError::Other("down".into());
        assert_eq!(PageError::from(e).status_code(), 500);
    }
}
