//! The token every form that changes something carries, so that a form
//! on another site (which cannot read our pages) cannot replay or purge.
//!
//! Each browser gets a session cookie of random bits; its forms carry
//! HMAC-SHA256(key, session), the key made when the router is built. A
//! token is good for that browser's session on that router only, and
//! the server keeps no state per session.

use std::fmt;

use axum::http::{header, HeaderMap, HeaderValue};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The session cookie's name.
const COOKIE: &str = "eventlib_dashboard";

/// Random bytes in a session id: 128 bits.
const SESSION_BYTES: usize = 16;

/// Random bytes in the key: 256 bits.
const KEY_BYTES: usize = 32;

/// The router's key to the form tokens, from the OS's random source.
pub(super) struct FormKey([u8; KEY_BYTES]);

/// A browser's session: random bits from the OS, kept in a cookie.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Session(String);

fn random_hex<const N: usize>() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl FormKey {
    /// A fresh key; `Err` when the OS's random source failed.
    pub(super) fn new() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; KEY_BYTES];
        getrandom::fill(&mut key)?;
        Ok(FormKey(key))
    }

    fn mac(&self, session: &Session) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(session.0.as_bytes());
        mac
    }

    /// The token for the forms of `session`'s pages.
    pub(super) fn token(&self, session: &Session) -> String {
        hex(&self.mac(session).finalize().into_bytes())
    }

    /// Whether a form posted in `session` carries its token; the
    /// comparison takes the same time wherever the two differ.
    pub(super) fn accepts(&self, session: &Session, posted: &str) -> bool {
        unhex(posted).is_some_and(|posted| self.mac(session).verify_slice(&posted).is_ok())
    }
}

impl fmt::Debug for FormKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A secret: kept out of logs and panics.
        f.write_str("FormKey(..)")
    }
}

impl Session {
    /// A new session; `Err` when the OS's random source failed.
    pub(super) fn new() -> Result<Self, getrandom::Error> {
        random_hex::<SESSION_BYTES>().map(Session)
    }

    /// The session a request's cookie names, when it is well-formed.
    pub(super) fn of(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value)
            .filter(|value| value.len() == 2 * SESSION_BYTES && unhex(value).is_some())
            .map(|value| Session(value.to_owned()))
    }

    /// The `Set-Cookie` that keeps this session for the pages under
    /// `path`: not readable by scripts, not sent by other sites' forms.
    pub(super) fn cookie(&self, path: &str) -> HeaderValue {
        let path = if path.is_empty() { "/" } else { path };
        HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path={path}; HttpOnly; SameSite=Strict",
            self.0
        ))
        // A prefix that is not a valid header value: a cookie for every path.
        .unwrap_or_else(|_| {
            HeaderValue::from_str(&format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
                self.0
            ))
            .unwrap_or_else(|_| unreachable!("hex and ASCII"))
        })
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_good_for_its_session_and_key_only() {
        let (key, other_key) = (FormKey::new().unwrap(), FormKey::new().unwrap());
        let (session, other) = (Session::new().unwrap(), Session::new().unwrap());
        let token = key.token(&session);
        assert_eq!(token.len(), 64);
        assert!(key.accepts(&session, &token));
        assert!(!key.accepts(&other, &token));
        assert!(!other_key.accepts(&session, &token));
        assert!(!key.accepts(&session, &token[..62]));
        assert!(!key.accepts(&session, ""));
        assert!(!key.accepts(&session, &token.replace(|c: char| c.is_ascii_digit(), "g")));
        assert_eq!(format!("{key:?} {session:?}"), "FormKey(..) Session(..)");
    }

    #[test]
    fn the_session_is_read_back_from_its_cookie() {
        let session = Session::new().unwrap();
        let set = session.cookie("/eventlib");
        let set = set.to_str().unwrap();
        assert!(
            set.contains("Path=/eventlib; HttpOnly; SameSite=Strict"),
            "{set}"
        );
        let pair = set.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("theme=dark; {pair}")).unwrap(),
        );
        assert!(Session::of(&headers) == Some(session));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("eventlib_dashboard=not-hex"),
        );
        assert!(Session::of(&headers).is_none());
    }
}
