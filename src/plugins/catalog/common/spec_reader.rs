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
///
/// A reader made with [`check_only`](Self::check_only) reports the same problems but returns
/// empty owned values, so validation does not allocate copies it throws away.
pub(crate) struct ObjReader<'a, 'e> {
    map: &'a Map<String, Value>,
    prefix: Cow<'a, str>,
    errors: &'e mut Vec<ValidationError>,
    collect: bool,
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
            collect: true,
        }
    }

    /// Builder-style: only check, return empty owned values.
    pub(crate) fn check_only(mut self) -> Self {
        self.collect = false;
        self
    }

    /// Whether owned values are built.
    pub(crate) fn collects(&self) -> bool {
        self.collect
    }

    /// An owned copy of `s` (empty when only checking).
    pub(crate) fn own(&self, s: &str) -> String {
        if self.collect {
            s.to_owned()
        } else {
            String::new()
        }
    }

    /// [`req_str`](Self::req_str), owned.
    pub(crate) fn req_string(&mut self, key: &str) -> String {
        let s = self.req_str(key);
        self.own(s)
    }

    /// [`opt_str`](Self::opt_str), owned.
    pub(crate) fn opt_string(&mut self, key: &str) -> Option<String> {
        let s = self.opt_str(key)?;
        Some(self.own(s))
    }

    /// A required array of non-empty strings (may be empty), owned.
    pub(crate) fn req_strings(&mut self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.list(key, true, |s| out.push(s.to_owned()));
        out
    }

    /// An optional array of non-empty strings, owned.
    pub(crate) fn opt_strings(&mut self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.list(key, false, |s| out.push(s.to_owned()));
        out
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

    /// Checks an array of non-empty strings, handing each good item to `sink` when
    /// collecting.
    fn list(&mut self, key: &str, required: bool, mut sink: impl FnMut(&'a str)) {
        match self.map.get(key) {
            None | Some(Value::Null) if required => self.missing(key),
            None => {}
            Some(Value::Array(items)) => {
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
                        Value::String(s) => {
                            if self.collect {
                                sink(s.as_str());
                            }
                        }
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
            }
            Some(other) => self.wrong_type(key, "an array of strings", other),
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
            collect: self.collect,
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
        assert_eq!(r.opt_strings("l"), vec!["ok"]);
        assert!(r.opt_strings("m").is_empty());
        assert_eq!(r.req_str("n"), "");
        assert_eq!(r.req_str("absent"), "");
        assert_eq!(r.opt_str("absent"), None);
        assert!(r.req_strings("absent2").is_empty());
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

    #[test]
    fn check_only_reports_the_same_problems_without_copies() {
        let v = json!({ "a": "x", "l": ["ok", ""], "n": 1 });
        let map = v.as_object().unwrap();
        let mut errors = Vec::new();
        let mut r = ObjReader::new(map, "spec", &mut errors).check_only();
        assert!(!r.collects());
        assert_eq!(r.req_string("a"), "");
        assert!(r.opt_strings("l").is_empty());
        assert_eq!(r.opt_string("n"), None);
        let fields: Vec<_> = errors.iter().map(ValidationError::field).collect();
        assert_eq!(fields, ["spec.l.1", "spec.n"]);
    }
}
