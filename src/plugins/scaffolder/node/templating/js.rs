//! JavaScript value semantics the Nunjucks engine has and minijinja does not: how a value
//! prints (`String(v)`), how `JSON.stringify` writes it, truthiness, `+`, number formatting.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use serde_json::Value as Json;

/// `String(v)` of a JavaScript value: `undefined`, `null`, numbers without a `.0`, arrays
/// joined with `,`, objects as `[object Object]`.
pub(crate) fn to_js_string(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined => "undefined".to_string(),
        ValueKind::None => "null".to_string(),
        _ => display(v),
    }
}

/// What `${{ v }}` prints: like [`to_js_string`] but `undefined` and `null` print nothing.
pub(crate) fn display(v: &Value) -> String {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => String::new(),
        ValueKind::Bool => if v.is_true() { "true" } else { "false" }.to_string(),
        ValueKind::Number => number_string(v),
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::Seq | ValueKind::Iterable => match v.try_iter() {
            Ok(items) => items.map(|i| display(&i)).collect::<Vec<_>>().join(","),
            Err(_) => String::new(),
        },
        ValueKind::Map => "[object Object]".to_string(),
        _ => v.to_string(),
    }
}

/// A number of a minijinja value as JavaScript prints it.
fn number_string(v: &Value) -> String {
    if v.is_integer() {
        if let Ok(i) = i64::try_from(v.clone()) {
            return i.to_string();
        }
    }
    as_f64(v).map(js_number).unwrap_or_default()
}

/// The value as a JavaScript number, when it is a number.
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    if v.kind() != ValueKind::Number {
        return None;
    }
    f64::try_from(v.clone()).ok()
}

/// `Number(v)` of JavaScript for the kinds templates meet.
pub(crate) fn to_number(v: &Value) -> f64 {
    match v.kind() {
        ValueKind::Number => as_f64(v).unwrap_or(f64::NAN),
        ValueKind::Bool => f64::from(u8::from(v.is_true())),
        ValueKind::None => 0.0,
        ValueKind::String => {
            let s = v.as_str().unwrap_or_default().trim();
            if s.is_empty() {
                0.0
            } else {
                s.parse::<f64>().unwrap_or(f64::NAN)
            }
        }
        ValueKind::Seq => match v.len() {
            Some(0) => 0.0,
            Some(1) => v.get_item_by_index(0).map_or(f64::NAN, |x| to_number(&x)),
            _ => f64::NAN,
        },
        _ => f64::NAN,
    }
}

/// `Number.prototype.toString()` of JavaScript: the shortest digits that read back to the same
/// number, plain between 1e-7 and 1e21, exponent form outside.
pub(crate) fn js_number(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if f == 0.0 {
        return "0".to_string();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = i64::try_from(digits.len()).unwrap_or(1);
    let n = exp + 1;
    let sign = if f < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!(
            "{digits}{}",
            "0".repeat(usize::try_from(n - k).unwrap_or(0))
        )
    } else if 0 < n && n <= 21 {
        let (a, b) = digits.split_at(usize::try_from(n).unwrap_or(0));
        format!("{a}.{b}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat(usize::try_from(-n).unwrap_or(0)))
    } else {
        let e = n - 1;
        let es = if e >= 0 {
            format!("+{e}")
        } else {
            e.to_string()
        };
        if k == 1 {
            format!("{digits}e{es}")
        } else {
            let (a, b) = digits.split_at(1);
            format!("{a}.{b}e{es}")
        }
    };
    format!("{sign}{body}")
}

/// JavaScript truthiness: everything but `undefined`, `null`, `false`, `0`, `NaN` and `""`
/// (empty arrays and objects are true).
pub(crate) fn truthy(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => false,
        ValueKind::Bool => v.is_true(),
        ValueKind::Number => as_f64(v).is_some_and(|f| f != 0.0 && !f.is_nan()),
        ValueKind::String => !v.as_str().unwrap_or_default().is_empty(),
        _ => true,
    }
}

/// A number as a minijinja value: integral values within 2^53 become integers, as JavaScript
/// does not tell them apart.
pub(crate) fn number_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(f as i64);
    }
    Value::from(f)
}

/// JavaScript `a + b`: string concatenation when either side is a string, an array or an
/// object; numeric addition otherwise.
pub(crate) fn add(a: &Value, b: &Value) -> Value {
    let stringy = |v: &Value| {
        matches!(
            v.kind(),
            ValueKind::String | ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
        )
    };
    if stringy(a) || stringy(b) {
        return Value::from(format!("{}{}", to_js_string(a), to_js_string(b)));
    }
    if a.is_integer() && b.is_integer() {
        if let (Ok(x), Ok(y)) = (i64::try_from(a.clone()), i64::try_from(b.clone())) {
            if let Some(s) = x.checked_add(y) {
                return Value::from(s);
            }
        }
    }
    number_value(to_number(a) + to_number(b))
}

