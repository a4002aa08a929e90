//! Integers as ClickHouse sends them in JSON: 64-bit ones are quoted unless the server's
//! `output_format_json_quote_64bit_integers` is off, and a read-only user (`readonly=1`, the
//! usual grant for a dashboard) may not change settings. So every integer field accepts both.

use std::str::FromStr;

use serde::{Deserialize, Deserializer, de::Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText<T> {
    Num(T),
    Text(String),
}

/// An integer sent as a number or as its decimal text.
pub(crate) fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
{
    match NumOrText::<T>::deserialize(d)? {
        NumOrText::Num(n) => Ok(n),
        NumOrText::Text(s) => s
            .parse()
            .map_err(|_| D::Error::custom(format!("{s:?} is not an integer"))),
    }
}

/// An integer or null.
pub(crate) fn opt_int<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Deserialize<'de>,
{
    match Option::<NumOrText<T>>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrText::Num(n)) => Ok(Some(n)),
        Some(NumOrText::Text(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{s:?} is not an integer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Row {
        #[serde(deserialize_with = "int")]
        a: i64,
        #[serde(deserialize_with = "opt_int")]
        b: Option<u64>,
        #[serde(deserialize_with = "opt_int", default)]
        c: Option<i64>,
    }

    #[test]
    fn quoted_and_bare_integers_both_read() {
        let r: Row =
            serde_json::from_str(r#"{"a":"1795492032168000000","b":7,"c":null}"#).expect("row");
        assert_eq!((r.a, r.b, r.c), (1_795_492_032_168_000_000, Some(7), None));
        let r: Row = serde_json::from_str(r#"{"a":-3,"b":"18446744073709551615"}"#).expect("row");
        assert_eq!((r.a, r.b, r.c), (-3, Some(u64::MAX), None));
        assert!(serde_json::from_str::<Row>(r#"{"a":"x","b":1}"#).is_err());
    }
}
