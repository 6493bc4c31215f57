//! JSON sizes without building the text.
//!
//! Results and part jobs are sized against message bounds item by item; building each item's
//! text only to measure it allocates for nothing.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_text_match_serde_json() {
        let value = serde_json::json!({"a": [1, 2.5, null, "q\"uote ünï"], "b": {"c": true}});
        let text = serde_json::to_string(&value).expect("json");
        assert_eq!(json_len(&value), text.len());
    }
}
