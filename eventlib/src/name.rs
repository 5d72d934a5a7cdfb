//! The grammar of event names and of wildcard handler patterns.
//!
//! An **event name** is one or more *segments* joined by dots. A segment
//! starts with an ASCII letter or `_` and goes on with ASCII letters, digits
//! and `_`: `shoestore.ProductViewed`, `billing.v2.InvoicePaid`. Names are
//! case-sensitive and at most 255 bytes long. The default name of an event is
//! `<crate name>.<TypeName>`.
//!
//! A **pattern** (the argument of a wildcard handler, `#[handler("shop.*")]`)
//! is one of:
//!
//! | pattern     | matches                                                      |
//! |-------------|--------------------------------------------------------------|
//! | `*`         | every event                                                  |
//! | `shop.*`    | every event whose name starts with `shop.` (any depth: `shop.Order`, `shop.cart.Added`) |
//! | `shop.Order`| exactly the event named `shop.Order`                         |
//!
//! `*` stands only as the whole last segment: `a.*.b`, `shop*`, `*.Order`
//! and `**` are rejected at compile time.
//!
//! ```
//! use eventlib::name::{matches, validate_name, validate_pattern};
//! assert!(validate_name("shoestore.ProductViewed").is_ok());
//! assert!(validate_name("shoestore..Viewed").is_err());
//! assert!(validate_pattern("shop.*").is_ok());
//! assert!(validate_pattern("shop.*.Order").is_err());
//! assert!(matches("shop.*", "shop.cart.Added"));
//! assert!(!matches("shop.*", "shopping.Cart"));
//! assert!(!matches("shop.*", "shop"));
//! assert!(matches("*", "anything.at.All"));
//! ```

/// The longest event name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 255;

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
    if group.is_empty() || group.len() > 64 {
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

/// Whether `name` matches `pattern` (both assumed valid).
pub fn matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        // `shop.*`: the prefix keeps its dot, so `shopping.X` does not match.
        Some(prefix) => name.len() > prefix.len() && name.starts_with(prefix),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "shop.Order", "_x.y_2", "billing.v2.InvoicePaid"] {
            assert_eq!(validate_name(good), Ok(()), "{good}");
        }
        for bad in ["", ".a", "a.", "a..b", "2a", "a.b-c", "a b", "é"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert!(validate_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn patterns() {
        for good in ["*", "shop.*", "shop.cart.*", "shop.Order"] {
            assert_eq!(validate_pattern(good), Ok(()), "{good}");
        }
        for bad in ["", "**", "shop*", "*.Order", "a.*.b", "shop.", ".*", "a..*"] {
            assert!(validate_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching() {
        assert!(matches("*", "a"));
        assert!(matches("shop.*", "shop.Order"));
        assert!(matches("shop.*", "shop.cart.Added"));
        assert!(!matches("shop.*", "shop"));
        assert!(!matches("shop.*", "shopping.Order"));
        assert!(!matches("shop.*", "other.shop.Order"));
        assert!(matches("shop.Order", "shop.Order"));
        assert!(!matches("shop.Order", "shop.OrderX"));
    }
}
