//! The sender's commands written as RESP, the protocol's own encoding,
//! straight into the buffer a pipeline sends: made as `redis::Cmd`s, each
//! envelope would be copied into its command and again into the
//! pipeline's buffer, with an allocation per command (together a fifth of
//! the sending thread's time).

use redis::{RedisResult, Value};

use crate::redis::wire::FIELD;

/// What `XADD <key> [MAXLEN ~ <max_len>] * event <envelope>` starts with,
/// up to the envelope: the same for every event a pipeline sends to one
/// key, so it is made once per pipeline and copied per event.
pub(super) fn xadd_head(key: &str, max_len: Option<usize>) -> Vec<u8> {
    let mut head = Vec::with_capacity(64 + key.len());
    array(&mut head, if max_len.is_some() { 8 } else { 5 });
    bulk(&mut head, b"XADD");
    bulk(&mut head, key.as_bytes());
    if let Some(max_len) = max_len {
        bulk(&mut head, b"MAXLEN");
        bulk(&mut head, b"~");
        bulk(&mut head, itoa::Buffer::new().format(max_len).as_bytes());
    }
    bulk(&mut head, b"*");
    bulk(&mut head, FIELD.as_bytes());
    head
}

/// Appends the `XADD` of `envelope` that starts with `head` ([`xadd_head`]).
pub(super) fn xadd(out: &mut Vec<u8>, head: &[u8], envelope: &[u8]) {
    out.extend_from_slice(head);
    bulk(out, envelope);
}

/// The bytes [`xadd`] appends, at most.
pub(super) fn xadd_len(head: &[u8], envelope: &[u8]) -> usize {
    // `$len\r\n` (a length of up to 20 digits) and `\r\n` after the bytes.
    head.len() + 1 + 20 + 2 + envelope.len() + 2
}

fn array(out: &mut Vec<u8>, len: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// One command's reply, as a pipeline that ignores errors gives it: a
/// server error as `Err`, anything else as it is.
pub(super) fn reply(value: Value) -> RedisResult<Value> {
    match value {
        Value::ServerError(err) => Err(err.into()),
        value => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xadd_is_written_as_the_redis_crate_packs_it() {
        for max_len in [None, Some(0), Some(1_000), Some(usize::MAX)] {
            let envelope = br#"{"v":1,"data":"a\r\nb"}"#;
            let mut cmd = redis::cmd("XADD");
            cmd.arg("stream:key");
            if let Some(max_len) = max_len {
                cmd.arg("MAXLEN").arg("~").arg(max_len);
            }
            cmd.arg("*").arg(FIELD).arg(&envelope[..]);
            let head = xadd_head("stream:key", max_len);
            let mut out = b"before".to_vec();
            xadd(&mut out, &head, envelope);
            assert_eq!(&out[..6], b"before");
            assert_eq!(out[6..], cmd.get_packed_command()[..]);
            assert!(out.len() - 6 <= xadd_len(&head, envelope));
        }
    }
}
