//! Errors of the Kubernetes utility API.

/// A Kubernetes API request that failed. Failures of single clusters are not errors: they
/// come back in the answer's per-cluster `errors`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubernetesApiError {
    /// The request could not be sent or its body not read (the timeout included).
    #[error("kubernetes request to {url} failed")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The backend answered with an error status.
    #[error("kubernetes request to {url} returned {status}: {message}")]
    Response {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Backstage's error name (`NotAllowedError`, `InputError`, …).
        name: String,
        /// The error message from the body.
        message: String,
    },
    /// The answer was larger than the client accepts.
    #[error("kubernetes response from {url} is larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit (`kubernetes.frontend.maxResponseBytes`).
        limit: usize,
    },
    /// The body was not the expected JSON.
    #[error("kubernetes response from {url} could not be decoded")]
    Decode {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The implementation does not do this.
    #[error("the kubernetes api does not support {operation}")]
    Unsupported {
        /// What was asked.
        operation: &'static str,
    },
}

impl KubernetesApiError {
    /// The HTTP status the backend answered with, when it answered with an error.
    ///
    /// ```
    /// use backlot::plugins::kubernetes::react::KubernetesApiError;
    ///
    /// let e = KubernetesApiError::Response {
    ///     url: "/services/shop".into(), status: 403, name: "NotAllowedError".into(), message: "no".into(),
    /// };
    /// assert_eq!(e.status(), Some(403));
    /// assert_eq!(e.user_message(), "no");
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Response { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What to show a person: the backend's message for error answers, else the error.
    pub fn user_message(&self) -> String {
        match self {
            Self::Response { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}
