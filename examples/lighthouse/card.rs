//! The frontend part of Lighthouse: the utility API `LIGHTHOUSE_API` over HTTP (each call
//! carries the signed-in user's token), the entity card `entity-card:lighthouse/website` for
//! entities annotated `lighthouse.com/website-url`, and the page `/lighthouse` (the audited
//! websites; it also takes the card's "Audit now" form).

use std::sync::Arc;

use backlot::frontend::{
    ApiBlueprint, ApiFactory, ApiRef, BackendError, FrontendPlugin, NavItemBlueprint,
    PageBlueprint, PageContent, PageError, PageRequest, RouteRef, SignedInUser, core_apis, ui,
};
use backlot::plugins::catalog::react::{EntityCardBlueprint, EntityPredicate, EntityRequest};
use backlot::services::http_client::http_client;
use maud::{Markup, html};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::WEBSITE_URL_ANNOTATION;
use super::runner::CATEGORIES;
use super::store::{AuditBody, AuditListItem, AuditStatus, ListResponse, Website};

/// The Lighthouse page.
pub(crate) static LIGHTHOUSE_PAGE: RouteRef = RouteRef::new("lighthouse.root");

/// The most audits a sparkline draws.
const SPARK_POINTS: usize = 20;

/// Why a call to the lighthouse backend failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LighthouseApiError {
    /// No answer.
    #[error("request to {url} failed: {source}")]
    Transport { url: String, source: reqwest::Error },
    /// An error answer (Backstage's error JSON).
    #[error("request to {url} returned {status}: {name}: {message}")]
    Response {
        url: String,
        status: u16,
        name: String,
        message: String,
    },
    /// An answer of another shape.
    #[error("unexpected answer from {url}: {source}")]
    Decode {
        url: String,
        source: serde_json::Error,
    },
}

/// What the card and page need from the lighthouse backend.
#[async_trait::async_trait]
pub(crate) trait LighthouseApi: Send + Sync + std::fmt::Debug {
    /// `GET /v1/websites/{url}`; `None` when the site has no audits.
    async fn website(&self, url: &str) -> Result<Option<Website>, LighthouseApiError>;
    /// `GET /v1/websites`.
    async fn websites(&self) -> Result<ListResponse<Website>, LighthouseApiError>;
    /// `POST /v1/audits`.
    async fn trigger_audit(&self, url: &str) -> Result<AuditBody, LighthouseApiError>;
}

/// The lighthouse utility API (`plugin.lighthouse.service`).
pub(crate) static LIGHTHOUSE_API: ApiRef<dyn LighthouseApi> =
    ApiRef::new("plugin.lighthouse.service");

/// [`LighthouseApi`] over HTTP against `/api/lighthouse`.
#[derive(Debug, Clone)]
pub(crate) struct HttpLighthouseApi {
    base_url: String,
    http: reqwest::Client,
}

impl HttpLighthouseApi {
    /// The factory: base URL from `core.discovery`, timeouts from `backend.httpClient.*`.
    pub(crate) fn factory() -> ApiFactory {
        ApiFactory::builder(&LIGHTHOUSE_API)
            .deps((&core_apis::DISCOVERY, &core_apis::CONFIG))
            .build(|(discovery, config)| {
                Ok(Arc::new(HttpLighthouseApi {
                    base_url: discovery
                        .base_url("lighthouse")
                        .trim_end_matches('/')
                        .to_string(),
                    http: http_client(&config)?,
                }) as Arc<dyn LighthouseApi>)
            })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<Option<T>, LighthouseApiError> {
        let request = match SignedInUser::current_token() {
            Some(token) => request.bearer_auth(&*token),
            None => request,
        };
        let transport = |source| LighthouseApiError::Transport {
            url: url.to_string(),
            source,
        };
        let res = request.send().await.map_err(transport)?;
        let status = res.status().as_u16();
        let bytes = res.bytes().await.map_err(transport)?;
        if status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            let error = BackendError::from_body(&bytes);
            return Err(LighthouseApiError::Response {
                url: url.to_string(),
                status,
                name: error.name,
                message: error.message,
            });
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| LighthouseApiError::Decode {
                url: url.to_string(),
                source,
            })
    }
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[async_trait::async_trait]
impl LighthouseApi for HttpLighthouseApi {
    async fn website(&self, url: &str) -> Result<Option<Website>, LighthouseApiError> {
        let endpoint = format!("{}/v1/websites/{}", self.base_url, encode(url));
        self.send(self.http.get(&endpoint), &endpoint).await
    }

