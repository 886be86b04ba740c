//! Backstage's filter predicates: the `query` of `POST /entities/by-query`,
//! `POST /entity-facets` and `POST /locations/by-query`.
//!
//! A predicate is a JSON object. Each plain key is a field path (`kind`, `spec.type`,
//! `metadata.annotations.backstage.io/orphan`) whose value is a scalar (equality), an
//! operator object (`{ "$exists": bool }`, `{ "$in": [...] }`, `{ "$hasPrefix": "..." }`,
//! `{ "$contains": ... }`) or, for several keys in one object, all must hold. The logical
//! operators `$all`, `$any` (arrays of predicates) and `$not` (one predicate) nest freely.
//! Field names and values compare case-insensitively, as the `filter` parameter does.

use serde_json::Value;

use super::error::CatalogError;
use super::query::Filter;

/// Deepest nesting accepted, so a hostile body cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// A parsed predicate, with keys and values lowercased.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Predicate {
    /// Every predicate holds (`true` when empty).
    All(Vec<Predicate>),
    /// At least one holds (`false` when empty).
    Any(Vec<Predicate>),
    /// The predicate does not hold.
    Not(Box<Predicate>),
    /// The field is present (or absent).
    Exists {
        /// Field path.
        key: String,
        /// Whether it must exist.
        exists: bool,
    },
    /// The field has one of the values (for arrays: one element does).
    In {
        /// Field path.
        key: String,
        /// Accepted values.
        values: Vec<String>,
    },
    /// The field has a value starting with `prefix`.
    HasPrefix {
        /// Field path.
        key: String,
        /// The prefix.
        prefix: String,
    },
}

impl Predicate {
    /// The predicate that matches everything.
    pub(crate) fn everything() -> Self {
        Self::All(Vec::new())
    }

    /// Whether this matches everything without looking at any field.
    pub(crate) fn is_everything(&self) -> bool {
        matches!(self, Self::All(v) if v.is_empty())
    }

    /// Parses a JSON predicate; errors name the `param` and the path of the broken part.
    pub(crate) fn parse(value: &Value, param: &str) -> Result<Self, CatalogError> {
        let predicate = parse_node(value, param, 0)?;
        predicate.check_depth(param)?;
        Ok(predicate)
    }

    /// How deeply `$all`, `$any` and `$not` nest (each adds a level).
    pub(crate) fn depth(&self) -> usize {
        match self {
            Self::All(ps) | Self::Any(ps) => 1 + ps.iter().map(Self::depth).max().unwrap_or(0),
            Self::Not(p) => 1 + p.depth(),
            Self::Exists { .. } | Self::In { .. } | Self::HasPrefix { .. } => 0,
        }
    }

