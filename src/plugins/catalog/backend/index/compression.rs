//! How the index stores entity JSON: lz4 with a preset dictionary of what entities are made of.

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

pub(super) fn compress(json: &str) -> Box<[u8]> {
    lz4_flex::block::compress_prepend_size_with_dict(json.as_bytes(), DICTIONARY.as_bytes())
        .into_boxed_slice()
}

#[inline]
pub(super) fn decompress(bytes: &[u8]) -> String {
    lz4_flex::block::decompress_size_prepended_with_dict(bytes, DICTIONARY.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_else(|| "{}".to_owned())
}
