//! `${{ }}` templating with Nunjucks semantics on [minijinja]: the variable delimiters are
//! `${{` / `}}`, tags stay `{% %}`, undefined values render empty and chain, and a value that
//! is exactly one expression keeps the JSON type of its result.

mod filters;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use parking_lot::RwLock;
use serde_json::Value;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplaterOptions {
    /// Remove the first newline after a block tag.
    pub trim_blocks: bool,
    /// Strip whitespace before a block tag on its line.
    pub lstrip_blocks: bool,
    /// A bound on the work one render may do (instructions); `None` for no bound.
    pub fuel: Option<u64>,
}

impl Default for TemplaterOptions {
    fn default() -> Self {
        Self {
            trim_blocks: false,
            lstrip_blocks: false,
            fuel: Some(5_000_000),
        }
    }
}

/// Renders `${{ }}` templates over a JSON context.
///
/// ```
/// use serde_json::json;
/// use backlot::plugins::scaffolder::node::{Templater, TemplatingExtensions};
///
/// let t = Templater::new(&TemplatingExtensions::default());
/// let ctx = json!({"parameters": {"name": "svc", "replicas": 3, "tags": ["a", "b"]}});
/// assert_eq!(t.render_str("hello ${{ parameters.name }}", &ctx)?, "hello svc");
/// // A lone expression keeps its type.
/// assert_eq!(t.render_value(&json!("${{ parameters.replicas }}"), &ctx)?, json!(3));
/// assert_eq!(t.render_value(&json!({"t": "${{ parameters.tags }}"}), &ctx)?, json!({"t": ["a", "b"]}));
/// # Ok::<(), backlot::plugins::scaffolder::node::TemplateError>(())
/// ```
pub struct Templater {
    env: Environment<'static>,
}

impl fmt::Debug for Templater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templater").finish_non_exhaustive()
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
        if let Ok(syntax) = SyntaxConfig::builder()
            .variable_delimiters("${{", "}}")
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
        filters::register_builtins(&mut env);
        filters::register_extensions(&mut env, extensions);
        Self { env }
    }

    /// Renders a string template to a string.
    ///
    /// # Errors
    ///
    /// [`TemplateError`] for a syntax error, an unknown filter or a failed filter.
    pub fn render_str(&self, template: &str, ctx: &Value) -> Result<String, TemplateError> {
        if !template.contains("${{") && !template.contains("{%") && !template.contains("{#") {
            return Ok(template.to_string());
        }
        Ok(self.env.render_str(template, to_template_value(ctx))?)
    }

    /// Renders every string inside `value`; a string that is exactly one `${{ expr }}` becomes
    /// the JSON value of `expr` (an undefined result becomes the empty string, as in Backstage).
    ///
    /// # Errors
    ///
    /// [`TemplateError`] of the first string that fails.
    pub fn render_value(&self, value: &Value, ctx: &Value) -> Result<Value, TemplateError> {
        match value {
            Value::String(s) => self.render_string_value(s, ctx),
            Value::Array(items) => items
                .iter()
                .map(|v| self.render_value(v, ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(k.clone(), self.render_value(v, ctx)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    fn render_string_value(&self, s: &str, ctx: &Value) -> Result<Value, TemplateError> {
        if let Some(expr) = lone_expression(s) {
            let compiled = self.env.compile_expression(expr)?;
            let result = compiled.eval(to_template_value(ctx))?;
            if result.is_undefined() {
                return Ok(Value::String(String::new()));
            }
            return serde_json::to_value(&result).map_err(|e| TemplateError(e.to_string()));
        }
        self.render_str(s, ctx).map(Value::String)
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

/// A JSON value as minijinja sees it.
pub(crate) fn to_template_value(v: &Value) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

/// The expression of a string that is exactly one `${{ expr }}` (surrounding blanks allowed).
fn lone_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("${{")?.strip_suffix("}}")?;
    if inner.contains("${{") || inner.contains("}}") {
        return None;
    }
    Some(inner.trim())
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
        assert_eq!(
            t.render_value(&json!(" ${{ parameters.n }} "), &ctx)?,
            json!(2)
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
            json!("")
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
