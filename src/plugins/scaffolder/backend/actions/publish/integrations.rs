//! `repoUrl` (RepoUrlPicker's `host?owner=o&repo=r`) and the `integrations` config entry of
//! its host: where the repository lives and how to authenticate to it.

use base64::Engine;

use crate::plugins::scaffolder::node::ActionError;
use crate::services::config::Config;

/// A parsed `repoUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RepoUrl {
    pub(super) host: String,
    pub(super) owner: String,
    pub(super) repo: String,
}

fn name_ok(s: &str, allow_slash: bool) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && !seg.starts_with('-')
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
        && (allow_slash || !s.contains('/'))
}

/// Parses `host?owner=o&repo=r` (`organization` also names the owner, as for Azure).
/// `nested_owner` allows `group/subgroup` owners (GitLab).
pub(super) fn parse_repo_url(raw: &str, nested_owner: bool) -> Result<RepoUrl, ActionError> {
    let bad = |why: &str| {
        ActionError::InvalidInput(format!(
            "Invalid repo URL passed to publisher: '{raw}', {why}"
        ))
    };
    let url =
        url::Url::parse(&format!("https://{raw}")).map_err(|_| bad("not host?owner=&repo="))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return Err(bad("missing host")),
    };
    if url.path() != "/" || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("expected host?owner=&repo="));
    }
    let mut owner = None;
    let mut repo = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "owner" => owner = Some(v.into_owned()),
            "organization" if owner.is_none() => owner = Some(v.into_owned()),
            "repo" => repo = Some(v.into_owned()),
            _ => {}
        }
    }
    let owner = owner.ok_or_else(|| bad("missing owner"))?;
    let repo = repo.ok_or_else(|| bad("missing repo"))?;
    if !name_ok(&owner, nested_owner) {
        return Err(bad("the owner has characters that are not allowed"));
    }
    if !name_ok(&repo, false) {
        return Err(bad("the repo has characters that are not allowed"));
    }
    Ok(RepoUrl { host, owner, repo })
}

/// The kind of integration a host is configured as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `integrations.gitea`: any smart-HTTP server with basic auth.
    Gitea,
    /// `integrations.github`.
    Github,
    /// `integrations.gitlab`.
    Gitlab,
}

/// A host's integration config.
#[derive(Clone)]
pub(super) struct Integration {
    pub(super) kind: Kind,
    /// Web base URL, no trailing slash (`https://host` unless configured).
    pub(super) base_url: String,
    /// REST API base URL, no trailing slash.
    pub(super) api_base_url: String,
    /// `username`/`password` (Gitea) or the token with the username the host expects.
    pub(super) basic: Option<(String, String)>,
    /// The API token (GitHub, GitLab).
    pub(super) token: Option<String>,
}

impl std::fmt::Debug for Integration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integration")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_base_url", &self.api_base_url)
            .finish_non_exhaustive()
    }
}

fn trim(s: String) -> String {
    s.trim_end_matches('/').to_string()
}

fn cfg_err(e: impl std::fmt::Display) -> ActionError {
    ActionError::Failed(format!("invalid integrations config: {e}"))
}

/// The integration of `host`, looked up in `integrations.gitea`, `.github` and `.gitlab` (in
/// that order); `only` restricts the kinds searched.
pub(super) fn find(
    config: &Config,
    host: &str,
    only: &[Kind],
) -> Result<Option<Integration>, ActionError> {
    for (kind, key) in [
        (Kind::Gitea, "integrations.gitea"),
        (Kind::Github, "integrations.github"),
        (Kind::Gitlab, "integrations.gitlab"),
    ] {
        if !only.contains(&kind) {
            continue;
        }
        let Some(entries) = config.opt_config_array(key).map_err(cfg_err)? else {
            continue;
        };
        for entry in entries {
            let entry_host = entry.opt_string("host").map_err(cfg_err)?;
            let entry_host = match (kind, entry_host) {
                (_, Some(h)) => h,
                (Kind::Github, None) => "github.com".to_string(),
                (Kind::Gitlab, None) => "gitlab.com".to_string(),
                (Kind::Gitea, None) => continue,
            };
            if !entry_host.eq_ignore_ascii_case(host) {
                continue;
            }
            return Ok(Some(read_entry(kind, &entry, host)?));
        }
    }
    // GitHub's and GitLab's public hosts work without config (anonymous API calls fail later).
    let default_kind = match host {
        "github.com" if only.contains(&Kind::Github) => Some(Kind::Github),
        "gitlab.com" if only.contains(&Kind::Gitlab) => Some(Kind::Gitlab),
        _ => None,
    };
    Ok(default_kind.map(|kind| {
        let (base_url, api_base_url) = defaults(kind, host);
        Integration {
            kind,
            base_url,
            api_base_url,
            basic: None,
            token: None,
        }
    }))
}

