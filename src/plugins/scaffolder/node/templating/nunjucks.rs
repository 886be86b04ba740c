//! The Nunjucks built-in filters, written to give Nunjucks' output where minijinja's filter of
//! the same name differs or is missing.

use std::cmp::Ordering;

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::js::{self, add, display, indent_of, number_value, to_js_string, to_number, truthy};
use super::text::{encode_uri_component, html_escape, parse_float, parse_int, replace, striptags};

type Args = Rest<Value>;

fn fail(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn arg(args: &[Value], i: usize) -> Option<&Value> {
    args.get(i).filter(|v| !v.is_undefined())
}

/// Nunjucks' `normalize(v, "")`: `undefined`, `null` and `false` become `""`, anything else
/// is printed.
pub(super) fn norm(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::Bool if !v.is_true() => String::new(),
        _ => to_js_string(v),
    }
}

/// Keeps a string marked safe when its input was.
pub(super) fn like(input: &Value, out: String) -> Value {
    if input.is_safe() {
        Value::from_safe_string(out)
    } else {
        Value::from(out)
    }
}

fn items(v: &Value) -> Vec<Value> {
    match v.kind() {
        ValueKind::String => v
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(|c| Value::from(c.to_string()))
            .collect(),
        ValueKind::Seq | ValueKind::Iterable => {
            v.try_iter().map(Iterator::collect).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

fn utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// `item[attr]` with a dotted path, as Nunjucks' attribute getter.
fn attr_path(item: &Value, path: &Value) -> Value {
    let p = to_js_string(path);
    let mut cur = item.clone();
    for part in p.split('.') {
        cur = match cur.get_attr(part) {
            Ok(v) if !v.is_undefined() => v,
            _ => match part.parse::<usize>() {
                Ok(i) => cur.get_item_by_index(i).unwrap_or(Value::UNDEFINED),
                Err(_) => return Value::UNDEFINED,
            },
        };
    }
    cur
}

fn attr(item: &Value, name: &Value) -> Value {
    let n = to_js_string(name);
    match item.get_attr(&n) {
        Ok(v) if !v.is_undefined() => v,
        _ if item.kind() == ValueKind::String && n == "length" => {
            Value::from(utf16(item.as_str().unwrap_or_default()).len())
        }
        _ => n
            .parse::<usize>()
            .ok()
            .and_then(|i| item.get_item_by_index(i).ok())
            .unwrap_or(Value::UNDEFINED),
    }
}

/// JavaScript's `a < b` / `a > b` for the values templates sort.
fn js_cmp(a: &Value, b: &Value) -> Ordering {
    match (a.as_str(), b.as_str()) {
        (Some(x), Some(y)) => utf16(x).cmp(&utf16(y)),
        _ => {
            let (x, y) = (to_number(a), to_number(b));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

fn upper_if(v: &Value, fold: bool) -> Value {
    match v.as_str() {
        Some(s) if fold => Value::from(s.to_uppercase()),
        _ => v.clone(),
    }
}

fn capitalize_str(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Object keys in the order JavaScript enumerates them: integer-like keys ascending first.
fn js_key_order(keys: Vec<String>) -> Vec<String> {
    let is_index = |k: &str| k == "0" || (!k.starts_with('0') && k.parse::<u32>().is_ok());
    let (mut idx, rest): (Vec<String>, Vec<String>) = keys.into_iter().partition(|k| is_index(k));
    idx.sort_by_key(|k| k.parse::<u32>().unwrap_or(0));
    idx.extend(rest);
    idx
}

fn entries(v: &Value) -> Vec<(String, Value)> {
    let keys: Vec<Value> = v.try_iter().map(Iterator::collect).unwrap_or_default();
    keys.iter()
        .map(|k| (to_js_string(k), v.get_item(k).unwrap_or(Value::UNDEFINED)))
        .collect()
}

/// A keyword argument, else the positional one.
fn kw_or(kw: &Kwargs, name: &str, pos: Option<Value>) -> Result<Option<Value>, Error> {
    let named: Option<Value> = kw.get(name)?;
    Ok(named.or(pos).filter(|v| !v.is_undefined()))
}

/// Registers the Nunjucks built-ins over minijinja's.
#[allow(clippy::too_many_lines)]
pub(super) fn register(env: &mut Environment<'static>) {
    env.remove_global("namespace");
    env.remove_global("debug");
    // Nunjucks reads `{ defaultKind: 'group' }` with bare keys as strings; minijinja reads the
    // keys as variables. These two make `parseEntityRef`'s documented argument work.
    env.add_global("defaultKind", "defaultKind");
    env.add_global("defaultNamespace", "defaultNamespace");
    env.add_filter(super::render::PAIRS_FILTER, |v: Value| {
        if v.kind() == ValueKind::Map {
            Value::from(
                entries(&v)
                    .into_iter()
                    .map(|(k, x)| Value::from(vec![Value::from(k), x]))
                    .collect::<Vec<_>>(),
            )
        } else {
            v
        }
    });
    env.add_filter("abs", |v: Value| number_value(to_number(&v).abs()));
    env.add_filter("batch", |v: Value, a: Args| {
        let n = arg(&a, 0).map_or(0.0, to_number);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = if n.is_finite() && n >= 1.0 {
            n as usize
        } else {
            1
        };
        let fill = arg(&a, 1).filter(|f| truthy(f)).cloned();
        let mut out: Vec<Value> = Vec::new();
        for chunk in items(&v).chunks(n) {
            let mut c = chunk.to_vec();
            if let Some(f) = &fill {
                c.resize(n, f.clone());
            }
            out.push(Value::from(c));
        }
        Value::from(out)
    });
    env.add_filter("capitalize", |v: Value| like(&v, capitalize_str(&norm(&v))));
    env.add_filter("center", |v: Value, a: Args| {
        let s = norm(&v);
        let w = arg(&a, 0).map_or(80.0, to_number);
        let len = utf16(&s).len() as f64;
        if len >= w {
            return like(&v, s);
        }
        let spaces = w - len;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let pre = (spaces / 2.0 - spaces % 2.0).max(0.0) as usize;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let post = (spaces / 2.0).max(0.0) as usize;
        like(&v, format!("{}{s}{}", " ".repeat(pre), " ".repeat(post)))
    });
    let default = |v: Value, a: Args| {
        let def = a.first().cloned().unwrap_or(Value::UNDEFINED);
        let boolean = a.get(1).is_some_and(truthy);
        if boolean {
            if truthy(&v) { v } else { def }
        } else if v.is_undefined() {
            def
        } else {
            v
        }
    };
    env.add_filter("default", default);
    env.add_filter("d", default);
    env.add_filter("dictsort", |v: Value, a: Args| {
        if v.kind() != ValueKind::Map {
            return Err(fail("dictsort filter: val must be an object"));
        }
        let case = a.first().is_some_and(truthy);
        let by = match a.get(1).filter(|b| !b.is_undefined()) {
            None => 0,
            Some(b) if b.as_str() == Some("key") => 0,
            Some(b) if b.as_str() == Some("value") => 1,
            Some(_) => {
                return Err(fail(
                    "dictsort filter: You can only sort by either key or value",
                ));
            }
        };
        let mut pairs: Vec<[Value; 2]> = entries(&v)
            .into_iter()
            .map(|(k, val)| [Value::from(k), val])
            .collect();
        pairs.sort_by(|x, y| js_cmp(&upper_if(&x[by], !case), &upper_if(&y[by], !case)));
        Ok(Value::from(
            pairs
                .into_iter()
                .map(|p| Value::from(p.to_vec()))
                .collect::<Vec<_>>(),
        ))
    });
    env.add_filter("dump", |v: Value, a: Args| {
        js::stringify(&v, &indent_of(a.first()))
            .map(Value::from)
            .unwrap_or(Value::UNDEFINED)
    });
    let escape = |v: Value| {
        if v.is_safe() {
            return v;
        }
        Value::from_safe_string(html_escape(&display(&v)))
    };
    env.add_filter("escape", escape);
    env.add_filter("e", escape);
    env.add_filter("forceescape", |v: Value| {
        Value::from_safe_string(html_escape(&display(&v)))
    });
    env.add_filter("safe", |v: Value| {
        if v.is_safe() {
            v
        } else {
            Value::from_safe_string(display(&v))
        }
    });
    env.add_filter("first", |v: Value| {
        items(&v).into_iter().next().unwrap_or(Value::UNDEFINED)
    });
    env.add_filter("last", |v: Value| {
        items(&v).pop().unwrap_or(Value::UNDEFINED)
    });
    env.add_filter("groupby", |v: Value, a: Args| {
        let key_attr = a.first().cloned().unwrap_or(Value::UNDEFINED);
        let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
        for item in items(&v) {
            let key = to_js_string(&attr_path(&item, &key_attr));
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(item),
                None => groups.push((key, vec![item])),
            }
        }
        let order = js_key_order(groups.iter().map(|(k, _)| k.clone()).collect());
        Value::from_pairs(order.into_iter().filter_map(|k| {
            let list = groups.iter().find(|(g, _)| *g == k)?.1.clone();
            Some((k, Value::from(list)))
        }))
    });
    env.add_filter("indent", |v: Value, a: Args| {
        let s = norm(&v);
        if s.is_empty() {
            return Value::from("");
        }
        let w = arg(&a, 0).map_or(4.0, to_number);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let w = if w >= 1.0 { w.min(1000.0) as usize } else { 4 };
        let first = a.get(1).is_some_and(truthy);
        let sp = " ".repeat(w);
        let out = s
            .split('\n')
            .enumerate()
            .map(|(i, l)| {
                if i == 0 && !first {
                    l.to_string()
                } else {
                    format!("{sp}{l}")
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        like(&v, out)
    });
    env.add_filter("join", |v: Value, a: Args| {
        let del = a
            .first()
            .filter(|d| truthy(d))
            .map(to_js_string)
            .unwrap_or_default();
        let mut list = items(&v);
        if let Some(at) = a.get(1).filter(|x| truthy(x)) {
            list = list.iter().map(|i| attr(i, at)).collect();
        }
        Value::from(list.iter().map(display).collect::<Vec<_>>().join(&del))
    });
    env.add_filter("length", |v: Value| match v.kind() {
        ValueKind::Undefined | ValueKind::None => Value::from(0),
        ValueKind::Bool if !v.is_true() => Value::from(0),
        ValueKind::String => Value::from(utf16(v.as_str().unwrap_or_default()).len()),
        ValueKind::Seq | ValueKind::Map => v.len().map(Value::from).unwrap_or(Value::UNDEFINED),
        ValueKind::Iterable => Value::from(items(&v).len()),
        _ => Value::UNDEFINED,
    });
    env.add_filter("list", |v: Value| match v.kind() {
        ValueKind::String => Ok(Value::from(items(&v))),
        ValueKind::Map => Ok(Value::from(
            entries(&v)
                .into_iter()
                .map(|(k, val)| {
                    Value::from_pairs([("key".to_string(), Value::from(k)), ("value".into(), val)])
                })
                .collect::<Vec<_>>(),
        )),
        ValueKind::Seq | ValueKind::Iterable => Ok(Value::from(items(&v))),
        _ => Err(fail("list filter: type not iterable")),
    });
    env.add_filter("lower", |v: Value| Value::from(norm(&v).to_lowercase()));
    env.add_filter("upper", |v: Value| Value::from(norm(&v).to_uppercase()));
    env.add_filter("nl2br", |v: Value| {
        if v.is_undefined() || v.is_none() {
            return Value::from("");
        }
        let s = to_js_string(&v)
            .replace("\r\n", "\n")
            .replace('\n', "<br />\n");
        like(&v, s)
    });
    env.add_filter("rejectattr", |v: Value, a: Args| {
        let at = a.first().cloned().unwrap_or(Value::UNDEFINED);
        Value::from(
            items(&v)
                .into_iter()
                .filter(|i| !truthy(&attr(i, &at)))
                .collect::<Vec<_>>(),
        )
    });
    env.add_filter("selectattr", |v: Value, a: Args| {
        let at = a.first().cloned().unwrap_or(Value::UNDEFINED);
        Value::from(
            items(&v)
                .into_iter()
                .filter(|i| truthy(&attr(i, &at)))
                .collect::<Vec<_>>(),
        )
    });
    env.add_filter("replace", replace);
    env.add_filter("reverse", |v: Value| {
        if let Some(s) = v.as_str() {
            return like(&v, s.chars().rev().collect());
        }
        let mut list = items(&v);
        list.reverse();
        Value::from(list)
    });
    env.add_filter("round", |v: Value, a: Args| {
        let p = arg(&a, 0).map_or(0.0, to_number);
        let factor = 10f64.powf(if p.is_nan() { 0.0 } else { p });
        let x = to_number(&v) * factor;
        let r = match a.get(1).and_then(Value::as_str) {
            Some("ceil") => x.ceil(),
            Some("floor") => x.floor(),
            _ => (x + 0.5).floor(),
        };
        number_value(r / factor)
    });
    env.add_filter("slice", |v: Value, a: Args| {
        let list = items(&v);
        let n = arg(&a, 0).map_or(1.0, to_number);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let slices = if n >= 1.0 {
            n.min(10_000.0) as usize
        } else {
            0
        };
        let fill = a.get(1).filter(|f| truthy(f)).cloned();
        let mut out = Vec::new();
        if slices == 0 {
            return Value::from(out);
        }
        let size = list.len() / slices;
        let extra = list.len() % slices;
        let mut offset = 0;
        for i in 0..slices {
            let start = offset + i * size;
            if i < extra {
                offset += 1;
            }
            let end = (offset + (i + 1) * size).min(list.len());
            let mut chunk = list
                .get(start..end)
                .map(<[Value]>::to_vec)
                .unwrap_or_default();
            if let (Some(f), true) = (&fill, i >= extra) {
                chunk.push(f.clone());
            }
            out.push(Value::from(chunk));
        }
        Value::from(out)
    });
    env.add_filter("sum", |v: Value, a: Args| {
        let mut list = items(&v);
        if let Some(at) = a.first().filter(|x| truthy(x)) {
            list = list.iter().map(|i| attr(i, at)).collect();
        }
        let start = a.get(1).cloned().unwrap_or(Value::from(0));
        let total = list.iter().fold(Value::from(0), |acc, x| add(&acc, x));
        add(&start, &total)
    });
    env.add_filter(
        "sort",
        |v: Value, reverse: Option<Value>, case: Option<Value>, at: Option<Value>, kw: Kwargs| {
            let reversed = kw_or(&kw, "reverse", reverse)?.is_some_and(|x| truthy(&x));
            let case = kw_or(&kw, "case_sensitive", case)?.is_some_and(|x| truthy(&x));
            let at = kw_or(&kw, "attribute", at)?;
            kw.assert_all_used()?;
            let mut list = items(&v);
            list.sort_by(|x, y| {
                let (mut x, mut y) = match &at {
                    Some(at) if truthy(at) => (attr_path(x, at), attr_path(y, at)),
                    _ => (x.clone(), y.clone()),
                };
                if !case {
                    if let (Some(a), Some(b)) = (x.as_str(), y.as_str()) {
                        (x, y) = (Value::from(a.to_lowercase()), Value::from(b.to_lowercase()));
                    }
                }
                let o = js_cmp(&x, &y);
                if reversed { o.reverse() } else { o }
            });
            Ok::<_, Error>(Value::from(list))
        },
    );
    env.add_filter("string", |v: Value| v);
    env.add_filter("striptags", striptags);
    env.add_filter("title", |v: Value| {
        let s = norm(&v);
        like(
            &v,
            s.split(' ')
                .map(capitalize_str)
                .collect::<Vec<_>>()
                .join(" "),
        )
    });
    env.add_filter("trim", |v: Value| {
        like(&v, to_js_string(&v).trim().to_string())
    });
    env.add_filter("truncate", |v: Value, a: Args| {
        let s = norm(&v);
        let len = arg(&a, 0).map_or(255.0, to_number);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let len = if len >= 1.0 { len as usize } else { 255 };
        let units = utf16(&s);
        if units.len() <= len {
            return Value::from(s);
        }
        let cut = if a.get(1).is_some_and(truthy) {
            len
        } else {
            let space = u16::from(b' ');
            units[..=len.min(units.len() - 1)]
                .iter()
                .rposition(|&u| u == space)
                .unwrap_or(len)
        };
        let end = match a.get(2) {
            Some(e) if !e.is_undefined() && !e.is_none() => to_js_string(e),
            _ => "...".to_string(),
        };
        like(
            &v,
            format!("{}{end}", String::from_utf16_lossy(&units[..cut])),
        )
    });
    env.add_filter("urlencode", |v: Value| {
        if let Some(s) = v.as_str() {
            return Value::from(encode_uri_component(s));
        }
        let pairs: Vec<(Value, Value)> = if v.kind() == ValueKind::Map {
            entries(&v)
                .into_iter()
                .map(|(k, x)| (Value::from(k), x))
                .collect()
        } else {
            items(&v)
                .into_iter()
                .map(|p| {
                    (
                        p.get_item_by_index(0).unwrap_or(Value::UNDEFINED),
                        p.get_item_by_index(1).unwrap_or(Value::UNDEFINED),
                    )
                })
                .collect()
        };
        Value::from(
            pairs
                .iter()
                .map(|(k, x)| {
                    format!(
                        "{}={}",
                        encode_uri_component(&to_js_string(k)),
                        encode_uri_component(&to_js_string(x))
                    )
                })
                .collect::<Vec<_>>()
                .join("&"),
        )
    });
    env.add_filter("wordcount", |v: Value| {
        let s = norm(&v);
        let n = s
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .count();
        if n == 0 {
            Value::from(())
        } else {
            Value::from(n)
        }
    });
    env.add_filter("float", |v: Value, a: Args| {
        let f = parse_float(&to_js_string(&v));
        if f.is_nan() {
            a.first().cloned().unwrap_or(Value::UNDEFINED)
        } else {
            number_value(f)
        }
    });
    env.add_filter(
        "int",
        |v: Value, def: Option<Value>, base: Option<Value>, kw: Kwargs| {
            let def = kw_or(&kw, "default", def)?.unwrap_or(Value::UNDEFINED);
            let base = kw_or(&kw, "base", base)?.map_or(10.0, |b| to_number(&b));
            kw.assert_all_used()?;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let base = if (2.0..=36.0).contains(&base) {
                base as u32
            } else {
                10
            };
            Ok::<_, Error>(match parse_int(&to_js_string(&v), base) {
                Some(i) => Value::from(i),
                None => def,
            })
        },
    );
}

/// Cookiecutter's `jsonify`: Nunjucks' `dump`.
pub(super) fn add_jsonify(env: &mut Environment<'static>) {
    env.add_filter("jsonify", |v: Value, a: Args| {
        js::stringify(&v, &indent_of(a.first()))
            .map(Value::from)
            .unwrap_or(Value::UNDEFINED)
    });
}
