//! The format rules of entity fields, as plain predicates (Backstage's
//! `KubernetesValidatorFunctions` / `CommonValidatorFunctions`).
//!
//! Hand-written byte checks rather than regexes: they run for every field of every entity on
//! the ingestion path and need no compiled state.

/// Expectation text of [`is_valid_entity_name`] and [`is_valid_label_value`].
pub(crate) const EXPECT_NAME: &str = "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total";
/// Expectation text of [`is_valid_namespace`] / [`is_valid_dns_label`].
pub(crate) const EXPECT_NAMESPACE: &str =
    "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total";
/// Expectation text of [`is_valid_tag`].
pub(crate) const EXPECT_TAG: &str =
    "a string that is sequences of [a-z0-9:+#] separated by [-], at most 63 characters in total";
/// Expectation text of [`is_valid_kind`].
pub(crate) const EXPECT_KIND: &str =
    "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total";
/// Expectation text of [`is_valid_api_version`].
pub(crate) const EXPECT_API_VERSION: &str =
    "an optional DNS subdomain prefix and a slash, followed by 1 to 63 characters of [a-zA-Z0-9]";
/// Expectation text of [`is_valid_label_key`] / [`is_valid_annotation_key`].
pub(crate) const EXPECT_KEY: &str = "an optional DNS subdomain prefix and a slash, followed by a name that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters";
/// Expectation text of [`is_valid_url`].
pub(crate) const EXPECT_URL: &str = "a string that is a valid url";
/// Expectation text of [`is_valid_string`].
pub(crate) const EXPECT_NON_EMPTY: &str = "a non empty string";

/// Splits `value` on `/` into an optional prefix and a suffix; more than one `/` fails.
fn prefix_and_suffix(
    value: &str,
    prefix_ok: impl Fn(&str) -> bool,
    suffix_ok: impl Fn(&str) -> bool,
) -> bool {
    let mut parts = value.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(suffix), None, _) => suffix_ok(suffix),
        (Some(prefix), Some(suffix), None) => prefix_ok(prefix) && suffix_ok(suffix),
        _ => false,
    }
}