fn defaults(kind: Kind, host: &str) -> (String, String) {
    let base = format!("https://{host}");
    let api = match kind {
        Kind::Github if host == "github.com" => "https://api.github.com".to_string(),
        Kind::Github => format!("{base}/api/v3"),
        Kind::Gitlab => format!("{base}/api/v4"),
        Kind::Gitea => format!("{base}/api/v1"),
    };
    (base, api)
}

fn read_entry(kind: Kind, entry: &Config, host: &str) -> Result<Integration, ActionError> {
    let (default_base, default_api) = defaults(kind, host);
    let base_url = trim(
        entry
            .opt_string("baseUrl")
            .map_err(cfg_err)?
            .unwrap_or(default_base),
    );
    let api_base_url = trim(entry.opt_string("apiBaseUrl").map_err(cfg_err)?.unwrap_or(
        match kind {
            Kind::Gitlab => format!("{base_url}/api/v4"),
            Kind::Gitea => format!("{base_url}/api/v1"),
            Kind::Github => default_api,
        },
    ));
    let token = entry.opt_string("token").map_err(cfg_err)?;
    let basic = match kind {
        Kind::Gitea => {
            let user = entry.opt_string("username").map_err(cfg_err)?;
            let pass = entry.opt_string("password").map_err(cfg_err)?;
            match (user, pass) {
                (Some(u), Some(p)) => Some((u, p)),
                _ => None,
            }
        }
        Kind::Github => token.clone().map(|t| ("x-access-token".to_string(), t)),
        Kind::Gitlab => token.clone().map(|t| ("oauth2".to_string(), t)),
    };
    Ok(Integration {
        kind,
        base_url,
        api_base_url,
        basic,
        token,
    })
}

/// The `Authorization` header value of HTTP basic auth.
pub(super) fn basic_header(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_urls_parse_and_refuse_odd_names() -> Result<(), ActionError> {
        let r = parse_repo_url("git.example:7900?owner=acme&repo=app", false)?;
        assert_eq!(
            r,
            RepoUrl {
                host: "git.example:7900".into(),
                owner: "acme".into(),
                repo: "app".into()
            }
        );
        assert_eq!(
            parse_repo_url("gitlab.com?owner=a/b&repo=c", true)?.owner,
            "a/b"
        );
        for bad in [
            "gitlab.com?owner=a/b&repo=c",
            "h?owner=..&repo=x",
            "h?owner=a&repo=../x",
            "h?owner=a",
            "h/path?owner=a&repo=b",
            "u:p@h?owner=a&repo=b",
            "h?owner=-x&repo=b",
        ] {
            assert!(parse_repo_url(bad, false).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn integrations_are_found_by_host() -> Result<(), ActionError> {
        let config = Config::from_value(serde_json::json!({
            "integrations": {
                "gitea": [{"host": "git.local:7900", "baseUrl": "http://git.local:7900/", "username": "u", "password": "p"}],
                "github": [{"host": "ghe.local", "token": "t", "apiBaseUrl": "http://127.0.0.1:1/api"}]
            }
        }));
        let gitea = find(&config, "git.local:7900", &[Kind::Gitea, Kind::Github])?;
        let gitea = gitea.ok_or(ActionError::NotFound("gitea".into()))?;
        assert_eq!(gitea.base_url, "http://git.local:7900");
        assert_eq!(gitea.basic, Some(("u".into(), "p".into())));
        let gh = find(&config, "ghe.local", &[Kind::Github])?
            .ok_or(ActionError::NotFound("gh".into()))?;
        assert_eq!(gh.api_base_url, "http://127.0.0.1:1/api");
        assert_eq!(gh.basic, Some(("x-access-token".into(), "t".into())));
        assert!(find(&config, "ghe.local", &[Kind::Gitlab])?.is_none());
        assert!(find(&config, "other", &[Kind::Gitea])?.is_none());
        Ok(())
    }
}
