//! One Kubernetes object as the cluster sent it: its JSON text, kept as is.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A Kubernetes object (a pod, a deployment, a custom resource, …) as the cluster's JSON text,
/// unchanged.
///
/// The backend only passes objects through, so it keeps them as text instead of decoding each
/// one into a [`Value`] tree and encoding it again: decoding checks the JSON and copies it,
/// encoding writes the text back verbatim. Read what you need with [`parse`](Self::parse)
/// (a small typed struct skips the rest of the object) or [`to_value`](Self::to_value).
///
/// ```
/// use backlot::plugins::kubernetes::common::KubernetesObject;
/// use serde::Deserialize;
///
/// let pod: KubernetesObject =
///     serde_json::from_str(r#"{"metadata": {"name": "web-1", "namespace": "shop"}}"#)?;
/// assert_eq!(pod.json(), r#"{"metadata": {"name": "web-1", "namespace": "shop"}}"#);
///
/// #[derive(Deserialize)]
/// struct Meta { name: String }
/// #[derive(Deserialize)]
/// struct Object { metadata: Meta }
/// assert_eq!(pod.parse::<Object>()?.metadata.name, "web-1");
/// assert_eq!(pod.to_value()?["metadata"]["namespace"], "shop");
///
/// let built = KubernetesObject::from_value(&serde_json::json!({"kind": "Pod"}))?;
/// assert_eq!(serde_json::to_string(&built)?, r#"{"kind":"Pod"}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KubernetesObject(Box<RawValue>);

impl KubernetesObject {
    /// The object's JSON text, as the cluster sent it.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// Decodes the object (or the part of it `T` names) into `T`.
    ///
    /// # Errors
    ///
    /// When the object does not have `T`'s shape.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// The whole object as a [`Value`] tree.
    ///
    /// # Errors
    ///
    /// Never for an object decoded from JSON; the error type is that of [`parse`](Self::parse).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        self.parse()
    }

    /// An object from a [`Value`] (encoded once).
    ///
    /// # Errors
    ///
    /// When `value` cannot be encoded (it always can).
    pub fn from_value(value: &Value) -> Result<Self, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(Self)
    }

    /// An object from its JSON text.
    ///
    /// # Errors
    ///
    /// When `json` is not one JSON value.
    pub fn from_json(json: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(json).map(Self)
    }
}

impl Default for KubernetesObject {
    /// The JSON `null`.
    fn default() -> Self {
        Self(RawValue::NULL.to_owned())
    }
}

impl PartialEq for KubernetesObject {
    /// Equal when the JSON texts are equal (not when they mean the same).
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Serialize for KubernetesObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for KubernetesObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self)
    }
}

/// A cluster's objects decoded into [`Value`] trees once, for code that reads many fields of
/// many objects (problem detection, the tab's tables).
#[derive(Debug, Default)]
pub(crate) struct DecodedObjects {
    /// `(type, objects)` in the response's order; an object that is not JSON is left out.
    by_kind: Vec<(String, Vec<Value>)>,
    /// The pod of each `podMetrics` entry, in order (`null` if it is not JSON).
    pub(crate) metric_pods: Vec<Value>,
}

impl DecodedObjects {
    /// The objects of `cluster` (only the types in `kinds` when given) and its metrics' pods.
    pub(crate) fn new(cluster: &super::ClusterObjects, kinds: Option<&[&str]>) -> Self {
        let by_kind = cluster
            .resources
            .iter()
            .filter(|r| kinds.is_none_or(|k| k.contains(&r.kind.as_str())))
            .map(|r| {
                let values = r.resources.iter().filter_map(|o| o.to_value().ok());
                (r.kind.clone(), values.collect())
            })
            .collect();
        let metric_pods = match kinds {
            Some(_) => Vec::new(),
            None => cluster
                .pod_metrics
                .iter()
                .map(|m| m.pod.to_value().unwrap_or(Value::Null))
                .collect(),
        };
        Self {
            by_kind,
            metric_pods,
        }
    }

    /// The objects of one type.
    pub(crate) fn of<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Value> {
        self.by_kind
            .iter()
            .filter(move |(k, _)| k == kind)
            .flat_map(|(_, objects)| objects.iter())
    }

    /// The types that have objects, each once, in order.
    pub(crate) fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = Vec::new();
        for (kind, objects) in &self.by_kind {
            if !objects.is_empty() && !kinds.contains(&kind.as_str()) {
                kinds.push(kind);
            }
        }
        kinds
    }
}
