//! One bounded render, and how Backstage's runner tells a lone expression from text.

use minijinja::Environment;
use serde_json::Value;

use super::TemplateError;

/// Collects output and refuses to grow past `limit` bytes.
struct Bounded {
    buf: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl std::io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `template` with at most `max_output` bytes of output.
pub(super) fn render(
    env: &Environment<'static>,
    template: &str,
    ctx: &minijinja::Value,
    max_output: Option<usize>,
) -> Result<String, TemplateError> {
    let limit = max_output.unwrap_or(usize::MAX);
    let template = rewrite_pair_loops(template);
    let tmpl = env.template_from_str(&template)?;
    let mut out = Bounded {
        buf: Vec::with_capacity(template.len().min(limit)),
        limit,
        exceeded: false,
    };
    match tmpl.render_captured_to(ctx, &mut out).map(drop) {
        Ok(_) => String::from_utf8(out.buf).map_err(|e| TemplateError(e.to_string())),
        Err(_) if out.exceeded => Err(TemplateError(format!(
            "rendered output is larger than {limit} bytes (scaffolder.templating.maxOutputSize)"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The filter [`rewrite_pair_loops`] inserts.
pub(super) const PAIRS_FILTER: &str = "__nunjucks_pairs";

/// `{% for k, v in obj %}` walks the keys and values of an object in Nunjucks; minijinja would
/// unpack each key. The loop's expression is piped through [`PAIRS_FILTER`], which turns an
/// object into `[key, value]` pairs and leaves anything else as it is.
fn rewrite_pair_loops(template: &str) -> std::borrow::Cow<'_, str> {
    static LOOP: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?s)(\{%[-+]?\s*for\s+[A-Za-z_]\w*\s*,\s*[A-Za-z_]\w*\s+in\s+)(.*?)(\s*[-+]?%\})",
        )
        .ok()
    });
    match LOOP.as_ref() {
        Some(re) if template.contains("for") => re.replace_all(
            template,
            format!("${{1}}(${{2}}) | {PAIRS_FILTER}${{3}}").as_str(),
        ),
        _ => std::borrow::Cow::Borrowed(template),
    }
}

/// Whether Nunjucks parses `s` into exactly one node that is not text: one `${{ }}` or one
/// `{% %}` block spanning the whole string (Backstage's `isSingleTemplateString`).
pub(super) fn is_single_node(s: &str) -> bool {
    if let Some(inner) = s.strip_prefix("${{").and_then(|r| r.strip_suffix("}}")) {
        return !inner.contains("${{") && !inner.contains("}}") && !inner.trim().is_empty();
    }
    if !s.starts_with("{%") || !s.ends_with("%}") {
        return false;
    }
    let mut depth = 0usize;
    let mut rest = s;
    let mut offset = 0;
    while let Some(open) = rest.find("{%") {
        let Some(close) = rest[open..].find("%}") else {
            return false;
        };
        let tag = rest[open + 2..open + close].trim_matches(|c: char| c == '-' || c == '+');
        let word = tag.split_whitespace().next().unwrap_or("");
        let opens = matches!(
            word,
            "if" | "for" | "macro" | "call" | "filter" | "raw" | "verbatim" | "block"
        ) || (word == "set" && !tag.contains('='));
        let closes = word.starts_with("end");
        let tag_end = offset + open + close + 2;
        if depth == 0 && offset + open != 0 {
            return false;
        }
        if opens {
            depth += 1;
        } else if closes {
            depth = depth.saturating_sub(1);
            if depth == 0 && tag_end != s.len() {
                return false;
            }
        } else if depth == 0 {
            return tag_end == s.len();
        }
        offset = tag_end;
        rest = &s[tag_end..];
    }
    depth == 0
}

/// `${{ expr }}` → `${{ ( expr ) | dump }}` on every line, as the runner's
/// `/\${{(.+)}}/g` replacement does.
pub(super) fn wrap_dump(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let wrapped = line.find("${{").and_then(|start| {
            let end = line.rfind("}}")?;
            (end > start + 3).then(|| {
                format!(
                    "{}${{{{ ( {} ) | dump }}}}{}",
                    &line[..start],
                    &line[start + 3..end],
                    &line[end + 2..]
                )
            })
        });
        out.push_str(wrapped.as_deref().unwrap_or(line));
    }
    out
}

/// `JSON.parse` keeps no difference between `2` and `2.0`; neither do we.
pub(super) fn whole_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)]
            Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                Value::from(f as i64)
            }
            _ => Value::Number(n),
        },
        Value::Array(a) => Value::Array(a.into_iter().map(whole_numbers).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, v)| (k, whole_numbers(v))).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_nodes() {
        assert!(is_single_node("${{ a }}"));
        assert!(!is_single_node(" ${{ a }}"));
        assert!(!is_single_node("${{ a }}${{ b }}"));
        assert!(!is_single_node("x ${{ a }}"));
        assert!(is_single_node("{% if a %}1{% else %}2{% endif %}"));
        assert!(is_single_node(
            "{% if a %}{% if b %}1{% endif %}{% endif %}"
        ));
        assert!(!is_single_node(
            "{% if a %}1{% endif %}{% if b %}2{% endif %}"
        ));
        assert!(!is_single_node("{% if a %}1{% endif %} "));
        assert!(!is_single_node("plain"));
    }

    #[test]
    fn pair_loops() {
        assert_eq!(
            rewrite_pair_loops("{% for k, v in a.b %}x{% endfor %}{% for x in y %}{% endfor %}"),
            "{% for k, v in (a.b) | __nunjucks_pairs %}x{% endfor %}{% for x in y %}{% endfor %}"
        );
        assert_eq!(
            rewrite_pair_loops("{%- for k,v in o -%}"),
            "{%- for k,v in (o) | __nunjucks_pairs -%}"
        );
    }

    #[test]
    fn dump_wrapping() {
        // As the runner's `'${{ ( $1 ) | dump }}'` replacement: the blanks of `$1` stay.
        assert_eq!(wrap_dump("${{ a.b }}"), "${{ (  a.b  ) | dump }}");
        assert_eq!(
            wrap_dump("{% if x %}\n${{ y }}\n{% endif %}"),
            "{% if x %}\n${{ (  y  ) | dump }}\n{% endif %}"
        );
    }
}
