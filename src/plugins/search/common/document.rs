use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A document in a search index: Backstage's `IndexableDocument`.
///
/// `title`, `text` and `location` are common to every type; type-specific fields (`kind`,
/// `owner`, `lifecycle`, ...) live in [`fields`](Self::fields) and are written flat beside them.
///
/// ```
/// use backlot::plugins::search::common::SearchDocument;
///
/// let doc = SearchDocument::new("petstore", "The pet store API", "/catalog/default/api/petstore")
///     .with_field("kind", "API")
///     .with_field("lifecycle", "production");
/// let json = serde_json::to_value(&doc)?;
/// assert_eq!(json["title"], "petstore");
/// assert_eq!(json["kind"], "API");
/// assert_eq!(doc.field_str("lifecycle"), Some("production"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchDocument {
    /// The title shown for the result.
    pub title: String,
    /// The searchable body.
    pub text: String,
    /// Where the result links to (a path in the app).
    pub location: String,
    /// The permission resource the document stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<DocumentAuthorization>,
    /// Every other field, written flat into the document.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// The `authorization` part of a document: the resource a reader must be allowed to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentAuthorization {
    /// The resource ref, e.g. an entity ref `component:default/petstore`.
    pub resource_ref: String,
}

impl SearchDocument {
    /// A document with its three common fields.
    pub fn new(
        title: impl Into<String>,
        text: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            text: text.into(),
            location: location.into(),
            authorization: None,
            fields: Map::new(),
        }
    }

    /// Adds or replaces a type-specific field.
    #[must_use]
    pub fn with_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// Sets the authorization resource ref.
    #[must_use]
    pub fn with_resource_ref(mut self, resource_ref: impl Into<String>) -> Self {
        self.authorization = Some(DocumentAuthorization {
            resource_ref: resource_ref.into(),
        });
        self
    }

    /// A field's value as a string (also `title`, `text` and `location`).
    pub fn field_str(&self, key: &str) -> Option<&str> {
        match key {
            "title" => Some(&self.title),
            "text" => Some(&self.text),
            "location" => Some(&self.location),
            _ => self.fields.get(key).and_then(Value::as_str),
        }
    }

    /// The values a filter on `key` compares against: strings as they are, numbers and
    /// booleans in their JSON form, each element of an array; nothing for objects or null.
    pub fn filter_values(&self, key: &str) -> Vec<String> {
        let value = match key {
            "title" | "text" | "location" => {
                return self
                    .field_str(key)
                    .map(str::to_string)
                    .into_iter()
                    .collect();
            }
            _ => match self.fields.get(key) {
                Some(v) => v,
                None => return Vec::new(),
            },
        };
        let mut out = Vec::new();
        let mut push = |v: &Value| match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(_) | Value::Bool(_) => out.push(v.to_string()),
            _ => {}
        };
        match value {
            Value::Array(items) => items.iter().for_each(&mut push),
            other => push(other),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_fields_round_trip() {
        let json = serde_json::json!({
            "title": "a", "text": "b", "location": "/c", "kind": "Component",
            "tags": ["x", "y"], "authorization": { "resourceRef": "component:default/a" }
        });
        let doc: SearchDocument = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(doc.fields["kind"], "Component");
        assert_eq!(doc.filter_values("tags"), vec!["x", "y"]);
        assert_eq!(
            doc.authorization.as_ref().unwrap().resource_ref,
            "component:default/a"
        );
        assert_eq!(serde_json::to_value(&doc).unwrap(), json);
    }
}
