//! The scanner that rewrites portable query texts for a dialect.

use std::borrow::Cow;

use super::dialect::Dialect;
use super::error::{DatabaseError, shorten};

/// Rewrites `sql` for `dialect`; see [`Dialect::render`]. With `placeholders == false`, `?`
/// and `??` are copied unchanged.
pub(crate) fn render(
    dialect: Dialect,
    sql: &str,
    placeholders: bool,
) -> Result<Cow<'_, str>, DatabaseError> {
    let rewrites_marks = placeholders && dialect == Dialect::Postgres;
    let has_tokens = sql.contains("${");
    let has_marks = placeholders && ((rewrites_marks && sql.contains('?')) || sql.contains("??"));
    if !has_tokens && !has_marks {
        return Ok(Cow::Borrowed(sql));
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0usize;
    let mut i = 0usize;
    // Start of the not yet copied stretch.
    let mut copied = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => i = skip_quoted(bytes, i, b'\''),
            b'"' => i = skip_quoted(bytes, i, b'"'),
            b'`' if dialect == Dialect::Mysql => i = skip_quoted(bytes, i, b'`'),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |p| i + p + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |p| i + 2 + p + 2);
            }
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                let Some(end) = sql[i + 2..].find('}') else {
                    i += 1;
                    continue;
                };
                let name = &sql[i + 2..i + 2 + end];
                let Some(replacement) = dialect.token(name.trim()) else {
                    return Err(DatabaseError::UnknownToken {
                        token: name.to_owned(),
                        sql: shorten(sql),
                    });
                };
                out.push_str(&sql[copied..i]);
                out.push_str(replacement);
                i += 2 + end + 1;
                copied = i;
            }
            b'$' => i = skip_dollar_quoted(sql, i),
            b'?' if placeholders => {
                if bytes.get(i + 1) == Some(&b'?') {
                    out.push_str(&sql[copied..i]);
                    out.push('?');
                    i += 2;
                    copied = i;
                } else if rewrites_marks {
                    n += 1;
                    out.push_str(&sql[copied..i]);
                    out.push('$');
                    out.push_str(&n.to_string());
                    i += 1;
                    copied = i;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    Ok(Cow::Owned(out))
}

/// Returns the index just past the quoted run starting at `start` (doubled quotes stay inside).
fn skip_quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Skips a PostgreSQL dollar-quoted body (`$$...$$`, `$tag$...$tag$`) starting at `start`;
/// anything else (`$1`) advances by one byte.
fn skip_dollar_quoted(sql: &str, start: usize) -> usize {
    let rest = &sql[start + 1..];
    let tag_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    let starts_with_digit = rest.bytes().next().is_some_and(|b| b.is_ascii_digit());
    if starts_with_digit || rest.as_bytes().get(tag_len) != Some(&b'$') {
        return start + 1;
    }
    let tag = &sql[start..start + 1 + tag_len + 1];
    let body = start + tag.len();
    sql[body..]
        .find(tag)
        .map_or(sql.len(), |p| body + p + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> String {
        render(Dialect::Postgres, sql, true).unwrap().into_owned()
    }

    #[test]
    fn numbers_placeholders_in_order() {
        assert_eq!(
            pg("a = ? AND b = ? OR c = ?"),
            "a = $1 AND b = $2 OR c = $3"
        );
    }

    #[test]
    fn leaves_literals_identifiers_and_comments_alone() {
        assert_eq!(
            pg("SELECT 'it''s ?', \"col?\" -- why?\n, ? /* ? */ FROM t"),
            "SELECT 'it''s ?', \"col?\" -- why?\n, $1 /* ? */ FROM t"
        );
    }

    #[test]
    fn leaves_dollar_quoted_bodies_and_numbered_params_alone() {
        assert_eq!(
            pg("DO $body$ SELECT ?; $body$; SELECT $1, ?"),
            "DO $body$ SELECT ?; $body$; SELECT $1, $1"
        );
    }

    #[test]
    fn double_mark_is_a_literal_mark() {
        assert_eq!(pg("data ?? 'k' AND x = ?"), "data ? 'k' AND x = $1");
        assert_eq!(
            render(Dialect::Sqlite, "a ?? b = ?", true).unwrap(),
            "a ? b = ?"
        );
    }

    #[test]
    fn sqlite_without_tokens_borrows() {
        assert!(matches!(
            render(Dialect::Sqlite, "SELECT ?", true).unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn expands_tokens_but_not_inside_strings() {
        let out = render(
            Dialect::Postgres,
            "CREATE TABLE t (id ${id}, d ${json}, s TEXT DEFAULT '${json}')",
            false,
        )
        .unwrap();
        assert_eq!(
            out,
            "CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, d JSONB, s TEXT DEFAULT '${json}')"
        );
    }

    #[test]
    fn scripts_keep_marks() {
        assert_eq!(
            render(Dialect::Postgres, "SELECT '?', ?", false).unwrap(),
            "SELECT '?', ?"
        );
    }

    #[test]
    fn mysql_keeps_marks_and_expands_its_tokens() {
        assert_eq!(
            render(
                Dialect::Mysql,
                "SELECT `a?`, ? FROM t WHERE k = ? AND d ?? 'x'",
                true
            )
            .unwrap(),
            "SELECT `a?`, ? FROM t WHERE k = ? AND d ? 'x'"
        );
        assert_eq!(
            render(
                Dialect::Mysql,
                "CREATE TABLE t (id ${id}, k ${key}, at ${timestamp})",
                false
            )
            .unwrap(),
            "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(255), at DATETIME(6))"
        );
    }

    #[test]
    fn unknown_token_is_named() {
        let err = render(Dialect::Sqlite, "SELECT ${nope}", true).unwrap_err();
        assert!(matches!(err, DatabaseError::UnknownToken { ref token, .. } if token == "nope"));
    }
}
