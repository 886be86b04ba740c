//! The string work of the Nunjucks filters: JavaScript's `parseInt`/`parseFloat` and
//! `encodeURIComponent`, HTML escaping, `replace` and `striptags`.

use minijinja::value::{Rest, Value, ValueKind};

use super::js::{display, to_js_string, to_number, truthy};
use super::nunjucks::{like, norm};

type Args = Rest<Value>;

/// JavaScript's `parseFloat`.
pub(super) fn parse_float(s: &str) -> f64 {
    let s = s.trim_start();
    let mut end = 0;
    let b = s.as_bytes();
    let mut best = f64::NAN;
    for prefix in ["Infinity", "+Infinity", "-Infinity"] {
        if s.starts_with(prefix) {
            return if prefix.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
        }
    }
    while end < b.len() {
        end += 1;
        if let Ok(f) = s[..end].parse::<f64>() {
            if !s[..end].ends_with(['e', 'E', '+', '-', '.']) || s[..end].contains(char::is_numeric)
            {
                best = f;
            }
        } else if !matches!(b[end - 1], b'e' | b'E' | b'+' | b'-' | b'.') {
            break;
        }
        if s[..end].contains("inf") || s[..end].contains("nan") {
            break;
        }
    }
    best
}

/// JavaScript's `parseInt(s, base)`.
pub(super) fn parse_int(s: &str, base: u32) -> Option<i64> {
    let s = s.trim_start();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let s = if base == 16 {
        s.strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s)
    } else {
        s
    };
    let digits: String = s.chars().take_while(|c| c.is_digit(base)).collect();
    if digits.is_empty() {
        return None;
    }
    let v = i64::from_str_radix(&digits, base).ok()?;
    Some(if neg { -v } else { v })
}

/// JavaScript's `encodeURIComponent`.
pub(super) fn encode_uri_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// HTML escaping as Nunjucks does it (backslashes too).
pub(super) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' => out.push_str("&#92;"),
            c => out.push(c),
        }
    }
    out
}

/// Nunjucks' `replace`: every (or the first `maxCount`) occurrence; `""` puts the new text
/// between every character.
pub(super) fn replace(v: Value, a: Args) -> Value {
    let (old, new) = (
        a.first().cloned().unwrap_or(Value::UNDEFINED),
        a.get(1).cloned().unwrap_or(Value::UNDEFINED),
    );
    let old = match old.kind() {
        ValueKind::Number => display(&old),
        ValueKind::String => old.as_str().unwrap_or_default().to_string(),
        _ => return v,
    };
    let s = match v.kind() {
        ValueKind::Number => display(&v),
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        _ => return v,
    };
    let new = to_js_string(&new);
    let max = a.get(2).filter(|m| !m.is_undefined()).map(to_number);
    if old.is_empty() {
        let mut out = new.clone();
        for c in s.chars() {
            out.push(c);
            out.push_str(&new);
        }
        return like(&v, out);
    }
    let mut out = String::new();
    let mut rest = s.as_str();
    let mut count = 0.0;
    while let Some(i) = rest.find(&old) {
        if max.is_some_and(|m| m >= 0.0 && count >= m) {
            break;
        }
        out.push_str(&rest[..i]);
        out.push_str(&new);
        rest = &rest[i + old.len()..];
        count += 1.0;
    }
    if count == 0.0 {
        return v;
    }
    out.push_str(rest);
    like(&v, out)
}

/// Nunjucks' `striptags`.
pub(super) fn striptags(v: Value, a: Args) -> Value {
    static TAGS: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?i)</?([a-z][a-z0-9]*)\b[^>]*>|<!--[\s\S]*?-->").ok()
    });
    static EDGE_SPACES: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?m)^ +| +$").ok());
    static SPACES: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r" +").ok());
    static BREAKS: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\n\n\n+").ok());
    static WS: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"\s+").ok());
    let s = norm(&v);
    let (Some(tags), Some(edge), Some(spaces), Some(breaks), Some(ws)) = (
        TAGS.as_ref(),
        EDGE_SPACES.as_ref(),
        SPACES.as_ref(),
        BREAKS.as_ref(),
        WS.as_ref(),
    ) else {
        return v;
    };
    let stripped = tags.replace_all(&s, "");
    let trimmed = stripped.trim();
    let out = if a.first().is_some_and(truthy) {
        let x = edge.replace_all(trimmed, "");
        let x = spaces.replace_all(&x, " ");
        let x = x.replace("\r\n", "\n");
        breaks.replace_all(&x, "\n\n").into_owned()
    } else {
        ws.replace_all(trimmed, " ").into_owned()
    };
    like(&v, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_numbers_like_javascript() {
        assert_eq!(parse_int("42px", 10), Some(42));
        assert_eq!(parse_int("  -7.9", 10), Some(-7));
        assert_eq!(parse_int("ff", 16), Some(255));
        assert_eq!(parse_int("x", 10), None);
        assert!((parse_float("3.25abc") - 3.25).abs() < f64::EPSILON);
        assert!((parse_float("1e3") - 1000.0).abs() < f64::EPSILON);
        assert!(parse_float("abc").is_nan());
    }

    #[test]
    fn uri_components() {
        assert_eq!(encode_uri_component("a b&c/é"), "a%20b%26c%2F%C3%A9");
    }
}
