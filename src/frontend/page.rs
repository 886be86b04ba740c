//! Pages: the request a page renders, what it returns, and its errors.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::StatusCode;
use maud::Markup;

use super::api::{ApiRef, ApiRegistry};
use super::routing::Routes;
use crate::services::config::Config;

type RenderFn = dyn Fn(PageRequest) -> Pin<Box<dyn Future<Output = Result<PageContent, PageError>> + Send>>
    + Send
    + Sync;

/// A page's render function: an async function from a [`PageRequest`] to [`PageContent`].
///
/// ```
/// use backlot::frontend::PageRenderer;
/// use maud::html;
///
/// let render = PageRenderer::new(|req| async move {
///     let who = req.query("name").unwrap_or("world").to_string();
///     Ok(html! { p { "hello " (who) } }.into())
/// });
/// # let _ = render;
/// ```
#[derive(Clone)]
pub struct PageRenderer(Arc<RenderFn>, bool);

impl fmt::Debug for PageRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageRenderer")
    }
}

impl PageRenderer {
    /// Wraps an async render function.
    pub fn new<F, Fut>(render: F) -> Self
    where
        F: Fn(PageRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<PageContent, PageError>> + Send + 'static,
    {
        Self(Arc::new(move |req| Box::pin(render(req))), false)
    }

    /// Lets the page take form posts too: a `POST` from one of the app's own pages (the same
    /// origin check as sign-in) with an `application/x-www-form-urlencoded` body of at most
    /// 1 MiB renders the page with [`PageRequest::form`] set. Pages that change something
    /// (create a task, cancel it) do it on a post and answer with
    /// [`PageContent::redirect`].
    ///
    /// ```
    /// use backlot::frontend::PageRenderer;
    ///
    /// let render = PageRenderer::new(|_req| async move { Ok(maud::html! { "ok" }.into()) }).accept_forms();
    /// assert!(render.accepts_forms());
    /// ```
    #[must_use]
    pub fn accept_forms(mut self) -> Self {
        self.1 = true;
        self
    }

    /// Whether the page takes form posts ([`accept_forms`](Self::accept_forms)).
    pub fn accepts_forms(&self) -> bool {
        self.1
    }

    /// Renders a request.
    pub async fn render(&self, req: PageRequest) -> Result<PageContent, PageError> {
        (self.0)(req).await
    }
}

/// What the app knows that every page may use.
#[derive(Debug)]
pub(crate) struct AppContext {
    pub(crate) apis: ApiRegistry,
    pub(crate) routes: Routes,
    pub(crate) config: Config,
    pub(crate) title: String,
}

/// One GET request for a page: path params, query, the rest of the path below the page, and
/// the app's utility APIs and routes.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub(crate) path: String,
    pub(crate) params: HashMap<String, String>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) rest: String,
    pub(crate) app: Arc<AppContext>,
    pub(crate) user: Option<Arc<super::SignedInUser>>,
    pub(crate) form: Option<Vec<(String, String)>>,
}

impl PageRequest {
    /// The request path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// A path param (`:name` in the page path), decoded.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The first query value for `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every query pair, in order.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The path below the page's own path (`""` for the page itself, else starting with `/`).
    pub fn rest(&self) -> &str {
        &self.rest
    }

    /// The app's utility APIs.
    pub fn apis(&self) -> &ApiRegistry {
        &self.app.apis
    }

    /// One utility API, or a 500 error naming it.
    pub fn api<T: ?Sized + Send + Sync + 'static>(
        &self,
        api: &ApiRef<T>,
    ) -> Result<Arc<T>, PageError> {
        self.app
            .apis
            .get(api)
            .ok_or_else(|| PageError::internal(format!("api '{}' is not installed", api.id())))
    }

    /// The app's routes, for links.
    pub fn routes(&self) -> &Routes {
        &self.app.routes
    }

    /// The app config.
    pub fn config(&self) -> &Config {
        &self.app.config
    }

    /// The signed-in person the page renders for (`None` when the app has no sign-in). Plugin
    /// calls made while the page renders carry their token already; see
    /// [`SignedInUser`](super::SignedInUser).
    pub fn user(&self) -> Option<&super::SignedInUser> {
        self.user.as_deref()
    }

    /// The fields of a form post, in order (`None` for a GET); only pages that
    /// [accept forms](PageRenderer::accept_forms) get posts.
    pub fn form(&self) -> Option<&[(String, String)]> {
        self.form.as_deref()
    }

    /// The first value of the form field `name` (`None` for a GET or a missing field).
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .as_deref()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The app title (`app.title`).
    pub fn app_title(&self) -> &str {
        &self.app.title
    }
}

/// What a page renders: the main content, an optional title for `<title>`, and a status.
#[derive(Debug, Clone)]
pub struct PageContent {
    /// The document title; the page's configured title when `None`.
    pub title: Option<String>,
    /// The main content.
    pub body: Markup,
    /// The HTTP status (200 unless set).
    pub status: StatusCode,
    /// Where to send the browser instead (`303 See Other`), after a form post did its work.
    pub redirect: Option<String>,
}

impl PageContent {
    /// Content with status 200.
    pub fn new(body: Markup) -> Self {
        Self {
            title: None,
            body,
            status: StatusCode::OK,
            redirect: None,
        }
    }

    /// A `303 See Other` to `location` (a path of the app), the answer to a form post that
    /// did its work.
    ///
    /// ```
    /// use backlot::frontend::PageContent;
    ///
    /// let done = PageContent::redirect("/create/tasks/42");
    /// assert_eq!(done.redirect.as_deref(), Some("/create/tasks/42"));
    /// assert_eq!(done.status, 303);
    /// ```
    pub fn redirect(location: impl Into<String>) -> Self {
        Self {
            title: None,
            body: maud::html! {},
            status: StatusCode::SEE_OTHER,
            redirect: Some(location.into()),
        }
    }

    /// Sets the document title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the status.
    #[must_use]
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl From<Markup> for PageContent {
    fn from(body: Markup) -> Self {
        Self::new(body)
    }
}

/// A page that could not render; the app shows an error page with its status and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    /// An error with a status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The status.
    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    /// The message shown on the error page.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<crate::backend::BoxError> for PageError {
    fn from(error: crate::backend::BoxError) -> Self {
        Self::internal(error.to_string())
    }
}
