//! `${{ }}` templating with Nunjucks semantics on [minijinja]: the variable delimiters are
//! `${{` / `}}`, tags stay `{% %}`, undefined values render empty and chain, and a value that
//! is exactly one expression keeps the JSON type of its result.
//!
//! What follows Nunjucks (and Backstage's sandbox around it), checked against the real
//! `nunjucks` package by `tests/scaffolder_templating.rs`:
//!
//! - printing: `undefined` and `null` print nothing, numbers as JavaScript prints them (`2`, not
//!   `2.0`; `1e+21`), arrays joined with `,`, objects as `[object Object]`;
//! - truthiness: arrays and objects of the context are true even when empty;
//! - the Nunjucks built-in filters (`dump` with indent, `default`/`d` with its boolean argument,
//!   `replace`, `truncate`, `indent`, `title`, `capitalize`, `join`, `first`, `last`, `length`,
//!   `sort`, `reverse`, `int`, `float`, `round`, `urlencode`, `striptags`, `trim`, `wordcount`,
//!   `list`, `sum`, `selectattr`/`rejectattr`, `groupby`, `dictsort`, `batch`, `slice`,
//!   `escape`/`safe`/`forceescape`, `center`, `nl2br`, `abs`, `string`);
//! - `{% for key, value in object %}`, and the JavaScript string and array methods templates
//!   call (`name.split('-')`, `tags.join(', ')`, `s.toLowerCase()`, …);
//! - the scaffolder's filters `parseRepoUrl`, `parseEntityRef`, `pick` and `projectSlug`.
//!
//! Known differences: dict literals with bare keys (`{a: 1}`) read the keys as variables
//! (except `defaultKind` and `defaultNamespace`, for `parseEntityRef`); `==` is strict
//! (`1 == '1'` is false); `+` does not join strings with numbers (use `~`); minijinja's extra
//! filters and tests stay available.
//!
//! Hostile templates: every render is bounded in work (`fuel`), recursion (64 levels) and output
//! (`max_output_size`); templates cannot include, import or extend other templates; the
//! `namespace()` global is not offered (Nunjucks has none).

mod filters;
mod js;
mod methods;
mod nunjucks;
mod render;
mod text;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use parking_lot::RwLock;
use serde_json::Value;

use crate::services::config::Config;

/// A filter or global function of an extension: JSON arguments in (for a filter the piped
/// value first), JSON out.
pub type TemplateFn = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// A documented filter or global function.
#[derive(Clone)]
pub struct TemplateFunction {
    /// What it does, for `GET /v2/templating-extensions`.
    pub description: Option<String>,
    /// JSON Schema of its arguments and result (`{arguments, output}`), if documented.
    pub schema: Option<Value>,
    /// Examples (`[{description, example, notes?}]`).
    pub examples: Vec<Value>,
    /// The function.
    pub func: TemplateFn,
}

impl fmt::Debug for TemplateFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateFunction")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl TemplateFunction {
    /// A function with no documentation.
    pub fn new(func: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static) -> Self {
        Self {
            description: None,
            schema: None,
            examples: Vec::new(),
            func: Arc::new(func),
        }
    }

    /// With a description.
    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_string());
        self
    }
}

/// Filters and globals added by modules.
#[derive(Debug, Default)]
pub struct TemplatingExtensions {
    filters: RwLock<BTreeMap<String, TemplateFunction>>,
    functions: RwLock<BTreeMap<String, TemplateFunction>>,
    values: RwLock<BTreeMap<String, Value>>,
}

impl TemplatingExtensions {
    /// Adds a filter (`${{ x | name(arg) }}`).
    pub fn add_filter(&self, name: &str, filter: TemplateFunction) {
        self.filters.write().insert(name.to_string(), filter);
    }

    /// Adds a global function (`${{ name(arg) }}`).
    pub fn add_global_function(&self, name: &str, function: TemplateFunction) {
        self.functions.write().insert(name.to_string(), function);
    }

    /// Adds a global value (`${{ name }}`).
    pub fn add_global_value(&self, name: &str, value: Value) {
        self.values.write().insert(name.to_string(), value);
    }

    /// The filters added.
    pub fn filters(&self) -> BTreeMap<String, TemplateFunction> {
        self.filters.read().clone()
    }

    /// The global functions added.
    pub fn global_functions(&self) -> BTreeMap<String, TemplateFunction> {
        self.functions.read().clone()
    }

    /// The global values added.
    pub fn global_values(&self) -> BTreeMap<String, Value> {
        self.values.read().clone()
    }
}

