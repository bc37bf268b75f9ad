//! Byte encodings that cross the boundary: events and scan results.
//!
//! All integers are little-endian `u32`. Decoders never panic: malformed input is an `Err`.

use alloc::string::String;
use alloc::vec::Vec;

/// Why a buffer could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The buffer ended inside a field.
    Truncated,
    /// Bytes were left after the last field.
    TrailingBytes,
    /// A string field is not UTF-8.
    NotUtf8,
    /// More items than the caller allows.
    TooMany,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated encoding",
            Self::TrailingBytes => "trailing bytes after encoding",
            Self::NotUtf8 => "string is not utf-8",
            Self::TooMany => "more attributes than allowed",
        })
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<4>()
            .ok_or(DecodeError::Truncated)?;
        self.0 = rest;
        Ok(u32::from_le_bytes(*head))
    }
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.u32()? as usize;
        if self.0.len() < len {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        core::str::from_utf8(self.bytes()?)
            .map(String::from)
            .map_err(|_| DecodeError::NotUtf8)
    }
}

/// Encodes an event: `type`, then the attribute count, then each `key`, `value` (each string
/// as a `u32` length and its bytes).
pub fn encode_event(ty: &str, attributes: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        8 + ty.len()
            + attributes
                .iter()
                .map(|(k, v)| 8 + k.len() + v.len())
                .sum::<usize>(),
    );
    put(&mut out, ty.as_bytes());
    out.extend_from_slice(&(attributes.len() as u32).to_le_bytes());
    for (k, v) in attributes {
        put(&mut out, k.as_bytes());
        put(&mut out, v.as_bytes());
    }
    out
}

/// An event's type and its attributes in emission order.
pub type DecodedEvent = (String, Vec<(String, String)>);

/// Decodes [`encode_event`]'s format. `attributes_max` bounds the count before allocating.
pub fn decode_event(buf: &[u8], attributes_max: usize) -> Result<DecodedEvent, DecodeError> {
    let mut r = Reader(buf);
    let ty = r.string()?;
    let n = r.u32()? as usize;
    // Each attribute needs at least 8 bytes, so a lying count cannot make us allocate much.
    if n > attributes_max {
        return Err(DecodeError::TooMany);
    }
    if n > r.0.len() / 8 {
        return Err(DecodeError::Truncated);
    }
    let mut attributes = Vec::with_capacity(n);
    for _ in 0..n {
        let k = r.string()?;
        let v = r.string()?;
        attributes.push((k, v));
    }
    if !r.0.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    Ok((ty, attributes))
}

/// Encodes scan results: for each entry, the key then the value (each a `u32` length and bytes).
pub fn encode_scan<'a>(entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in entries {
        put(&mut out, k);
        put(&mut out, v);
    }
    out
}

/// Length [`encode_scan`] would produce for these entries.
pub fn encoded_scan_len<'a>(entries: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> usize {
    entries
        .into_iter()
        .map(|(k, v)| 8 + k.len() + v.len())
        .sum()
}

/// Key-value pairs in key order, as a scan returns them.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Decodes [`encode_scan`]'s format.
pub fn decode_scan(buf: &[u8]) -> Result<Entries, DecodeError> {
    let mut r = Reader(buf);
    let mut out = Vec::new();
    while !r.0.is_empty() {
        let k = r.bytes()?.to_vec();
        let v = r.bytes()?.to_vec();
        out.push((k, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn event_round_trip() {
        let buf = encode_event("access", &[("document_id", "d1"), ("actor", "ab")]);
        let (ty, attrs) = decode_event(&buf, 8).unwrap();
        assert_eq!(ty, "access");
        assert_eq!(
            attrs,
            vec![
                ("document_id".into(), "d1".into()),
                ("actor".into(), "ab".into())
            ]
        );
        for cut in 0..buf.len() {
            assert!(
                decode_event(&buf[..cut], 8).is_err(),
                "prefix {cut} decoded"
            );
        }
        let mut longer = buf.clone();
        longer.push(0);
        assert_eq!(decode_event(&longer, 8), Err(DecodeError::TrailingBytes));
        assert_eq!(decode_event(&buf, 1), Err(DecodeError::TooMany));
    }

    #[test]
    fn lying_attribute_count_is_refused_without_allocating() {
        let mut buf = encode_event("t", &[]);
        let n = buf.len();
        buf[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_event(&buf, usize::MAX), Err(DecodeError::Truncated));
        assert_eq!(decode_event(&buf, 8), Err(DecodeError::TooMany));
    }

    #[test]
    fn non_utf8_is_refused() {
        let mut buf = encode_event("ab", &[]);
        buf[4] = 0xff;
        assert_eq!(decode_event(&buf, 8), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn scan_round_trip() {
        let entries: [(&[u8], &[u8]); 2] = [(b"a", b"1"), (b"bb", b"")];
        let buf = encode_scan(entries);
        assert_eq!(buf.len(), encoded_scan_len(entries));
        assert_eq!(
            decode_scan(&buf).unwrap(),
            vec![(b"a".to_vec(), b"1".to_vec()), (b"bb".to_vec(), vec![])]
        );
        assert!(decode_scan(&buf[..buf.len() - 1]).is_err());
    }
}
