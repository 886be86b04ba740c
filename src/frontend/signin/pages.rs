//! The markup of the sign-in page, the OAuth landing page and the sidebar's user box.

use maud::{Markup, PreEscaped, html};

use super::settings::{Flow, SignInSettings};
use super::user::SignedInUser;
use crate::frontend::ui;

/// What the sign-in page needs besides the settings.
pub(crate) struct SignInView<'a> {
    pub(crate) settings: &'a SignInSettings,
    /// The auth plugin's URL as the browser reaches it.
    pub(crate) auth_url: &'a str,
    /// The app's own URL (`app.baseUrl` or the request's host).
    pub(crate) app_url: &'a str,
    pub(crate) next: &'a str,
    pub(crate) error: Option<&'a str>,
    /// The provider just signed out of, whose refresh cookie the page clears.
    pub(crate) signed_out: Option<&'a str>,
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The landing URL of a redirect or proxy provider.
pub(crate) fn complete_path(provider: &str, next: &str) -> String {
    format!(
        "/signin/complete?provider={}&next={}",
        encode(provider),
        encode(next)
    )
}

pub(crate) fn sign_in_page(view: &SignInView<'_>) -> Markup {
    let next = view.next;
    html! {
        div class="bl-signin" {
            (ui::header("Sign in", Some("Choose how to sign in.")))
            @if let Some(error) = view.error {
                div class="bl-card bl-signin-error" role="alert" { p { (error) } }
            }
            @if view.signed_out.is_some() {
                p class="bl-muted" role="status" { "You are signed out." }
            }
            @if view.settings.providers.is_empty() {
                (ui::error_state("Sign-in is not configured", "Add a provider under auth.providers in app-config.yaml."))
            }
            ul class="bl-signin-providers" {
                @for p in &view.settings.providers {
                    li class="bl-card bl-signin-provider" data-provider=(p.id) {
                        h2 { (p.title) }
                        p class="bl-muted" { (p.message) }
                        @match p.flow {
                            Flow::Server => {
                                form method="post" action={ "/signin/" (p.id) } {
                                    input type="hidden" name="next" value=(next);
                                    button type="submit" class="bl-button" { "Sign in as " (p.title) }
                                }
                            }
                            Flow::Redirect => {
                                form method="get" action={ (view.auth_url) "/" (p.id) "/start" } {
                                    input type="hidden" name="env" value=(view.settings.environment);
                                    input type="hidden" name="flow" value="redirect";
                                    input type="hidden" name="redirectUrl"
                                        value={ (view.app_url) (complete_path(&p.id, next)) };
                                    button type="submit" class="bl-button" { "Sign in with " (p.title) }
                                }
                            }
                            Flow::Proxy => {
                                a class="bl-button" href=(complete_path(&p.id, next)) { "Sign in with " (p.title) }
                            }
                        }
                    }
                }
            }
            @if let Some(provider) = view.signed_out {
                // Ends the provider's own session too (its refresh cookie is scoped to the
                // auth plugin, so only the browser can send it).
                script data-logout=(format!("{}/{}/logout", view.auth_url, provider)) {
                    (PreEscaped(LOGOUT_JS))
                }
            }
        }
    }
}

const LOGOUT_JS: &str = r#"(function(){var s=document.currentScript;fetch(s.dataset.logout,{method:"POST",credentials:"include",headers:{"X-Requested-With":"XMLHttpRequest"}}).catch(function(){});})();"#;

/// The page the OAuth redirect flow ends on: a small script reads the provider's refresh
/// endpoint (its cookie is scoped to the auth plugin, so the browser must call it), hands the
/// token to `/signin/session` and goes on to `next`.
pub(crate) fn complete_page(refresh_url: &str, provider: &str, next: &str, retry: &str) -> Markup {
    html! {
        div class="bl-signin" {
            (ui::header("Signing in", None))
            p id="bl-signin-status" role="status" { "Finishing sign-in…" }
            noscript {
                p { "Signing in with this provider needs JavaScript. " (ui::link(retry, "Back to sign-in")) }
            }
            script data-refresh=(refresh_url) data-provider=(provider) data-next=(next) data-retry=(retry) {
                (PreEscaped(COMPLETE_JS))
            }
        }
    }
}

const COMPLETE_JS: &str = r#"(function(){
var d=document.currentScript.dataset,status=document.getElementById("bl-signin-status");
function fail(msg){status.textContent=msg+" ";var a=document.createElement("a");a.href=d.retry;a.textContent="Back to sign-in";status.appendChild(a);}
fetch(d.refresh,{credentials:"include",headers:{"X-Requested-With":"XMLHttpRequest"}})
.then(function(r){if(!r.ok)throw new Error("refresh "+r.status);return r.json();})
.then(function(s){var id=s&&s.backstageIdentity;if(!id||!id.token)throw new Error("no identity");
return fetch("/signin/session",{method:"POST",credentials:"same-origin",headers:{"Content-Type":"application/json"},
body:JSON.stringify({provider:d.provider,token:id.token,displayName:(s.profile&&s.profile.displayName)||null})});})
.then(function(r){if(!r.ok)throw new Error("session "+r.status);window.location.replace(d.next);})
.catch(function(){fail("Sign-in did not complete.");});
})();"#;

/// The user's name and a sign-out button, below the sidebar links.
pub(crate) fn user_box(user: &SignedInUser) -> Markup {
    html! {
        div class="bl-user" {
            span class="bl-user-name" title=(user.user_entity_ref()) { (user.display_name()) }
            form method="post" action="/signout" class="bl-signout" {
                button type="submit" class="bl-user-signout" { "Sign out" }
            }
        }
    }
}