/// `JSON.stringify(v, null, indent)`; `None` for `undefined` (which prints nothing).
pub(crate) fn stringify(v: &Value, indent: &str) -> Option<String> {
    let mut out = String::new();
    if write_json(v, indent, 0, &mut out) {
        Some(out)
    } else {
        None
    }
}

fn write_json(v: &Value, indent: &str, depth: usize, out: &mut String) -> bool {
    match v.kind() {
        ValueKind::Undefined | ValueKind::Invalid | ValueKind::Plain => return false,
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => match as_f64(v) {
            Some(f) if f.is_finite() => out.push_str(&number_string(v)),
            _ => out.push_str("null"),
        },
        ValueKind::String | ValueKind::Bytes => {
            let s = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            out.push_str(&serde_json::to_string(&s).unwrap_or_default());
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter().map(Iterator::collect).unwrap_or_default();
            if items.is_empty() {
                out.push_str("[]");
                return true;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, depth + 1, out);
                if !write_json(item, indent, depth + 1, out) {
                    out.push_str("null");
                }
            }
            newline(indent, depth, out);
            out.push(']');
        }
        ValueKind::Map => {
            let keys: Vec<Value> = v.try_iter().map(Iterator::collect).unwrap_or_default();
            let mut first = true;
            out.push('{');
            for key in keys {
                let item = v.get_item(&key).unwrap_or(Value::UNDEFINED);
                if matches!(item.kind(), ValueKind::Undefined) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                newline(indent, depth + 1, out);
                let k = to_js_string(&key);
                out.push_str(&serde_json::to_string(&k).unwrap_or_default());
                out.push(':');
                if !indent.is_empty() {
                    out.push(' ');
                }
                write_json(&item, indent, depth + 1, out);
            }
            if !first {
                newline(indent, depth, out);
            }
            out.push('}');
        }
        _ => return false,
    }
    true
}

fn newline(indent: &str, depth: usize, out: &mut String) {
    if !indent.is_empty() {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    }
}

/// The indentation `JSON.stringify` uses for its third argument: a number of spaces (at most
/// 10) or a string (its first 10 characters).
pub(crate) fn indent_of(spaces: Option<&Value>) -> String {
    match spaces {
        Some(v) if v.kind() == ValueKind::Number => {
            let n = as_f64(v).unwrap_or(0.0).clamp(0.0, 10.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            " ".repeat(n as usize)
        }
        Some(v) if v.kind() == ValueKind::String => {
            v.as_str().unwrap_or_default().chars().take(10).collect()
        }
        _ => String::new(),
    }
}

/// A minijinja value as JSON the way `JSON.parse(JSON.stringify(v))` sees it; `None` for
/// `undefined`.
pub(crate) fn to_json(v: &Value) -> Option<Json> {
    let text = stringify(v, "")?;
    serde_json::from_str(&text).ok()
}

/// A JSON array as the template sees it: a sequence that is true even when empty, as a
/// JavaScript array is.
#[derive(Debug)]
struct JsArray(Vec<Value>);

impl Object for JsArray {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_usize()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
}

/// A JSON object as the template sees it: a map that is true even when empty.
#[derive(Debug)]
struct JsObject(BTreeMap<String, Value>);

impl Object for JsObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.keys().map(|k| Value::from(k.as_str())).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }
}

/// A JSON value (from a task's parameters or a file) as the template sees it: numbers that are
/// whole become integers, and arrays and objects are true even when empty, as in JavaScript.
pub(crate) fn from_json(v: &Json) -> Value {
    match v {
        Json::Number(n) if !n.is_i64() && !n.is_u64() => number_value(n.as_f64().unwrap_or(0.0)),
        Json::Array(items) => Value::from_object(JsArray(items.iter().map(from_json).collect())),
        Json::Object(map) => Value::from_object(JsObject(
            map.iter().map(|(k, v)| (k.clone(), from_json(v))).collect(),
        )),
        Json::Null => Value::from(()),
        Json::Bool(b) => Value::from(*b),
        Json::String(s) => Value::from(s.as_str()),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => number_value(n.as_f64().unwrap_or(0.0)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_javascript() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (0.1 + 0.2, "0.30000000000000004"),
            (10.0 / 3.0, "3.3333333333333335"),
            (f64::NAN, "NaN"),
        ];
        for (f, s) in cases {
            assert_eq!(js_number(f), s, "{f}");
        }
    }

    #[test]
    fn stringify_matches_json_stringify() {
        let v = from_json(&serde_json::json!({"a": [1, 2.5, null], "b": {}, "c": [], "d": 2.0}));
        assert_eq!(
            stringify(&v, "").as_deref(),
            Some(r#"{"a":[1,2.5,null],"b":{},"c":[],"d":2}"#)
        );
        assert_eq!(
            stringify(&v, "  ").as_deref(),
            Some(
                "{\n  \"a\": [\n    1,\n    2.5,\n    null\n  ],\n  \"b\": {},\n  \"c\": [],\n  \"d\": 2\n}"
            )
        );
        assert_eq!(stringify(&Value::UNDEFINED, ""), None);
    }
}
