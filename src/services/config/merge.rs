//! Layering of config sources: objects deep-merged, everything else replaced.

use serde_json::Value;

/// Merges `overlay` into `base`. Objects merge key by key, recursively; any other value in
/// `overlay` (array, string, number, bool, `null`) replaces what `base` has at that place.
pub(crate) fn merge_into(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge_into(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_merge_deeply_and_later_wins() {
        let mut base = json!({
            "app": {"title": "Base", "baseUrl": "http://localhost:3000"},
            "backend": {"listen": {"port": 7007, "host": "0.0.0.0"}, "cors": {"origin": "a"}},
        });
        merge_into(
            &mut base,
            json!({"app": {"title": "Local"}, "backend": {"listen": {"port": 8080}}, "extra": 1}),
        );
        assert_eq!(
            base,
            json!({
                "app": {"title": "Local", "baseUrl": "http://localhost:3000"},
                "backend": {"listen": {"port": 8080, "host": "0.0.0.0"}, "cors": {"origin": "a"}},
                "extra": 1,
            })
        );
    }

    #[test]
    fn arrays_and_scalars_are_replaced() {
        let mut base = json!({"list": [1, 2, 3], "obj": {"a": 1}, "s": "x"});
        merge_into(
            &mut base,
            json!({"list": [9], "obj": "now a string", "s": {"k": true}}),
        );
        assert_eq!(
            base,
            json!({"list": [9], "obj": "now a string", "s": {"k": true}})
        );
    }

    #[test]
    fn null_replaces_a_lower_value() {
        let mut base = json!({"a": {"b": 1}});
        merge_into(&mut base, json!({"a": null}));
        assert_eq!(base, json!({"a": null}));
    }
}
