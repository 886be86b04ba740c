//! `ThemeBlueprint`: a light or dark theme.

use crate::frontend::core_data::THEME;
use crate::frontend::data_ref::Outputs;
use crate::frontend::extension::Extension;
use crate::frontend::theme::Theme;

/// Installs a theme: kind `theme`, name = the theme id, attached to `app` input `themes`. The
/// app's own themes are `theme:app/light` and `theme:app/dark`; replace one by giving the app
/// a theme in namespace `app` with the same id.
///
/// ```
/// use backlot::frontend::{Theme, ThemeBlueprint};
///
/// let ext = ThemeBlueprint::make(Theme::light().var("--bl-accent", "#e11d48"), Some("app"));
/// assert_eq!(ext.id()?.to_string(), "theme:app/light");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ThemeBlueprint;

impl ThemeBlueprint {
    /// The theme extension; `namespace` defaults to the plugin id.
    pub fn make(theme: Theme, namespace: Option<&str>) -> Extension {
        let mut builder = Extension::builder("theme", theme.id())
            .attach_to(&crate::frontend::core_data::APP_THEMES)
            .output(&[THEME.any()]);
        if let Some(ns) = namespace {
            builder = builder.namespace(ns);
        }
        builder.factory(move |_| {
            theme.css_declarations()?;
            Ok(Outputs::new().with(&THEME, theme.clone()))
        })
    }
}