    async fn websites(&self) -> Result<ListResponse<Website>, LighthouseApiError> {
        let endpoint = format!("{}/v1/websites", self.base_url);
        let list = self.send(self.http.get(&endpoint), &endpoint).await?;
        list.ok_or_else(|| LighthouseApiError::Response {
            url: endpoint,
            status: 404,
            name: "NotFoundError".into(),
            message: "the lighthouse plugin is not installed".into(),
        })
    }

    async fn trigger_audit(&self, url: &str) -> Result<AuditBody, LighthouseApiError> {
        let endpoint = format!("{}/v1/audits", self.base_url);
        let request = self.http.post(&endpoint).json(&json!({ "url": url }));
        let audit = self.send(request, &endpoint).await?;
        audit.ok_or_else(|| LighthouseApiError::Response {
            url: endpoint,
            status: 404,
            name: "NotFoundError".into(),
            message: "the lighthouse plugin is not installed".into(),
        })
    }
}

/// `92` for a score of `0.92`.
fn percent(score: f64) -> i64 {
    (score * 100.0).round() as i64
}

/// Good (90+), average (50+) or poor, as Lighthouse colours them.
fn grade(score: f64) -> &'static str {
    match percent(score) {
        90.. => "good",
        50.. => "average",
        _ => "poor",
    }
}

fn color(score: f64) -> &'static str {
    match grade(score) {
        "good" => "#0c7a43",
        "average" => "#b35c00",
        _ => "#c5221f",
    }
}

/// A sparkline of `scores` (oldest first, 0 to 1) as a small SVG.
pub(crate) fn sparkline(category: &str, scores: &[f64]) -> Markup {
    let (w, h, pad) = (120.0, 28.0, 3.0);
    let xy = |i: usize, s: f64| {
        let x = if scores.len() < 2 {
            w / 2.0
        } else {
            pad + (w - 2.0 * pad) * i as f64 / (scores.len() - 1) as f64
        };
        (x, pad + (h - 2.0 * pad) * (1.0 - s))
    };
    let points: Vec<String> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (x, y) = xy(i, *s);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let last = scores.last().copied();
    html! {
        svg class="lh-spark" data-category=(category) data-points=(scores.len())
            width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) role="img"
            aria-label=(format!("{category} over the last {} audits", scores.len())) {
            @if scores.len() > 1 {
                polyline points=(points.join(" ")) fill="none" stroke="#888" stroke-width="1.5" {}
            }
            @if let Some(s) = last {
                @let (x, y) = xy(scores.len() - 1, s);
                circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="2.5" fill=(color(s)) {}
            }
        }
    }
}

fn status_line(audit: &AuditListItem) -> Markup {
    let when = audit.time_created.format("%Y-%m-%d %H:%M UTC").to_string();
    html! {
        p class=(format!("lh-status lh-status-{}", audit.status.as_str().to_lowercase())) {
            @match audit.status {
                AuditStatus::Running => { "An audit is running (asked for " (when) ")." }
                AuditStatus::Completed => { "Last audit: " (when) "." }
                AuditStatus::Failed => {
                    "The audit of " (when) " failed: "
                    span class="lh-failure" { (audit.failure.as_deref().unwrap_or("unknown reason")) }
                }
            }
        }
    }
}

/// The scores table of a website: latest completed scores and the sparklines.
fn scores(site: &Website) -> Markup {
    let completed: Vec<&AuditListItem> = site
        .audits
        .iter()
        .filter(|a| a.status == AuditStatus::Completed)
        .take(SPARK_POINTS)
        .collect();
    let Some(latest) = completed.first() else {
        return html! { p { "No completed audit yet." } };
    };
    html! {
        table class="lh-scores" {
            thead { tr { th { "Category" } th { "Score" } th { "Over time" } } }
            tbody {
                @for id in CATEGORIES {
                    @let title = latest.categories.as_ref().and_then(|c| c.get(id)).map_or(id, |c| c.title.as_str());
                    @let score = latest.categories.as_ref().and_then(|c| c.get(id)).and_then(|c| c.score);
                    @let history: Vec<f64> = completed.iter().rev()
                        .filter_map(|a| a.categories.as_ref()?.get(id)?.score).collect();
                    tr data-category=(id) {
                        td { (title) }
                        @match score {
                            Some(s) => td class=(format!("lh-score lh-{}", grade(s))) style=(format!("color:{}", color(s))) { strong { (percent(s)) } },
                            None => td class="lh-score" { "–" },
                        }
                        td { (sparkline(id, &history)) }
                    }
                }
            }
        }
    }
}