    /// Rejects predicates nested deeper than a request may nest them: applied to parsed
    /// requests and to predicates decoded from cursors, which a client can craft.
    pub(crate) fn check_depth(&self, param: &str) -> Result<(), CatalogError> {
        if self.depth() > MAX_DEPTH {
            return Err(err(
                param,
                "",
                format!("nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// The predicate equal to the `filter` params (alternatives of conditions).
    pub(crate) fn from_filter(filter: &Filter) -> Self {
        if filter.is_empty() {
            return Self::everything();
        }
        let alternatives = filter
            .iter()
            .map(|conditions| {
                Self::All(
                    conditions
                        .iter()
                        .map(|c| {
                            if c.values.is_empty() {
                                Self::Exists {
                                    key: c.key.clone(),
                                    exists: true,
                                }
                            } else {
                                Self::In {
                                    key: c.key.clone(),
                                    values: c.values.clone(),
                                }
                            }
                        })
                        .collect(),
                )
            })
            .collect::<Vec<_>>();
        match <[Self; 1]>::try_from(alternatives) {
            Ok([one]) => one,
            Err(many) => Self::Any(many),
        }
    }

    /// Evaluates against a record whose field values (lowercased) `values_of` returns.
    pub(crate) fn matches<'a, F, I>(&self, values_of: &F) -> bool
    where
        F: Fn(&str) -> I,
        I: IntoIterator<Item = &'a str>,
    {
        match self {
            Self::All(ps) => ps.iter().all(|p| p.matches(values_of)),
            Self::Any(ps) => ps.iter().any(|p| p.matches(values_of)),
            Self::Not(p) => !p.matches(values_of),
            Self::Exists { key, exists } => values_of(key).into_iter().next().is_some() == *exists,
            Self::In { key, values } => values_of(key)
                .into_iter()
                .any(|v| values.iter().any(|want| want == v)),
            Self::HasPrefix { key, prefix } => values_of(key)
                .into_iter()
                .any(|v| v.starts_with(prefix.as_str())),
        }
    }
}

fn err(param: &str, path: &str, message: impl std::fmt::Display) -> CatalogError {
    let at = if path.is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    };
    CatalogError::input(param, format!("invalid predicate{at}: {message}"))
}

fn parse_node(value: &Value, param: &str, depth: usize) -> Result<Predicate, CatalogError> {
    parse_at(value, param, "", depth)
}

fn parse_at(
    value: &Value,
    param: &str,
    path: &str,
    depth: usize,
) -> Result<Predicate, CatalogError> {
    if depth > MAX_DEPTH {
        return Err(err(
            param,
            path,
            format!("nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    let Value::Object(map) = value else {
        return Err(err(param, path, "expected an object"));
    };
    let mut parts = Vec::with_capacity(map.len());
    for (key, v) in map {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match key.as_str() {
            "$all" | "$any" => {
                let Value::Array(items) = v else {
                    return Err(err(param, &here, "expected an array of predicates"));
                };
                let inner = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| parse_at(item, param, &format!("{here}[{i}]"), depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(if key == "$all" {
                    Predicate::All(inner)
                } else {
                    Predicate::Any(inner)
                });
            }
            "$not" => {
                parts.push(Predicate::Not(Box::new(parse_at(
                    v,
                    param,
                    &here,
                    depth + 1,
                )?)));
            }
            k if k.starts_with('$') => {
                return Err(err(param, &here, format!("unknown operator {k}")));
            }
            field => {
                if field.trim().is_empty() {
                    return Err(err(param, &here, "empty field name"));
                }
                parts.push(parse_field(&lower(field.trim()), v, param, &here)?);
            }
        }
    }
    Ok(match <[Predicate; 1]>::try_from(parts) {
        Ok([one]) => one,
        Err(many) => Predicate::All(many),
    })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(lower(s)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_field(key: &str, v: &Value, param: &str, path: &str) -> Result<Predicate, CatalogError> {
    if let Some(s) = scalar(v) {
        return Ok(Predicate::In {
            key: key.to_owned(),
            values: vec![s],
        });
    }
    let Value::Object(ops) = v else {
        return Err(err(
            param,
            path,
            "expected a string, number, boolean or operator object",
        ));
    };
    if ops.len() != 1 {
        return Err(err(param, path, "expected exactly one operator"));
    }
    let Some((op, arg)) = ops.iter().next() else {
        return Err(err(param, path, "expected exactly one operator"));
    };
    let here = format!("{path}.{op}");
    match op.as_str() {
        "$exists" => match arg {
            Value::Bool(b) => Ok(Predicate::Exists {
                key: key.to_owned(),
                exists: *b,
            }),
            _ => Err(err(param, &here, "expected true or false")),
        },
        "$in" => {
            let Value::Array(items) = arg else {
                return Err(err(param, &here, "expected an array of values"));
            };
            let values = items
                .iter()
                .map(|i| scalar(i).ok_or_else(|| err(param, &here, "values must be scalars")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Predicate::In {
                key: key.to_owned(),
                values,
            })
        }
        "$contains" => {
            let value = scalar(arg).ok_or_else(|| err(param, &here, "expected a scalar value"))?;
            Ok(Predicate::In {
                key: key.to_owned(),
                values: vec![value],
            })
        }
        "$hasPrefix" => {
            let Value::String(prefix) = arg else {
                return Err(err(param, &here, "expected a string"));
            };
            Ok(Predicate::HasPrefix {
                key: key.to_owned(),
                prefix: lower(prefix),
            })
        }
        other => Err(err(param, &here, format!("unknown operator {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn record(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            m.entry((*k).to_owned()).or_default().push((*v).to_owned());
        }
        m
    }

    fn eval(p: &Predicate, r: &HashMap<String, Vec<String>>) -> bool {
        p.matches(&|k: &str| r.get(k).into_iter().flatten().map(String::as_str))
    }

    #[test]
    fn scalars_operators_and_logic() {
        let r = record(&[
            ("kind", "component"),
            ("spec.type", "service"),
            ("metadata.tags", "java"),
            ("metadata.tags", "web"),
        ]);
        let yes = [
            json!({ "kind": "Component" }),
            json!({ "kind": "component", "spec.type": "SERVICE" }),
            json!({ "metadata.tags": "web" }),
            json!({ "metadata.tags": { "$contains": "java" } }),
            json!({ "kind": { "$in": ["API", "Component"] } }),
            json!({ "spec.owner": { "$exists": false } }),
            json!({ "$any": [{ "kind": "api" }, { "spec.type": "service" }] }),
            json!({ "$not": { "kind": "api" } }),
            json!({ "spec.type": { "$hasPrefix": "serv" } }),
            json!({ "$all": [] }),
            json!({}),
        ];
        for q in yes {
            let p = Predicate::parse(&q, "query").unwrap();
            assert!(eval(&p, &r), "{q} should match");
        }
        let no = [
            json!({ "kind": "api" }),
            json!({ "kind": "component", "spec.type": "website" }),
            json!({ "$any": [] }),
            json!({ "$not": { "kind": "component" } }),
            json!({ "spec.owner": { "$exists": true } }),
        ];
        for q in no {
            let p = Predicate::parse(&q, "query").unwrap();
            assert!(!eval(&p, &r), "{q} should not match");
        }
    }

    #[test]
    fn bad_predicates_name_the_part() {
        let cases = [
            (json!([]), "expected an object"),
            (json!({ "$all": {} }), "$all"),
            (json!({ "$nope": [] }), "unknown operator $nope"),
            (json!({ "kind": { "$in": "x" } }), "kind.$in"),
            (json!({ "kind": { "$exists": "yes" } }), "kind.$exists"),
            (
                json!({ "kind": { "$in": [], "$exists": true } }),
                "exactly one",
            ),
            (json!({ "kind": [1] }), "kind"),
            (
                json!({ "$any": [{ "kind": { "$bad": 1 } }] }),
                "$any[0].kind.$bad",
            ),
        ];
        for (q, needle) in cases {
            let e = Predicate::parse(&q, "query").unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
        let mut deep = json!({ "kind": "a" });
        for _ in 0..40 {
            deep = json!({ "$not": deep });
        }
        assert!(Predicate::parse(&deep, "query").is_err());
    }

    #[test]
    fn filters_become_predicates() {
        let f = super::super::query::parse_filters(&[
            "kind=component,spec.type=service".into(),
            "kind=api".into(),
        ])
        .unwrap();
        let p = Predicate::from_filter(&f);
        assert!(eval(&p, &record(&[("kind", "api")])));
        assert!(!eval(&p, &record(&[("kind", "component")])));
        assert!(Predicate::from_filter(&Vec::new()).is_everything());
    }
}
