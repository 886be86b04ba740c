//! Reads typed fields out of a JSON object, collecting every type problem with its path.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::error::ValidationError;
use super::validators::EXPECT_NON_EMPTY;

/// The JSON type of a value, in words.
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads fields of one object; `prefix` is the object's path (`spec`, `spec.profile`).
pub(crate) struct ObjReader<'a, 'e> {
    map: &'a Map<String, Value>,
    prefix: Cow<'a, str>,
    errors: &'e mut Vec<ValidationError>,
}

impl<'a, 'e> ObjReader<'a, 'e> {
    pub(crate) fn new(
        map: &'a Map<String, Value>,
        prefix: impl Into<Cow<'a, str>>,
        errors: &'e mut Vec<ValidationError>,
    ) -> Self {
        Self {
            map,
            prefix: prefix.into(),
            errors,
        }
    }

    pub(crate) fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.prefix)
    }

    fn wrong_type(&mut self, key: &str, expected: &'static str, found: &Value) {
        let field = self.path(key);
        self.errors.push(ValidationError::WrongType {
            field,
            expected,
            found: json_type(found),
        });
    }

    fn missing(&mut self, key: &str) {
        let field = self.path(key);
        self.errors.push(ValidationError::Missing { field });
    }

    /// The raw value of a key.
    pub(crate) fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// A required non-empty string; `""` after recording a problem.
    pub(crate) fn req_str(&mut self, key: &str) -> &'a str {
        match self.map.get(key) {
            None | Some(Value::Null) => {
                self.missing(key);
                ""
            }
            Some(_) => self.opt_str(key).unwrap_or(""),
        }
    }

    /// An optional non-empty string.
    pub(crate) fn opt_str(&mut self, key: &str) -> Option<&'a str> {
        match self.map.get(key) {
            None => None,
            Some(Value::String(s)) if s.is_empty() => {
                let field = self.path(key);
                self.errors.push(ValidationError::Invalid {
                    field,
                    value: String::new(),
                    expected: EXPECT_NON_EMPTY,
                });
                None
            }
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                self.wrong_type(key, "a string", other);
                None
            }
        }
    }

    /// A string that may be empty (no `minLength` in the schema).
    pub(crate) fn opt_any_str(&mut self, key: &str) -> Option<&'a str> {
        match self.map.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                self.wrong_type(key, "a string", other);
                None
            }
        }
    }

    /// A required array of non-empty strings (may be empty).
    pub(crate) fn req_list(&mut self, key: &str) -> Vec<&'a str> {
        match self.map.get(key) {
            None | Some(Value::Null) => {
                self.missing(key);
                Vec::new()
            }
            Some(_) => self.opt_list(key),
        }
    }

    /// An optional array of non-empty strings.
    pub(crate) fn opt_list(&mut self, key: &str) -> Vec<&'a str> {
        match self.map.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if s.is_empty() => {
                            let field = format!("{}.{key}.{i}", self.prefix);
                            self.errors.push(ValidationError::Invalid {
                                field,
                                value: String::new(),
                                expected: EXPECT_NON_EMPTY,
                            });
                        }
                        Value::String(s) => out.push(s.as_str()),
                        other => {
                            let field = format!("{}.{key}.{i}", self.prefix);
                            self.errors.push(ValidationError::WrongType {
                                field,
                                expected: "a string",
                                found: json_type(other),
                            });
                        }
                    }
                }
                out
            }
            Some(other) => {
                self.wrong_type(key, "an array of strings", other);
                Vec::new()
            }
        }
    }

    /// An optional object.
    pub(crate) fn opt_object(&mut self, key: &str) -> Option<&'a Map<String, Value>> {
        match self.map.get(key) {
            None => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                self.wrong_type(key, "an object", other);
                None
            }
        }
    }

    /// A reader for a nested object at `key`.
    pub(crate) fn nested<'b>(
        &'b mut self,
        key: &str,
        map: &'a Map<String, Value>,
    ) -> ObjReader<'a, 'b> {
        let prefix = self.path(key);
        ObjReader {
            map,
            prefix: Cow::Owned(prefix),
            errors: self.errors,
        }
    }

    /// Records a problem found by the caller.
    pub(crate) fn push(&mut self, error: ValidationError) {
        self.errors.push(error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_problem_with_its_path() {
        let v = json!({ "a": "x", "b": "", "c": 1, "l": ["ok", "", 2], "m": "no", "n": null });
        let map = v.as_object().unwrap();
        let mut errors = Vec::new();
        let mut r = ObjReader::new(map, "spec", &mut errors);
        assert_eq!(r.req_str("a"), "x");
        assert_eq!(r.req_str("b"), "");
        assert_eq!(r.opt_str("c"), None);
        assert_eq!(r.opt_list("l"), vec!["ok"]);
        assert!(r.opt_list("m").is_empty());
        assert_eq!(r.req_str("n"), "");
        assert_eq!(r.req_str("absent"), "");
        assert_eq!(r.opt_str("absent"), None);
        assert!(r.req_list("absent2").is_empty());
        let fields: Vec<_> = errors.iter().map(ValidationError::field).collect();
        assert_eq!(
            fields,
            [
                "spec.b",
                "spec.c",
                "spec.l.1",
                "spec.l.2",
                "spec.m",
                "spec.n",
                "spec.absent",
                "spec.absent2"
            ]
        );
    }
}