fn audit_form(action: &str, url: &str, back: &str) -> Markup {
    html! {
        form class="lh-audit-now" method="post" action=(action) {
            input type="hidden" name="url" value=(url);
            input type="hidden" name="return" value=(back);
            button type="submit" { "Audit now" }
        }
    }
}

/// Renders the card for the entity's website.
async fn card(req: EntityRequest) -> Result<Markup, PageError> {
    let url = req
        .entity()
        .metadata
        .annotations
        .get(WEBSITE_URL_ANNOTATION)
        .cloned()
        .unwrap_or_default();
    let page = req.page();
    let action = page
        .routes()
        .href(&LIGHTHOUSE_PAGE, &())
        .unwrap_or_else(|| "/lighthouse".to_string());
    let linkable = url.starts_with("https://") || url.starts_with("http://");
    let body = match page.api(&LIGHTHOUSE_API) {
        Err(e) => ui::error_state("Lighthouse is not available", &e.to_string()),
        Ok(api) => match api.website(&url).await {
            Err(e) => ui::error_state("Could not load the audits", &e.to_string()),
            Ok(site) => html! {
                p class="lh-url" style="overflow-wrap:anywhere" {
                    @if linkable { a href=(url) { (url) } } @else { (url) }
                }
                @match &site {
                    Some(site) => { (status_line(&site.last_audit)) (scores(site)) }
                    None => p class="lh-none" { "This website has not been audited yet." },
                }
                (audit_form(&action, &url, page.path()))
            },
        },
    };
    Ok(ui::card("Lighthouse", body))
}

/// Only paths of this app: `/catalog/...`, never `//host` or a URL.
fn local_path(path: &str) -> Option<&str> {
    (path.starts_with('/') && !path.starts_with("//") && !path.contains('\\')).then_some(path)
}

/// `/lighthouse`: the audited websites; a form post (the card's "Audit now") triggers an
/// audit and goes back to the page it came from.
async fn lighthouse_page(req: PageRequest) -> Result<PageContent, PageError> {
    let api = req.api(&LIGHTHOUSE_API)?;
    if req.form().is_some() {
        let url = req.form_value("url").unwrap_or_default();
        return match api.trigger_audit(url).await {
            Ok(_) => Ok(PageContent::redirect(
                req.form_value("return")
                    .and_then(local_path)
                    .unwrap_or(req.path()),
            )),
            Err(e) => Ok(PageContent::new(html! {
                (ui::header("Lighthouse", None))
                (ui::error_state("The audit could not be started", &e.to_string()))
            })
            .status(axum::http::StatusCode::BAD_REQUEST)),
        };
    }
    let sites = api
        .websites()
        .await
        .map_err(|e| PageError::internal(e.to_string()))?;
    Ok(PageContent::new(html! {
        (ui::header("Lighthouse", Some("Website audits: performance, accessibility, best practices, SEO")))
        @if sites.items.is_empty() {
            (ui::empty_state("No audits yet", "Audit a website from its entity page."))
        } @else {
            @for site in &sites.items {
                (ui::card(&site.url, html! { (status_line(&site.last_audit)) (scores(site)) (audit_form(req.path(), &site.url, req.path())) }))
            }
        }
    }))
}

/// The frontend plugin `lighthouse`: the API, the entity card, the page and its nav item.
pub(crate) fn frontend_plugin() -> FrontendPlugin {
    FrontendPlugin::new("lighthouse")
        .route("root", &LIGHTHOUSE_PAGE)
        .extension(ApiBlueprint::make(HttpLighthouseApi::factory()))
        .extension(
            EntityCardBlueprint::new("website", card)
                .filter(EntityPredicate::has_annotation(WEBSITE_URL_ANNOTATION))
                .build(),
        )
        .extension(
            PageBlueprint::new("/lighthouse", lighthouse_page)
                .route_ref(&LIGHTHOUSE_PAGE)
                .title("Lighthouse")
                .accept_forms()
                .build(),
        )
        .extension(
            NavItemBlueprint::new("Lighthouse", &LIGHTHOUSE_PAGE)
                .icon("⚡")
                .build(),
        )
}