/// A DNS label (RFC 1123): 1–63 characters, sequences of `[a-z0-9]` separated by single `-`.
///
/// ```
/// use backlot::plugins::catalog::common::is_valid_dns_label;
/// assert!(is_valid_dns_label("team-a"));
/// assert!(!is_valid_dns_label("Team-A"));
/// assert!(!is_valid_dns_label("a--b"));
/// ```
pub fn is_valid_dns_label(value: &str) -> bool {
    is_dash_separated(value, |b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A DNS subdomain: at most 253 characters of [DNS labels](is_valid_dns_label) joined by `.`.
pub fn is_valid_dns_subdomain(value: &str) -> bool {
    !value.is_empty() && value.len() <= 253 && value.split('.').all(is_valid_dns_label)
}

/// Sequences of `allowed` bytes separated by single `-`, 1–63 characters in total.
fn is_dash_separated(value: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 63 {
        return false;
    }
    let mut prev_dash = true; // a leading dash is as bad as a double one
    for &b in bytes {
        if b == b'-' {
            if prev_dash {
                return false;
            }
            prev_dash = true;
        } else if allowed(b) {
            prev_dash = false;
        } else {
            return false;
        }
    }
    !prev_dash
}

/// An `apiVersion`: an optional [DNS subdomain](is_valid_dns_subdomain) and `/`, then 1–63
/// characters of `[a-zA-Z0-9]` (`backstage.io/v1alpha1`, `v1`).
pub fn is_valid_api_version(value: &str) -> bool {
    prefix_and_suffix(value, is_valid_dns_subdomain, |s| {
        !s.is_empty() && s.len() <= 63 && s.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// A `kind`: 1–63 characters, a letter followed by letters and digits.
pub fn is_valid_kind(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphabetic()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric())
}

/// An entity (object) name: 1–63 characters, `[a-zA-Z0-9]` at both ends, `[-_.]` allowed
/// inside.
///
/// ```
/// use backlot::plugins::catalog::common::is_valid_entity_name;
/// assert!(is_valid_entity_name("artist-lookup"));
/// assert!(is_valid_entity_name("Lorem_Service.v2"));
/// assert!(!is_valid_entity_name("Foo Bar!"));
/// assert!(!is_valid_entity_name("-leading"));
/// ```
pub fn is_valid_entity_name(value: &str) -> bool {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A `metadata.namespace`: a [DNS label](is_valid_dns_label) (lowercase only).
pub fn is_valid_namespace(value: &str) -> bool {
    is_valid_dns_label(value)
}

/// A label key: an optional [DNS subdomain](is_valid_dns_subdomain) prefix and `/`, then an
/// [entity name](is_valid_entity_name).
///
/// ```
/// use backlot::plugins::catalog::common::is_valid_label_key;
/// assert!(is_valid_label_key("example.com/custom"));
/// assert!(is_valid_label_key("product_name"));
/// assert!(!is_valid_label_key("a/b/c"));
/// assert!(!is_valid_label_key("Example.com/x"));
/// ```
pub fn is_valid_label_key(value: &str) -> bool {
    prefix_and_suffix(value, is_valid_dns_subdomain, is_valid_entity_name)
}

/// A label value: empty, or an [entity name](is_valid_entity_name).
pub fn is_valid_label_value(value: &str) -> bool {
    value.is_empty() || is_valid_entity_name(value)
}

/// An annotation key: same rule as [label keys](is_valid_label_key).
pub fn is_valid_annotation_key(value: &str) -> bool {
    is_valid_label_key(value)
}

/// A tag: 1–63 characters, sequences of `[a-z0-9:+#]` separated by single `-` (`c++`,
/// `c#`, `java`).
///
/// ```
/// use backlot::plugins::catalog::common::is_valid_tag;
/// assert!(is_valid_tag("c++"));
/// assert!(is_valid_tag("lang:go"));
/// assert!(!is_valid_tag("Java"));
/// assert!(!is_valid_tag("tier_gold"));
/// ```
pub fn is_valid_tag(value: &str) -> bool {
    is_dash_separated(value, |b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b':' | b'+' | b'#')
    })
}

/// An absolute URL, as the WHATWG `URL` constructor accepts it.
pub fn is_valid_url(value: &str) -> bool {
    url::Url::parse(value).is_ok()
}

/// A string with at least one non-whitespace character.
pub fn is_valid_string(value: &str) -> bool {
    !value.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_label() {
        for ok in ["a", "abc", "a-b", "a1-2b", "0", &"a".repeat(63)] {
            assert!(is_valid_dns_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!is_valid_dns_label(bad), "{bad}");
        }
    }

    #[test]
    fn dns_subdomain() {
        assert!(is_valid_dns_subdomain("backstage.io"));
        assert!(is_valid_dns_subdomain("a.b.c"));
        assert!(!is_valid_dns_subdomain("a..b"));
        assert!(!is_valid_dns_subdomain(".a"));
        assert!(!is_valid_dns_subdomain("Backstage.io"));
        let long = vec!["a".repeat(63); 4].join("."); // 255 chars
        assert!(!is_valid_dns_subdomain(&long));
        let ok = [
            "a".repeat(63),
            "a".repeat(63),
            "a".repeat(63),
            "a".repeat(61),
        ]
        .join(".");
        assert_eq!(ok.len(), 253);
        assert!(is_valid_dns_subdomain(&ok));
    }

    #[test]
    fn api_version() {
        for ok in [
            "backstage.io/v1alpha1",
            "scaffolder.backstage.io/v1beta3",
            "v1",
            "my-company.net/V1",
        ] {
            assert!(is_valid_api_version(ok), "{ok}");
        }
        for bad in [
            "",
            "backstage.io/",
            "/v1",
            "a/b/c",
            "Backstage.io/v1",
            "v1.0",
            "x/v-1",
        ] {
            assert!(!is_valid_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn kind() {
        for ok in ["Component", "API", "a", "K8sThing"] {
            assert!(is_valid_kind(ok), "{ok}");
        }
        for bad in [
            "",
            "1Component",
            "Com-ponent",
            "Com ponent",
            &"K".repeat(64),
        ] {
            assert!(!is_valid_kind(bad), "{bad}");
        }
    }

    #[test]
    fn entity_name() {
        for ok in [
            "a",
            "A",
            "9",
            "a-b",
            "a_b.c",
            "LoremService",
            &"x".repeat(63),
        ] {
            assert!(is_valid_entity_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "_a",
            "a.",
            "a b",
            "Foo Bar!",
            "ä",
            &"x".repeat(64),
        ] {
            assert!(!is_valid_entity_name(bad), "{bad}");
        }
    }

    #[test]
    fn namespace() {
        assert!(is_valid_namespace("default"));
        assert!(is_valid_namespace("team-a"));
        assert!(!is_valid_namespace("Default"));
        assert!(!is_valid_namespace("team_a"));
    }

    #[test]
    fn label_keys_and_values() {
        assert!(is_valid_label_key("backstage.io/custom"));
        assert!(is_valid_label_key("Product_Name"));
        assert!(!is_valid_label_key("backstage.io/"));
        assert!(!is_valid_label_key("/name"));
        assert!(!is_valid_label_key("a/b/c"));
        assert!(!is_valid_label_key("under_score.io/x"));
        assert!(is_valid_label_value(""));
        assert!(is_valid_label_value("custom_label_value"));
        assert!(!is_valid_label_value("Random value Generator"));
        assert!(is_valid_annotation_key("github.com/project-slug"));
        assert!(!is_valid_annotation_key("github.com/project slug"));
    }

    #[test]
    fn tags() {
        for ok in ["java", "c++", "c#", "a:b", "a-b-c", "1", &"t".repeat(63)] {
            assert!(is_valid_tag(ok), "{ok}");
        }
        for bad in [
            "",
            "Java",
            "a_b",
            "a.b",
            "a--b",
            "-a",
            "a-",
            "a b",
            &"t".repeat(64),
        ] {
            assert!(!is_valid_tag(bad), "{bad}");
        }
    }

    #[test]
    fn urls_and_strings() {
        assert!(is_valid_url("https://example.com/x"));
        assert!(is_valid_url("mailto:a@b.c"));
        assert!(!is_valid_url("example.com"));
        assert!(!is_valid_url(""));
        assert!(is_valid_string(" a "));
        assert!(!is_valid_string("   "));
    }
}
