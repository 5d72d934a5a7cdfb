//! The grammar of event names and of wildcard handler patterns.
//!
//! An **event name** is one or more *segments* joined by dots. A segment
//! starts with an ASCII letter or `_` and goes on with ASCII letters, digits
//! and `_`: `shoestore.ProductViewed`, `billing.v2.InvoicePaid`. Names are
//! case-sensitive and at most [`MAX_NAME_LEN`] (255) bytes long. The default name of an event is
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

// The grammar is a crate of its own shared with `eventlib-macros`, which
// checks the same rules at compile time.
pub use eventlib_names::{
    validate_group, validate_name, validate_pattern, MAX_GROUP_LEN, MAX_NAME_LEN,
};

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
