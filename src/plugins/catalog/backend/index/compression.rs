//! How the index stores entity JSON: lz4 with a dictionary of what entities are made of.
//!
//! The dictionary starts as a preset of keys, kinds and annotations, and learns: the first
//! few entities of each kind the index compresses are appended to it, so later entities of
//! that kind are compressed against real ones (their shared keys, annotations, owners and
//! relation types). On a synthetic catalog that takes a component from about 350 to about
//! 240 bytes. Every compressed entity starts with the number of the dictionary version it was
//! compressed with; versions only grow, so an entity stays readable whatever came after it.

/// A preset dictionary of what entity JSON is made of (keys, kinds, annotations, relation
/// types), so that even a small entity compresses well on its own. Most frequent last.
const DICTIONARY: &str = concat!(
    r#"{"apiVersion":"backstage.io/v1beta3","kind":"Template","spec":{"parameters":[{"properties":{},"required":[],"title":""}],"steps":[{"action":"fetch:template","id":"","input":{},"name":""}],"output":{"links":[]}}"#,
    r#"{"kind":"Location","spec":{"targets":["./"],"type":"url","target":"https://"}}"#,
    r#"{"status":{"items":[{"error":{"message":"","name":"InputError"},"level":"error","message":"InputError: ","type":"backstage.io/catalog-processing"}]}"#,
    r#"{"kind":"Group","spec":{"children":[],"members":[],"parent":"","profile":{"displayName":"","email":"","picture":"https://"},"type":"team"}}"#,
    r#"{"kind":"User","spec":{"memberOf":[],"profile":{"displayName":"","email":"@example.com","picture":"https://"}}}"#,
    r#"{"kind":"Domain","spec":{"owner":"","subdomainOf":""}}{"kind":"System","spec":{"domain":"","owner":""}}"#,
    r#"{"kind":"Resource","spec":{"dependencyOf":[],"dependsOn":[],"owner":"","system":"","type":"database"}}"#,
    r#"{"kind":"API","spec":{"definition":"openapi: 3.0.0
info:
  title: ","lifecycle":"production","owner":"","system":"","type":"openapi"}}"#,
    r#""links":[{"icon":"","title":"","url":"https://"}],"description":"","labels":{},"title":"","#,
    r#""annotations":{"backstage.io/source-location":"url:https://github.com/","backstage.io/techdocs-ref":"dir:.","github.com/project-slug":"","backstage.io/view-url":"https://","backstage.io/edit-url":"https://"},"#,
    r#"{"targetRef":"domain:default/","type":"hasPart"},{"targetRef":"user:default/","type":"hasMember"},{"targetRef":"group:default/","type":"memberOf"},{"targetRef":"group:default/","type":"childOf"},{"targetRef":"group:default/","type":"parentOf"},"#,
    r#"{"targetRef":"api:default/","type":"apiProvidedBy"},{"targetRef":"api:default/","type":"apiConsumedBy"},{"targetRef":"api:default/","type":"providesApi"},{"targetRef":"api:default/","type":"consumesApi"},"#,
    r#"{"targetRef":"resource:default/","type":"dependsOn"},{"targetRef":"component:default/","type":"dependencyOf"},{"targetRef":"system:default/","type":"partOf"},{"targetRef":"component:default/","type":"ownerOf"},"#,
    r#""spec":{"dependsOn":[],"consumesApis":[],"providesApis":[],"lifecycle":"experimental","owner":"","system":"","type":"website"}}"#,
    r#"{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"annotations":{"backstage.io/managed-by-location":"file:/","backstage.io/managed-by-origin-location":"file:/"},"etag":"","name":"","namespace":"default","tags":[],"uid":""},"#,
    r#""relations":[{"targetRef":"group:default/","type":"ownedBy"}],"spec":{"lifecycle":"production","owner":"","type":"service"}}"#,
);

/// lz4 reaches back at most this far: only the last 64 KiB of a dictionary count.
const WINDOW: usize = 65_535;
/// Entities of one kind sampled into the dictionary.
const SAMPLES_PER_KIND: u8 = 4;
/// The most a sampled entity adds (a larger one is not sampled).
const MAX_SAMPLE: usize = 8 * 1024;
/// The most text the dictionary grows to (its versions are windows over it).
const MAX_TEXT: usize = 256 * 1024;
/// Versions are numbered by one byte.
const MAX_VERSIONS: usize = 255;

/// The dictionary's text and where each version ends in it; a version is the last
/// [`WINDOW`] bytes before its end.
struct Dictionary {
    text: Vec<u8>,
    ends: Vec<usize>,
    /// Entities sampled per kind (lowercase).
    sampled: std::collections::HashMap<String, u8>,
}

impl Dictionary {
    fn version(&self, v: usize) -> Option<&[u8]> {
        let end = *self.ends.get(v)?;
        self.text.get(end.saturating_sub(WINDOW)..end)
    }

    fn wants(&self, kind: &str, len: usize) -> bool {
        len <= MAX_SAMPLE
            && self.ends.len() < MAX_VERSIONS
            && self.text.len() + len <= MAX_TEXT
            && self.sampled.get(kind).copied().unwrap_or(0) < SAMPLES_PER_KIND
    }
}