/// What `GET /v2/templating-extensions` answers: the built-in and added filters and globals,
/// `{filters: {name: {description?, schema?, examples?}}, globals: {functions: {…}, values: {name: {value, description?}}}}`.
///
/// ```
/// use backlot::plugins::scaffolder::node::templating::{self, TemplateFunction, TemplatingExtensions};
///
/// let ext = TemplatingExtensions::default();
/// ext.add_filter("shout", TemplateFunction::new(|a| Ok(a[0].as_str().unwrap_or("").to_uppercase().into())));
/// let listed = templating::describe(&ext);
/// assert!(listed["filters"]["shout"].is_object());
/// ```
pub fn describe(extensions: &TemplatingExtensions) -> Value {
    let doc = |f: &TemplateFunction| {
        let mut o = serde_json::Map::new();
        if let Some(d) = &f.description {
            o.insert("description".into(), Value::String(d.clone()));
        }
        if let Some(s) = &f.schema {
            o.insert("schema".into(), s.clone());
        }
        if !f.examples.is_empty() {
            o.insert("examples".into(), Value::Array(f.examples.clone()));
        }
        Value::Object(o)
    };
    let mut filters = serde_json::Map::new();
    for (name, f) in filters::builtin_docs() {
        filters.insert(name.to_string(), doc(&f));
    }
    for (name, f) in extensions.filters() {
        filters.insert(name, doc(&f));
    }
    let mut functions = serde_json::Map::new();
    for (name, f) in extensions.global_functions() {
        functions.insert(name, doc(&f));
    }
    let mut values = serde_json::Map::new();
    for (name, v) in extensions.global_values() {
        values.insert(name, serde_json::json!({ "value": v }));
    }
    serde_json::json!({
        "filters": filters,
        "globals": { "functions": functions, "values": values },
    })
}

/// A template that did not parse or render.
#[derive(Debug, thiserror::Error)]
#[error("template error: {0}")]
pub struct TemplateError(pub String);

impl TemplateError {
    /// Whether the render was stopped by a limit (work, recursion or output size) rather than
    /// by a mistake in the template.
    pub fn is_limit(&self) -> bool {
        let m = self.0.as_str();
        m.contains("out of fuel") || m.contains("maxOutputSize") || m.contains("recursion")
    }
}

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        Self(msg)
    }
}

/// Options of a [`Templater`].
///
/// ```
/// use backlot::plugins::scaffolder::node::{templating::TemplaterOptions, Templater, TemplatingExtensions};
///
/// let opts = TemplaterOptions { max_output_size: Some(16), ..TemplaterOptions::default() };
/// let t = Templater::with_options(&TemplatingExtensions::default(), opts);
/// let err = t.render_str("${{ 'x' * 100 }}", &serde_json::json!({})).unwrap_err();
/// assert!(err.to_string().contains("maxOutputSize"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplaterOptions {
    /// Remove the first newline after a block tag.
    pub trim_blocks: bool,
    /// Strip whitespace before a block tag on its line.
    pub lstrip_blocks: bool,
    /// A bound on the work one render may do (instructions); `None` for no bound
    /// (`scaffolder.templating.fuel`).
    pub fuel: Option<u64>,
    /// A bound on the bytes one render may produce; `None` for no bound
    /// (`scaffolder.templating.maxOutputSize`, default 10 MiB).
    pub max_output_size: Option<usize>,
    /// Cookiecutter compatibility (`fetch:template`'s `cookiecutterCompat`): variables are
    /// `{{ }}` instead of `${{ }}` and `jsonify` is `dump`.
    pub cookiecutter_compat: bool,
}

/// The default of [`TemplaterOptions::max_output_size`].
pub const DEFAULT_MAX_OUTPUT_SIZE: usize = 10 * 1024 * 1024;

impl Default for TemplaterOptions {
    fn default() -> Self {
        Self {
            trim_blocks: false,
            lstrip_blocks: false,
            fuel: Some(5_000_000),
            max_output_size: Some(DEFAULT_MAX_OUTPUT_SIZE),
            cookiecutter_compat: false,
        }
    }
}

