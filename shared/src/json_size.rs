//! JSON sizes without building the text, and text built at its exact size.
//!
//! Results and part jobs are sized against message bounds all the time, and a big check's stored
//! result is megabytes: building its text to measure it, or letting a `String` double its way up
//! to it, holds up to twice its size for nothing.

use serde::Serialize;

/// Counts the bytes written to it.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of `value` as compact JSON (a huge figure if it cannot be serialized, so that it
/// never fits a bound).
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX / 4,
    }
}

/// `value` as compact JSON in a string of exactly its size.
pub fn to_string_exact<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(json_len(value));
    serde_json::to_writer(&mut out, value)?;
    // serde_json writes valid UTF-8 only.
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_text_match_serde_json() {
        let value = serde_json::json!({"a": [1, 2.5, null, "q\"uote ünï"], "b": {"c": true}});
        let text = serde_json::to_string(&value).expect("json");
        assert_eq!(json_len(&value), text.len());
        let exact = to_string_exact(&value).expect("json");
        assert_eq!(exact, text);
        assert_eq!(exact.capacity(), exact.len());
    }
}
