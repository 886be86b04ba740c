//! Values bound to portable queries.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A value bound to a `?` placeholder of a [`Sql`](super::Sql) query.
///
/// Every variant carries an `Option` so that a `NULL` keeps its SQL type (PostgreSQL needs
/// it). Values convert from ordinary Rust types through [`IntoDbValue`]; `Option<T>` binds
/// `NULL` when `None`.
///
/// ```
/// use backlot::services::database::{DbValue, IntoDbValue};
///
/// assert_eq!(7_i32.into_db_value(), DbValue::Int(Some(7)));
/// assert_eq!(None::<&str>.into_db_value(), DbValue::Text(None));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DbValue {
    /// A boolean (`${bool}`).
    Bool(Option<bool>),
    /// A 64-bit integer (`${bigint}`, `${id}`).
    Int(Option<i64>),
    /// A double (`${float}`).
    Float(Option<f64>),
    /// Text (`${text}`).
    Text(Option<String>),
    /// Bytes (`${bytes}`).
    Bytes(Option<Vec<u8>>),
    /// A JSON document (`${json}`): text on SQLite, `JSONB` on PostgreSQL.
    Json(Option<serde_json::Value>),
    /// A UTC instant (`${timestamp}`): on SQLite fixed-width RFC 3339 text with microseconds
    /// (`2024-05-01T12:00:00.000000Z`), so it sorts and compares as text; `TIMESTAMPTZ` on
    /// PostgreSQL.
    Timestamp(Option<DateTime<Utc>>),
    /// A UUID (`${uuid}`).
    Uuid(Option<Uuid>),
}

impl DbValue {
    /// Whether this is a `NULL`.
    pub fn is_null(&self) -> bool {
        match self {
            Self::Bool(v) => v.is_none(),
            Self::Int(v) => v.is_none(),
            Self::Float(v) => v.is_none(),
            Self::Text(v) => v.is_none(),
            Self::Bytes(v) => v.is_none(),
            Self::Json(v) => v.is_none(),
            Self::Timestamp(v) => v.is_none(),
            Self::Uuid(v) => v.is_none(),
        }
    }
}

/// The text form a timestamp takes on SQLite; the same as `${now}` produces.
pub(crate) fn sqlite_timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Converts a Rust value into a [`DbValue`] to bind.
///
/// Implemented for `bool`, the signed integers and `u8`/`u16`/`u32`, `f32`/`f64`, strings,
/// byte vectors, `serde_json::Value`, `chrono::DateTime<Utc>`, `uuid::Uuid`, `DbValue` itself,
/// references to these, and `Option` of any of them.
///
/// ```
/// use backlot::services::database::{DbValue, IntoDbValue};
///
/// assert_eq!(Some("x").into_db_value(), DbValue::Text(Some("x".to_owned())));
/// assert_eq!(<Option<i64>>::db_null(), DbValue::Int(None));
/// ```
pub trait IntoDbValue {
    /// The value to bind.
    fn into_db_value(self) -> DbValue;
    /// A `NULL` of this type's SQL type (what `None::<Self>` binds).
    fn db_null() -> DbValue
    where
        Self: Sized;
}

macro_rules! into_value {
    ($variant:ident: $($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl IntoDbValue for $t {
            fn into_db_value(self) -> DbValue {
                let $v = self;
                DbValue::$variant(Some($e))
            }
            fn db_null() -> DbValue {
                DbValue::$variant(None)
            }
        }
    )*};
}

into_value!(Bool: bool => |v| v, &bool => |v| *v);
into_value!(Int:
    i8 => |v| i64::from(v), i16 => |v| i64::from(v), i32 => |v| i64::from(v), i64 => |v| v,
    u8 => |v| i64::from(v), u16 => |v| i64::from(v), u32 => |v| i64::from(v),
    &i32 => |v| i64::from(*v), &i64 => |v| *v, &u32 => |v| i64::from(*v),
);
into_value!(Float: f32 => |v| f64::from(v), f64 => |v| v, &f64 => |v| *v);
into_value!(Text:
    String => |v| v, &str => |v| v.to_owned(), &String => |v| v.clone(),
    Cow<'_, str> => |v| v.into_owned(),
);
into_value!(Bytes: Vec<u8> => |v| v, &[u8] => |v| v.to_vec(), &Vec<u8> => |v| v.clone());
into_value!(Json: serde_json::Value => |v| v, &serde_json::Value => |v| v.clone());
into_value!(Timestamp: DateTime<Utc> => |v| v, &DateTime<Utc> => |v| *v);
into_value!(Uuid: Uuid => |v| v, &Uuid => |v| *v);

impl<T: IntoDbValue> IntoDbValue for Option<T> {
    fn into_db_value(self) -> DbValue {
        match self {
            Some(v) => v.into_db_value(),
            None => T::db_null(),
        }
    }
    fn db_null() -> DbValue {
        T::db_null()
    }
}

impl IntoDbValue for DbValue {
    fn into_db_value(self) -> DbValue {
        self
    }
    fn db_null() -> DbValue {
        DbValue::Text(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_timestamps_are_fixed_width_and_sort_as_text() {
        let a = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let b = a + chrono::Duration::microseconds(1500);
        assert_eq!(sqlite_timestamp(&a), "2024-05-01T12:00:00.000000Z");
        assert_eq!(sqlite_timestamp(&b), "2024-05-01T12:00:00.001500Z");
        assert!(sqlite_timestamp(&a) < sqlite_timestamp(&b));
    }

    #[test]
    fn nulls_keep_their_type() {
        assert_eq!(
            None::<DateTime<Utc>>.into_db_value(),
            DbValue::Timestamp(None)
        );
        assert_eq!(Some(Some(3_i64)).into_db_value(), DbValue::Int(Some(3)));
        assert!(DbValue::Json(None).is_null());
    }
}
