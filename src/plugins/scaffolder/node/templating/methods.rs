//! Methods templates call on values: the JavaScript string and array methods Nunjucks lets
//! templates call (`name.split('-')`, `tags.join(', ')`), and the Python ones cookiecutter
//! templates use (`d.items()`, `d.get('k')`).

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::js::{to_js_string, to_number};

/// Refuses strings built by `repeat`/`padStart` past this many bytes.
const MAX_BUILT: usize = 1 << 20;

fn index_arg(args: &[Value], i: usize, len: usize, default: usize) -> usize {
    match args.get(i).filter(|v| !v.is_undefined()) {
        None => default,
        Some(v) => {
            let n = to_number(v);
            let n = if n.is_nan() { 0.0 } else { n.trunc() };
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let r = if n < 0.0 {
                (len as f64 + n).max(0.0) as usize
            } else {
                (n as usize).min(len)
            };
            r
        }
    }
}

fn string_method(s: &str, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let a = |i: usize| args.get(i).map(to_js_string).unwrap_or_default();
    let chars: Vec<char> = s.chars().collect();
    let v = match method {
        "toLowerCase" | "lower" => Value::from(s.to_lowercase()),
        "toUpperCase" | "upper" => Value::from(s.to_uppercase()),
        "trim" | "strip" => Value::from(s.trim()),
        "trimStart" | "lstrip" => Value::from(s.trim_start()),
        "trimEnd" | "rstrip" => Value::from(s.trim_end()),
        "startsWith" | "startswith" => Value::from(s.starts_with(&a(0))),
        "endsWith" | "endswith" => Value::from(s.ends_with(&a(0))),
        "includes" => Value::from(s.contains(&a(0))),
        "indexOf" => Value::from(
            s.find(&a(0))
                .map_or(-1, |i| i64::try_from(s[..i].chars().count()).unwrap_or(-1)),
        ),
        "split" => {
            let parts: Vec<Value> = match args.first().filter(|v| !v.is_undefined()) {
                None => vec![Value::from(s)],
                Some(_) if a(0).is_empty() => {
                    chars.iter().map(|c| Value::from(c.to_string())).collect()
                }
                Some(_) => s.split(a(0).as_str()).map(Value::from).collect(),
            };
            Value::from(parts)
        }
        "replace" => Value::from(s.replacen(&a(0), &a(1), 1)),
        "replaceAll" => {
            if a(0).is_empty() {
                return None;
            }
            Value::from(s.replace(&a(0), &a(1)))
        }
        "slice" | "substring" => {
            let start = index_arg(args, 0, chars.len(), 0);
            let end = index_arg(args, 1, chars.len(), chars.len());
            let (start, end) = if method == "substring" && start > end {
                (end, start)
            } else {
                (start, end)
            };
            Value::from(
                chars
                    .get(start..end.max(start))
                    .map(|c| c.iter().collect::<String>())
                    .unwrap_or_default(),
            )
        }
        "charAt" => Value::from(
            chars
                .get(index_arg(args, 0, chars.len(), 0))
                .map(char::to_string)
                .unwrap_or_default(),
        ),
        "concat" => Value::from(format!(
            "{s}{}",
            args.iter().map(to_js_string).collect::<String>()
        )),
        "padStart" | "padEnd" | "repeat" => {
            let n = args.first().map_or(0.0, to_number);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = if n.is_finite() && n > 0.0 {
                n as usize
            } else {
                0
            };
            let built = if method == "repeat" {
                s.len().saturating_mul(n)
            } else {
                n
            };
            if built > MAX_BUILT {
                return Some(Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{method}: string too long"),
                )));
            }
            if method == "repeat" {
                Value::from(s.repeat(n))
            } else {
                let fill = args.get(1).map_or(" ".to_string(), to_js_string);
                let missing = n.saturating_sub(chars.len());
                let pad: String = fill
                    .chars()
                    .cycle()
                    .take(if fill.is_empty() { 0 } else { missing })
                    .collect();
                Value::from(if method == "padStart" {
                    format!("{pad}{s}")
                } else {
                    format!("{s}{pad}")
                })
            }
        }
        "toString" => Value::from(s),
        _ => return None,
    };
    Some(Ok(v))
}

fn array_method(v: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let items: Vec<Value> = v.try_iter().ok()?.collect();
    let out = match method {
        "join" => {
            let sep = args
                .first()
                .filter(|x| !x.is_undefined())
                .map_or(",".to_string(), to_js_string);
            Value::from(
                items
                    .iter()
                    .map(super::js::display)
                    .collect::<Vec<_>>()
                    .join(&sep),
            )
        }
        "includes" => Value::from(args.first().is_some_and(|x| items.contains(x))),
        "indexOf" => Value::from(
            args.first()
                .and_then(|x| items.iter().position(|i| i == x))
                .map_or(-1, |i| i64::try_from(i).unwrap_or(-1)),
        ),
        "slice" => {
            let start = index_arg(args, 0, items.len(), 0);
            let end = index_arg(args, 1, items.len(), items.len());
            Value::from(
                items
                    .get(start..end.max(start))
                    .map(<[Value]>::to_vec)
                    .unwrap_or_default(),
            )
        }
        "concat" => {
            let mut out = items;
            for a in args {
                match a.kind() {
                    ValueKind::Seq => out.extend(a.try_iter().ok()?),
                    _ => out.push(a.clone()),
                }
            }
            Value::from(out)
        }
        _ => return None,
    };
    Some(Ok(out))
}

fn map_method(v: &Value, method: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let keys: Vec<Value> = v.try_iter().ok()?.collect();
    let get = |k: &Value| v.get_item(k).unwrap_or(Value::UNDEFINED);
    let out = match method {
        "items" => Value::from(
            keys.iter()
                .map(|k| Value::from(vec![k.clone(), get(k)]))
                .collect::<Vec<_>>(),
        ),
        "keys" => Value::from(keys),
        "values" => Value::from(keys.iter().map(get).collect::<Vec<_>>()),
        "get" => {
            let k = args.first()?;
            let found = get(k);
            if found.is_undefined() {
                args.get(1).cloned().unwrap_or(Value::from(()))
            } else {
                found
            }
        }
        _ => return None,
    };
    Some(Ok(out))
}

/// Installs the method callback.
pub(super) fn register(env: &mut Environment<'static>) {
    env.set_unknown_method_callback(|_state, value, method, args| {
        let handled = match value.kind() {
            ValueKind::String => string_method(value.as_str().unwrap_or_default(), method, args),
            ValueKind::Seq => array_method(value, method, args),
            ValueKind::Map => map_method(value, method, args),
            _ => None,
        };
        handled.unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("{method} is not a function of {}", value.kind()),
            ))
        })
    });
}
