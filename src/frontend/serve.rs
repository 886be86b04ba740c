//! Serving an app: the state pages are rendered with, the HTML document around each page,
//! error pages, and the content-hashed static assets.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::core_data::{Layout, NavLink, PageRoute, Shell};
use super::page::{AppContext, PageContent, PageError, PageRequest};
use super::route_table::REST_PARAM;
use super::signin::{self, SignIn, SignedInUser};
use super::ui;
use crate::backend::http::RawErrorResponse;

pub(crate) const APP_CSS: &str = include_str!("assets/app.css");
pub(crate) const APP_JS: &str = include_str!("assets/app.js");

pub(crate) struct AppState {
    pub(crate) ctx: Arc<AppContext>,
    pub(crate) layout: Layout,
    pub(crate) nav_items: Vec<(String, String, Option<String>)>,
    pub(crate) head: Markup,
    pub(crate) css_path: String,
    pub(crate) js_path: String,
    pub(crate) pages: Vec<(String, PageRoute)>,
    /// Sign-in, when the app has an auth service and at least one provider.
    pub(crate) signin: Option<SignIn>,
    /// Verifies `Authorization: Bearer` user tokens of page requests (API-style clients).
    pub(crate) auth: Option<Arc<dyn crate::services::auth::AuthService>>,
}

impl AppState {
    fn nav_links(&self, current: &str) -> Vec<NavLink> {
        self.nav_items
            .iter()
            .map(|(title, href, icon)| NavLink {
                title: title.clone(),
                current: current == href
                    || (href != "/"
                        && current.starts_with(href.as_str())
                        && current[href.len()..].starts_with('/')),
                href: href.clone(),
                icon: icon.clone(),
            })
            .collect()
    }

    fn document(
        &self,
        path: &str,
        title: Option<&str>,
        body: Markup,
        user: Option<&SignedInUser>,
    ) -> Markup {
        let links = (self.layout.nav.render)(&self.nav_links(path));
        let nav = match user {
            Some(user) => html! { (links) (signin::user_box(user)) },
            None => links,
        };
        (self.layout.render)(&Shell {
            app_title: &self.ctx.title,
            page_title: title,
            nav,
            body,
            head: self.head.clone(),
            current_path: path,
        })
    }

    /// A document without sidebar links (the sign-in pages).
    pub(crate) fn bare_document(&self, title: &str, body: Markup) -> Markup {
        (self.layout.render)(&Shell {
            app_title: &self.ctx.title,
            page_title: Some(title),
            nav: html! {},
            body,
            head: self.head.clone(),
            current_path: "/signin",
        })
    }

    pub(crate) fn error_page(
        &self,
        path: &str,
        error: &PageError,
        user: Option<&SignedInUser>,
    ) -> Response {
        let status = error.status_code();
        let (title, message) = if status == StatusCode::NOT_FOUND {
            ("Page not found", error.message().to_string())
        } else if status.is_client_error() {
            ("Bad request", error.message().to_string())
        } else {
            tracing::error!(path, error = %error.message(), "page failed to render");
            (
                "Something went wrong",
                "The page could not be rendered.".to_string(),
            )
        };
        let body = html! {
            (ui::header(title, None))
            (ui::error_state(title, &message))
            p { (ui::link("/", "Go to the home page")) }
        };
        html_response(status, self.document(path, Some(title), body, user))
    }
}

/// An HTML response; error statuses are marked so the backend's root layer keeps the HTML
/// instead of rewriting it into error JSON.
pub(crate) fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut res = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        markup.into_string(),
    )
        .into_response();
    res.extensions_mut().insert(RawErrorResponse);
    res
}

fn parse_query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// The largest form post a page takes.
const MAX_FORM_BYTES: usize = 1024 * 1024;

/// A form post to a page that [accepts forms](super::PageRenderer::accept_forms): only from
/// the app's own pages (the sign-in routes' same-origin check), urlencoded, at most 1 MiB.
pub(crate) async fn serve_form(
    state: Arc<AppState>,
    index: usize,
    uri: Uri,
    headers: HeaderMap,
    params: Option<Path<HashMap<String, String>>>,
    body: axum::body::Bytes,
) -> Response {
    let base = state
        .signin
        .as_ref()
        .and_then(|s| s.settings.app_base_url.clone());
    if !signin::same_origin(&headers, base.as_deref()) {
        return state.error_page(
            uri.path(),
            &PageError::new(
                StatusCode::FORBIDDEN,
                "Forms are only accepted from this app's own pages.",
            ),
            None,
        );
    }
    if body.len() > MAX_FORM_BYTES {
        return state.error_page(
            uri.path(),
            &PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."),
            None,
        );
    }
    let form = url::form_urlencoded::parse(&body).into_owned().collect();
    serve(state, index, uri, headers, params, Some(form)).await
}

pub(crate) async fn serve_page(
    state: Arc<AppState>,
    index: usize,
    uri: Uri,
    headers: HeaderMap,
    params: Option<Path<HashMap<String, String>>>,
) -> Response {
    serve(state, index, uri, headers, params, None).await
}

async fn serve(
    state: Arc<AppState>,
    index: usize,
    uri: Uri,
    headers: HeaderMap,
    params: Option<Path<HashMap<String, String>>>,
    form: Option<Vec<(String, String)>>,
) -> Response {
    let user = match signin::resolve(&state, &headers, &uri).await {
        Ok(user) => user,
        Err(redirect) => return redirect,
    };
    let mut params = params.map(|Path(p)| p).unwrap_or_default();
    let rest = params
        .remove(REST_PARAM)
        .map(|r| format!("/{r}"))
        .unwrap_or_default();
    let path = uri.path().to_string();
    let Some((_, page)) = state.pages.get(index) else {
        return state.error_page(
            &path,
            &PageError::not_found("No page here."),
            user.as_deref(),
        );
    };
    let req = PageRequest {
        path: path.clone(),
        params,
        query: parse_query(&uri),
        rest,
        app: state.ctx.clone(),
        user: user.clone(),
        form,
    };
    let rendered = match &user {
        Some(user) => SignedInUser::scope(user.clone(), page.render.render(req)).await,
        None => page.render.render(req).await,
    };
    let mut res = match rendered {
        Ok(PageContent {
            redirect: Some(location),
            ..
        }) => axum::response::Redirect::to(&location).into_response(),
        Ok(PageContent {
            title,
            body,
            status,
            redirect: None,
        }) => {
            let title = title.or_else(|| page.title.clone());
            html_response(
                status,
                state.document(&path, title.as_deref(), body, user.as_deref()),
            )
        }
        Err(e) => state.error_page(&path, &e, user.as_deref()),
    };
    if user.is_some() {
        // A page rendered for one person must not be served to another from a cache.
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    res
}

pub(crate) async fn not_found(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let user = match signin::resolve(&state, &headers, &uri).await {
        Ok(user) => user,
        Err(redirect) => return redirect,
    };
    state.error_page(
        uri.path(),
        &PageError::not_found(format!("There is no page at {}.", uri.path())),
        user.as_deref(),
    )
}

pub(crate) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// A static asset whose path carries its content hash, so browsers may cache it for a year.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}