/// Compresses and decompresses the index's entity JSON with the learning dictionary.
/// Cheap to share; compressing takes the dictionary's lock only to read it, and briefly to
/// add a sample.
pub(crate) struct Codec {
    dictionary: parking_lot::RwLock<Dictionary>,
}

impl Default for Codec {
    fn default() -> Self {
        Self {
            dictionary: parking_lot::RwLock::new(Dictionary {
                text: DICTIONARY.as_bytes().to_vec(),
                ends: vec![DICTIONARY.len()],
                sampled: std::collections::HashMap::new(),
            }),
        }
    }
}

impl Codec {
    /// `json` compressed with the newest dictionary, for an entity of `kind`; the first few
    /// entities of each kind become part of the dictionary.
    pub(crate) fn compress(&self, kind: &str, json: &str) -> Box<[u8]> {
        let (out, wanted) = {
            let d = self.dictionary.read();
            let version = d.ends.len() - 1;
            let dict = d.version(version).unwrap_or_default();
            let packed = lz4_flex::block::compress_prepend_size_with_dict(json.as_bytes(), dict);
            let mut out = Vec::with_capacity(packed.len() + 1);
            out.push(version as u8);
            out.extend_from_slice(&packed);
            (out.into_boxed_slice(), d.wants(kind, json.len()))
        };
        if wanted {
            let mut d = self.dictionary.write();
            if d.wants(kind, json.len()) {
                d.text.extend_from_slice(json.as_bytes());
                let end = d.text.len();
                d.ends.push(end);
                *d.sampled.entry(kind.to_owned()).or_default() += 1;
            }
        }
        out
    }

    /// The JSON text of `bytes` from [`Codec::compress`] (`{}` when they are not).
    pub(crate) fn decompress(&self, bytes: &[u8]) -> String {
        let Some((&version, packed)) = bytes.split_first() else {
            return "{}".to_owned();
        };
        let d = self.dictionary.read();
        d.version(usize::from(version))
            .and_then(|dict| {
                lz4_flex::block::decompress_size_prepended_with_dict(packed, dict).ok()
            })
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| "{}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(i: usize) -> String {
        serde_json::json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {
                "annotations": { "backstage.io/managed-by-location": "file:/srv/catalog/all.yaml" },
                "name": format!("component-{i}"),
                "namespace": "default",
                "uid": format!("{i:08x}-7c1a-7000-8000-00000000{i:04x}"),
            },
            "relations": [
                { "targetRef": format!("group:default/team-{}", i % 7), "type": "ownedBy" },
                { "targetRef": format!("system:default/system-{}", i % 3), "type": "partOf" },
            ],
            "spec": { "lifecycle": "production", "owner": format!("team-{}", i % 7), "type": "service" },
        })
        .to_string()
    }

    #[test]
    fn the_dictionary_learns_each_kind_and_every_version_stays_readable() {
        let codec = Codec::default();
        let first: Vec<(String, Box<[u8]>)> = (0..10)
            .map(|i| {
                let json = component(i);
                let packed = codec.compress("component", &json);
                (json, packed)
            })
            .collect();
        // Four samples of the kind, then no more.
        assert_eq!(codec.dictionary.read().ends.len(), 1 + 4);
        let later = component(99);
        let packed = codec.compress("component", &later);
        assert_eq!(usize::from(packed[0]), 4);
        // Compressed before any sample, and after: the learnt dictionary is smaller.
        assert_eq!(first[0].1[0], 0);
        let unlearnt = first[0].1.len() as f64 / first[0].0.len() as f64;
        let learnt = packed.len() as f64 / later.len() as f64;
        assert!(learnt < unlearnt * 0.8, "{learnt} against {unlearnt}");
        for (json, packed) in &first {
            assert_eq!(&codec.decompress(packed), json);
        }
        assert_eq!(codec.decompress(&packed), later);
        // Another kind gets samples of its own.
        codec.compress("api", r#"{"kind":"API"}"#);
        assert_eq!(codec.dictionary.read().ends.len(), 1 + 5);
        // Garbage and unknown versions read as an empty object, never a panic.
        assert_eq!(codec.decompress(&[]), "{}");
        assert_eq!(codec.decompress(&[200, 1, 2, 3]), "{}");
        assert_eq!(codec.decompress(&packed[..packed.len() / 2]), "{}");
    }

    #[test]
    fn the_dictionary_stops_growing_at_its_bounds() {
        let codec = Codec::default();
        let big = "x".repeat(MAX_SAMPLE + 1);
        codec.compress("component", &big);
        assert_eq!(codec.dictionary.read().ends.len(), 1);
        let json = "y".repeat(MAX_SAMPLE);
        for k in 0..1000 {
            codec.compress(&format!("kind-{k}"), &json);
        }
        let d = codec.dictionary.read();
        assert!(d.text.len() <= MAX_TEXT);
        assert!(d.ends.len() <= MAX_VERSIONS);
        drop(d);
        let packed = codec.compress("other", "{}");
        assert_eq!(codec.decompress(&packed), "{}");
    }
}
