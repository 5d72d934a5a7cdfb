//! The grammar of eventlib's event names, wildcard handler patterns and
//! handler groups.
//!
//! Both `eventlib` (which re-exports it as `eventlib::name`, where the
//! grammar is documented) and `eventlib-macros` (which checks the literals
//! of `#[event(name = ...)]` and `#[handler(...)]` at compile time) depend
//! on this crate, so the two cannot drift. It uses nothing but `core`.
//!
//! ```
//! assert!(eventlib_names::validate_name("shop.OrderPlaced").is_ok());
//! assert!(eventlib_names::validate_pattern("shop.*").is_ok());
//! assert!(eventlib_names::validate_group("emails").is_ok());
//! ```
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

/// The longest event name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// The longest handler group name accepted, in bytes.
pub const MAX_GROUP_LEN: usize = 64;

/// Checks a name against the grammar; the error says what is wrong.
pub fn validate_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("an event name cannot be empty");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("an event name is at most 255 bytes long");
    }
    for segment in name.split('.') {
        validate_segment(segment)?;
    }
    Ok(())
}

fn validate_segment(segment: &str) -> Result<(), &'static str> {
    let mut chars = segment.chars();
    match chars.next() {
        None => Err("a name has an empty segment (two dots in a row, or a dot at an end)"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Err("each dot-separated segment must start with an ASCII letter or `_`")
        }
        Some(_) if chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => Ok(()),
        Some(_) => Err("a segment may only hold ASCII letters, digits and `_`"),
    }
}

/// Checks a wildcard handler pattern against the grammar.
pub fn validate_pattern(pattern: &str) -> Result<(), &'static str> {
    if pattern == "*" {
        return Ok(());
    }
    let exact = pattern.strip_suffix(".*").unwrap_or(pattern);
    if exact.contains('*') {
        return Err("`*` may only stand alone or as the whole last segment (`*`, `shop.*`)");
    }
    validate_name(exact)
}

/// Checks a handler group name (`#[handler(group = "...")]`): 1 to 64
/// ASCII letters, digits, `_` and `-`.
pub fn validate_group(group: &str) -> Result<(), &'static str> {
    if group.is_empty() || group.len() > MAX_GROUP_LEN {
        return Err("a group name is 1 to 64 characters long");
    }
    if !group
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err("a group name may only hold ASCII letters, digits, `_` and `-`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_names_and_segments() {
        assert_eq!(validate_name(""), Err("an event name cannot be empty"));
        for bad in [".", ".a", "a.", "a..b", "a.b."] {
            assert_eq!(
                validate_name(bad),
                Err("a name has an empty segment (two dots in a row, or a dot at an end)"),
                "{bad}"
            );
        }
    }

    #[test]
    fn length_limit() {
        // Exactly the limit, in one segment and in many.
        assert_eq!(validate_name(&"a".repeat(MAX_NAME_LEN)), Ok(()));
        let dotted = "ab.".repeat(84) + "abc";
        assert_eq!(dotted.len(), MAX_NAME_LEN);
        assert_eq!(validate_name(&dotted), Ok(()));
        // One byte more.
        let too_long = validate_name(&"a".repeat(MAX_NAME_LEN + 1));
        assert_eq!(too_long, Err("an event name is at most 255 bytes long"));
        // The message states the constant.
        assert!(too_long.unwrap_err().contains(&format!(" {MAX_NAME_LEN} ")));
    }

    #[test]
    fn characters() {
        for good in [
            "a",
            "A",
            "_",
            "_x.y_2",
            "shop.Order",
            "billing.v2.InvoicePaid",
            "a1.b2",
        ] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad_start in ["2a", "a.2b", "-a", "a.-b"] {
            assert_eq!(
                validate_name(bad_start),
                Err("each dot-separated segment must start with an ASCII letter or `_`"),
                "{bad_start}"
            );
        }
        for bad_char in ["a-b", "a.b-c", "a b", "aé", "a*", "a/b", "a:b"] {
            assert_eq!(
                validate_name(bad_char),
                Err("a segment may only hold ASCII letters, digits and `_`"),
                "{bad_char}"
            );
        }
        // Not ASCII at the start of a segment.
        assert!(validate_name("é").is_err());
    }

    #[test]
    fn patterns() {
        for good in ["*", "shop.*", "shop.cart.*", "shop.Order", "_.*"] {
            assert_eq!(validate_pattern(good), Ok(()), "{good}");
        }
        for star in ["**", "shop*", "*.Order", "a.*.b", "shop.**", "*shop"] {
            assert_eq!(
                validate_pattern(star),
                Err("`*` may only stand alone or as the whole last segment (`*`, `shop.*`)"),
                "{star}"
            );
        }
        // What remains once `.*` is stripped follows the name grammar.
        for bad in ["", ".*", "a..*", "shop.", "2a.*", "a-b.*"] {
            assert!(validate_pattern(bad).is_err(), "{bad}");
        }
        // A pattern's prefix may be as long as a name.
        let long = "a".repeat(MAX_NAME_LEN);
        assert_eq!(validate_pattern(&format!("{long}.*")), Ok(()));
        assert!(validate_pattern(&format!("{long}a.*")).is_err());
    }

    #[test]
    fn groups() {
        for good in ["a", "analytics", "slow-io", "g_2", "0"] {
            assert_eq!(validate_group(good), Ok(()), "{good}");
        }
        assert_eq!(validate_group(&"g".repeat(MAX_GROUP_LEN)), Ok(()));
        for bad_len in [String::new(), "g".repeat(MAX_GROUP_LEN + 1)] {
            assert_eq!(
                validate_group(&bad_len),
                Err("a group name is 1 to 64 characters long")
            );
        }
        for bad in ["a.b", "a b", "é", "a*"] {
            assert_eq!(
                validate_group(bad),
                Err("a group name may only hold ASCII letters, digits, `_` and `-`"),
                "{bad}"
            );
        }
    }
}
