//! Config paths: `backend.listen.port`, `catalog.locations[2].target`.

use std::fmt::{self, Write as _};

use serde_json::Value;

use super::error::ConfigError;

/// One step of a config path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Key(k) => f.write_str(k),
            Segment::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Parses a dotted path with optional `[n]` indexes. The empty path has no segments.
pub(crate) fn parse(path: &str) -> Result<Vec<Segment>, ConfigError> {
    let invalid = |message| ConfigError::InvalidPath {
        path: path.to_owned(),
        message,
    };
    let mut segments = Vec::new();
    if path.is_empty() {
        return Ok(segments);
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    // true when the next token must be a key (start, or after '.')
    let mut need_key = true;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => {
                if need_key && !segments.is_empty() {
                    return Err(invalid("empty key before '['"));
                }
                let end = path[i..]
                    .find(']')
                    .map(|e| e + i)
                    .ok_or_else(|| invalid("unclosed '['"))?;
                let index = path[i + 1..end]
                    .parse::<usize>()
                    .map_err(|_| invalid("array index must be a non-negative integer"))?;
                segments.push(Segment::Index(index));
                i = end + 1;
                need_key = false;
                match bytes.get(i) {
                    None | Some(b'[') => {}
                    Some(b'.') => {
                        i += 1;
                        need_key = true;
                        if i == bytes.len() {
                            return Err(invalid("path ends with '.'"));
                        }
                    }
                    Some(_) => return Err(invalid("expected '.' or '[' after ']'")),
                }
            }
            b'.' => return Err(invalid("empty key")),
            b']' => return Err(invalid("unexpected ']'")),
            _ => {
                if !need_key {
                    return Err(invalid("expected '.' or '[' after ']'"));
                }
                let end = path[i..]
                    .find(['.', '[', ']'])
                    .map(|e| e + i)
                    .unwrap_or(path.len());
                segments.push(Segment::Key(path[i..end].to_owned()));
                i = end;
                need_key = false;
                if bytes.get(i) == Some(&b'.') {
                    i += 1;
                    need_key = true;
                    if i == bytes.len() {
                        return Err(invalid("path ends with '.'"));
                    }
                }
            }
        }
    }
    Ok(segments)
}

/// Renders segments as a path string, after an optional prefix.
pub(crate) fn render(prefix: &str, segments: &[Segment]) -> String {
    let mut out = String::from(prefix);
    for segment in segments {
        match segment {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// Outcome of walking a path through a value.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    /// The value at the path.
    Found(&'a Value),
    /// Nothing at the path (a key or index is absent, or a `null` on the way).
    Absent,
    /// The walk hit a value of the wrong kind after `depth` segments.
    Blocked {
        /// Segments successfully walked before the blocking value.
        depth: usize,
        /// `an object` or `an array`.
        expected: &'static str,
    },
}

/// Walks `segments` from `value`.
pub(crate) fn lookup<'a>(value: &'a Value, segments: &[Segment]) -> Lookup<'a> {
    let mut current = value;
    for (depth, segment) in segments.iter().enumerate() {
        let next = match (segment, current) {
            (_, Value::Null) => return Lookup::Absent,
            (Segment::Key(k), Value::Object(map)) => map.get(k),
            (Segment::Index(i), Value::Array(items)) => items.get(*i),
            (Segment::Key(_), _) => {
                return Lookup::Blocked {
                    depth,
                    expected: "an object",
                };
            }
            (Segment::Index(_), _) => {
                return Lookup::Blocked {
                    depth,
                    expected: "an array",
                };
            }
        };
        match next {
            Some(v) => current = v,
            None => return Lookup::Absent,
        }
    }
    Lookup::Found(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(path: &str) -> Vec<Segment> {
        parse(path).unwrap()
    }

    #[test]
    fn parses_keys_and_indexes() {
        assert_eq!(
            keys("catalog.locations[2].target"),
            vec![
                Segment::Key("catalog".into()),
                Segment::Key("locations".into()),
                Segment::Index(2),
                Segment::Key("target".into()),
            ]
        );
        assert_eq!(
            keys("a[0][1]"),
            vec![
                Segment::Key("a".into()),
                Segment::Index(0),
                Segment::Index(1)
            ]
        );
        assert_eq!(keys("[3]"), vec![Segment::Index(3)]);
        assert!(keys("").is_empty());
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "a..b", ".a", "a.", "a[", "a[x]", "a[1]b", "a]", "a[-1]", "a.[1]",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                matches!(err, ConfigError::InvalidPath { ref path, .. } if path == bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn renders_with_prefix() {
        assert_eq!(
            render("backend", &keys("listen.port")),
            "backend.listen.port"
        );
        assert_eq!(render("", &keys("a[1].b")), "a[1].b");
        assert_eq!(render("x[0]", &keys("[1].y")), "x[0][1].y");
    }

    #[test]
    fn lookup_reports_blocking_values() {
        let v = json!({"a": {"b": 1}, "l": [{"x": true}], "n": null});
        assert!(matches!(lookup(&v, &keys("a.b")), Lookup::Found(x) if *x == json!(1)));
        assert!(matches!(
            lookup(&v, &keys("l[0].x")),
            Lookup::Found(Value::Bool(true))
        ));
        assert!(matches!(lookup(&v, &keys("a.c")), Lookup::Absent));
        assert!(matches!(lookup(&v, &keys("n.c")), Lookup::Absent));
        assert!(matches!(lookup(&v, &keys("l[5]")), Lookup::Absent));
        assert!(matches!(
            lookup(&v, &keys("a.b.c")),
            Lookup::Blocked {
                depth: 2,
                expected: "an object"
            }
        ));
        assert!(matches!(
            lookup(&v, &keys("a[0]")),
            Lookup::Blocked {
                depth: 1,
                expected: "an array"
            }
        ));
    }
}