impl TemplaterOptions {
    /// The defaults with the limits of `scaffolder.templating` (`fuel`, `maxOutputSize` as a
    /// number of bytes or a size like `4MiB`).
    ///
    /// ```
    /// use backlot::plugins::scaffolder::node::templating::TemplaterOptions;
    /// use backlot::services::config::Config;
    ///
    /// let config = Config::from_value(serde_json::json!({
    ///     "scaffolder": {"templating": {"maxOutputSize": "1MiB", "fuel": 1000}}
    /// }));
    /// let opts = TemplaterOptions::from_config(&config)?;
    /// assert_eq!(opts.max_output_size, Some(1024 * 1024));
    /// assert_eq!(opts.fuel, Some(1000));
    /// # Ok::<(), backlot::plugins::scaffolder::node::TemplateError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`TemplateError`] naming a key that is not a size or a positive number.
    pub fn from_config(config: &Config) -> Result<Self, TemplateError> {
        let mut opts = Self::default();
        if let Some(v) = config.get("scaffolder.templating.maxOutputSize") {
            let n = crate::services::url_reader::parse_size(v).ok_or_else(|| {
                TemplateError(format!(
                    "scaffolder.templating.maxOutputSize must be a size, got {v}"
                ))
            })?;
            opts.max_output_size = Some(usize::try_from(n).unwrap_or(usize::MAX));
        }
        if let Some(v) = config.get("scaffolder.templating.fuel") {
            let n = v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                TemplateError(format!(
                    "scaffolder.templating.fuel must be a positive number, got {v}"
                ))
            })?;
            opts.fuel = Some(n);
        }
        Ok(opts)
    }
}

/// Renders `${{ }}` templates over a JSON context the way Backstage's Nunjucks sandbox does:
/// `undefined` and `null` print nothing, numbers print as in JavaScript, arrays print joined
/// with `,`, the Nunjucks built-in filters behave as in Nunjucks. Templates cannot load
/// other templates, and every render is bounded in work, recursion and output size.
///
/// ```
/// use serde_json::json;
/// use backlot::plugins::scaffolder::node::{Templater, TemplatingExtensions};
///
/// let t = Templater::new(&TemplatingExtensions::default());
/// let ctx = json!({"parameters": {"name": "svc", "replicas": 3, "tags": ["a", "b"]}});
/// assert_eq!(t.render_str("hello ${{ parameters.name }}", &ctx)?, "hello svc");
/// assert_eq!(t.render_str("${{ parameters.tags }} ${{ 4 / 2 }}", &ctx)?, "a,b 2");
/// // A lone expression keeps its type.
/// assert_eq!(t.render_value(&json!("${{ parameters.replicas }}"), &ctx)?, json!(3));
/// assert_eq!(t.render_value(&json!({"t": "${{ parameters.tags }}"}), &ctx)?, json!({"t": ["a", "b"]}));
/// // An undefined value drops the key, as in Backstage.
/// assert_eq!(t.render_value(&json!({"x": "${{ parameters.nope }}"}), &ctx)?, json!({}));
/// # Ok::<(), backlot::plugins::scaffolder::node::TemplateError>(())
/// ```
pub struct Templater {
    env: Environment<'static>,
    options: TemplaterOptions,
}

