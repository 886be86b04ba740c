//! Themes: light and dark palettes as CSS custom properties.

use crate::backend::BoxError;

/// Whether a theme is light or dark; the app serves the first light theme by default and the
/// first dark theme to browsers that prefer a dark scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThemeVariant {
    /// Light.
    Light,
    /// Dark.
    Dark,
}

/// A theme: an id, a title, a variant and CSS custom properties (`--bl-*`) that the stylesheet
/// reads. Install one with [`ThemeBlueprint`](super::ThemeBlueprint).
///
/// ```
/// use backlot::frontend::{Theme, ThemeVariant};
///
/// let brand = Theme::light().var("--bl-accent", "#7b2ff7");
/// assert_eq!(brand.variant(), ThemeVariant::Light);
/// assert!(brand.css_declarations()?.contains("--bl-accent:#7b2ff7;"));
/// assert!(Theme::light().var("--bl-accent", "red;}</style>").css_declarations().is_err());
/// # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    id: String,
    title: String,
    variant: ThemeVariant,
    vars: Vec<(String, String)>,
}

const LIGHT: &[(&str, &str)] = &[
    ("--bl-bg", "#f6f7f9"),
    ("--bl-surface", "#ffffff"),
    ("--bl-text", "#1b1f24"),
    ("--bl-muted", "#5b6572"),
    ("--bl-border", "#dde1e6"),
    ("--bl-accent", "#2563eb"),
    ("--bl-accent-text", "#ffffff"),
    ("--bl-sidebar-bg", "#16202e"),
    ("--bl-sidebar-text", "#d5dbe3"),
    ("--bl-sidebar-active", "#2f3d52"),
    ("--bl-danger", "#c62828"),
    ("--bl-focus", "#f59e0b"),
];

const DARK: &[(&str, &str)] = &[
    ("--bl-bg", "#0f141a"),
    ("--bl-surface", "#18202a"),
    ("--bl-text", "#e6eaef"),
    ("--bl-muted", "#9aa5b1"),
    ("--bl-border", "#2b3643"),
    ("--bl-accent", "#60a5fa"),
    ("--bl-accent-text", "#0b1220"),
    ("--bl-sidebar-bg", "#0a0e13"),
    ("--bl-sidebar-text", "#c3ccd6"),
    ("--bl-sidebar-active", "#1f2a38"),
    ("--bl-danger", "#f87171"),
    ("--bl-focus", "#fbbf24"),
];

fn valid_value(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " #%.,()-_/+*'\"".contains(c))
}

impl Theme {
    /// An empty theme.
    pub fn new(id: impl Into<String>, title: impl Into<String>, variant: ThemeVariant) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            variant,
            vars: Vec::new(),
        }
    }

    /// The built-in light theme.
    pub fn light() -> Self {
        let mut theme = Self::new("light", "Light", ThemeVariant::Light);
        theme.vars = LIGHT
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        theme
    }

    /// The built-in dark theme.
    pub fn dark() -> Self {
        let mut theme = Self::new("dark", "Dark", ThemeVariant::Dark);
        theme.vars = DARK
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        theme
    }

    /// Sets a custom property (replacing an earlier value).
    #[must_use]
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let value = value.into();
        match self.vars.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
        self
    }

    /// The id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The variant.
    pub fn variant(&self) -> ThemeVariant {
        self.variant
    }

    /// The properties as CSS declarations (`--a:b;`); fails on names that are not `--` custom
    /// properties and on values that could break out of a declaration.
    pub fn css_declarations(&self) -> Result<String, BoxError> {
        let mut out = String::new();
        for (name, value) in &self.vars {
            let name_ok = name.len() > 2
                && name.starts_with("--")
                && name[2..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !name_ok {
                return Err(
                    format!("theme '{}': '{name}' is not a CSS custom property", self.id).into(),
                );
            }
            if !valid_value(value) {
                return Err(format!("theme '{}': invalid value for '{name}'", self.id).into());
            }
            out.push_str(name);
            out.push(':');
            out.push_str(value);
            out.push(';');
        }
        Ok(out)
    }
}

/// The `<style>` text for a light and an optional dark theme.
pub(crate) fn theme_css(light: Option<&Theme>, dark: Option<&Theme>) -> Result<String, BoxError> {
    let mut css = String::new();
    if let Some(light) = light {
        css.push_str(":root{color-scheme:light;");
        css.push_str(&light.css_declarations()?);
        css.push('}');
    }
    if let Some(dark) = dark {
        let decls = dark.css_declarations()?;
        if light.is_some() {
            css.push_str("@media (prefers-color-scheme:dark){:root{color-scheme:dark;");
            css.push_str(&decls);
            css.push_str("}}");
        } else {
            css.push_str(":root{color-scheme:dark;");
            css.push_str(&decls);
            css.push('}');
        }
    }
    Ok(css)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dark_theme_applies_through_a_media_query() {
        let css = theme_css(Some(&Theme::light()), Some(&Theme::dark())).unwrap();
        assert!(css.starts_with(":root{color-scheme:light;--bl-bg:#f6f7f9;"));
        assert!(css.contains(
            "@media (prefers-color-scheme:dark){:root{color-scheme:dark;--bl-bg:#0f141a;"
        ));
        let only_dark = theme_css(None, Some(&Theme::dark())).unwrap();
        assert!(only_dark.starts_with(":root{color-scheme:dark;"));
    }

    #[test]
    fn rejects_bad_property_names() {
        assert!(
            Theme::light()
                .var("color", "red")
                .css_declarations()
                .is_err()
        );
        assert!(Theme::light().var("--x", "").css_declarations().is_err());
    }
}
