//! A small website for Lighthouse to audit: the plugin `website` serves one static page at
//! `/api/website/home`, open to everyone (an auth policy), as an organisation's site would be.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use backlot::backend::{BackendPlugin, PluginRegistrar, Registration};
use backlot::services::core_services::HTTP_ROUTER;
use backlot::services::http_router::{AuthPolicy, AuthPolicyAllow};

/// The page, under the plugin's mount point.
pub(crate) const HOME: &str = "/home";

const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="Northwind Traders: fresh goods, delivered.">
<title>Northwind Traders</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}a{color:#0b57d0}</style>
</head>
<body>
<header><h1>Northwind Traders</h1></header>
<main>
<p>Fresh goods, delivered across the region every morning.</p>
<h2 id="hours">Opening hours</h2>
<p>Monday to Saturday, 7:00 to 19:00.</p>
<p><a href="#hours">When we are open</a></p>
</main>
</body>
</html>
"##;

/// The backend plugin `website`.
#[derive(Debug)]
pub(crate) struct WebsitePlugin;

impl BackendPlugin for WebsitePlugin {
    fn id(&self) -> &str {
        "website"
    }

    fn register(&self, reg: PluginRegistrar) -> Registration {
        reg.init(&HTTP_ROUTER, |http| async move {
            http.use_router(Router::new().route(HOME, get(|| async { Html(PAGE) })));
            http.add_auth_policy(AuthPolicy {
                path: HOME.to_string(),
                allow: AuthPolicyAllow::Unauthenticated,
            });
            Ok(())
        })
    }
}