impl fmt::Debug for Templater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templater")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Templater {
    /// A templater with the built-in filters and the extensions' filters and globals.
    pub fn new(extensions: &TemplatingExtensions) -> Self {
        Self::with_options(extensions, TemplaterOptions::default())
    }

    /// The same with options.
    pub fn with_options(extensions: &TemplatingExtensions, options: TemplaterOptions) -> Self {
        let mut env = Environment::new();
        let start = if options.cookiecutter_compat {
            "{{"
        } else {
            "${{"
        };
        if let Ok(syntax) = SyntaxConfig::builder()
            .variable_delimiters(start, "}}")
            .trim_blocks(options.trim_blocks)
            .lstrip_blocks(options.lstrip_blocks)
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_fuel(options.fuel);
        env.set_recursion_limit(64);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_formatter(|out, _state, value| {
            out.write_str(&js::display(value))
                .map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "write"))
        });
        methods::register(&mut env);
        filters::register_builtins(&mut env);
        if options.cookiecutter_compat {
            nunjucks::add_jsonify(&mut env);
        }
        filters::register_extensions(&mut env, extensions);
        Self { env, options }
    }

    /// The options it was made with.
    pub fn options(&self) -> &TemplaterOptions {
        &self.options
    }

    /// Renders a string template to a string.
    ///
    /// # Errors
    ///
    /// [`TemplateError`] for a syntax error, an unknown filter, a failed filter, too much work
    /// or too much output.
    pub fn render_str(&self, template: &str, ctx: &Value) -> Result<String, TemplateError> {
        self.render_str_with(template, &js::from_json(ctx))
    }

    /// Renders with a context already converted by [`context`](Self::context), to render many
    /// templates (the files of a skeleton) with one context.
    ///
    /// # Errors
    ///
    /// As [`render_str`](Self::render_str).
    pub fn render_str_with(
        &self,
        template: &str,
        ctx: &minijinja::Value,
    ) -> Result<String, TemplateError> {
        let start = if self.options.cookiecutter_compat {
            "{{"
        } else {
            "${{"
        };
        if !template.contains(start) && !template.contains("{%") && !template.contains("{#") {
            return Ok(template.to_string());
        }
        render::render(&self.env, template, ctx, self.options.max_output_size)
    }

    /// A JSON context converted once, for [`render_str_with`](Self::render_str_with).
    pub fn context(ctx: &Value) -> minijinja::Value {
        js::from_json(ctx)
    }

    /// Renders every string inside `value` as Backstage's workflow runner does: a string that
    /// is one `${{ expr }}` (or one `{% %}` block) becomes the JSON value of its result; a
    /// string that renders empty is `undefined` — the key is dropped from its object, an array
    /// item becomes `null`, and the whole value `null`.
    ///
    /// # Errors
    ///
    /// [`TemplateError`] of the first string that fails.
    pub fn render_value(&self, value: &Value, ctx: &Value) -> Result<Value, TemplateError> {
        let ctx = js::from_json(ctx);
        Ok(self.render_json(value, &ctx)?.unwrap_or(Value::Null))
    }

    fn render_json(
        &self,
        value: &Value,
        ctx: &minijinja::Value,
    ) -> Result<Option<Value>, TemplateError> {
        match value {
            Value::String(s) => self.render_string_value(s, ctx),
            Value::Array(items) => items
                .iter()
                .map(|v| Ok(self.render_json(v, ctx)?.unwrap_or(Value::Null)))
                .collect::<Result<Vec<_>, _>>()
                .map(|v| Some(Value::Array(v))),
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    if let Some(r) = self.render_json(v, ctx)? {
                        out.insert(k.clone(), r);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn render_string_value(
        &self,
        s: &str,
        ctx: &minijinja::Value,
    ) -> Result<Option<Value>, TemplateError> {
        if !self.options.cookiecutter_compat && render::is_single_node(s) {
            match self.render_str_with(&render::wrap_dump(s), ctx) {
                Ok(out) if out.is_empty() => return Ok(None),
                Ok(out) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&out) {
                        return Ok(Some(render::whole_numbers(v)));
                    }
                }
                Err(e) if e.is_limit() => return Err(e),
                Err(_) => {}
            }
        }
        let out = self.render_str_with(s, ctx)?;
        Ok((!out.is_empty()).then_some(Value::String(out)))
    }

    /// Whether a rendered `if` is true: everything but `false`, `null`, `""`, `0` and `[]`.
    pub fn is_truthy(value: &Value) -> bool {
        match value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty() && s != "false",
            Value::Array(a) => !a.is_empty(),
            Value::Object(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lone_expressions_keep_their_type() -> Result<(), TemplateError> {
        let t = Templater::new(&TemplatingExtensions::default());
        let ctx = json!({"parameters": {"b": true, "n": 2, "o": {"k": "v"}}});
        assert_eq!(
            t.render_value(&json!("${{ parameters.b }}"), &ctx)?,
            json!(true)
        );
        // Blanks around make three Nunjucks nodes: text, not a lone expression.
        assert_eq!(
            t.render_value(&json!(" ${{ parameters.n }} "), &ctx)?,
            json!(" 2 ")
        );
        assert_eq!(
            t.render_value(&json!("${{ parameters.o }}"), &ctx)?,
            json!({"k": "v"})
        );
        assert_eq!(
            t.render_value(&json!("n=${{ parameters.n }}"), &ctx)?,
            json!("n=2")
        );
        assert_eq!(
            t.render_value(&json!("${{ parameters.missing.deeper }}"), &ctx)?,
            Value::Null
        );
        assert_eq!(
            t.render_value(&json!({"a": "${{ parameters.missing }}", "b": ""}), &ctx)?,
            json!({})
        );
        Ok(())
    }

    #[test]
    fn truthiness() {
        for v in [json!(false), json!(null), json!(""), json!(0), json!([])] {
            assert!(!Templater::is_truthy(&v), "{v}");
        }
        for v in [json!(true), json!("x"), json!(1), json!([0]), json!({})] {
            assert!(Templater::is_truthy(&v), "{v}");
        }
    }
}
