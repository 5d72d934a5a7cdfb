//! The compile-time half of the name grammar documented in
//! `eventlib::name` (the runtime crate cannot be a dependency of this one).

pub(crate) fn validate_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("an event name cannot be empty");
    }
    if name.len() > 255 {
        return Err("an event name is at most 255 bytes long");
    }
    for segment in name.split('.') {
        let mut chars = segment.chars();
        match chars.next() {
            None => {
                return Err("a name has an empty segment (two dots in a row, or a dot at an end)")
            }
            Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
                return Err("each dot-separated segment must start with an ASCII letter or `_`")
            }
            Some(_) if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                return Err("a segment may only hold ASCII letters, digits and `_`")
            }
            Some(_) => {}
        }
    }
    Ok(())
}

pub(crate) fn validate_pattern(pattern: &str) -> Result<(), &'static str> {
    if pattern == "*" {
        return Ok(());
    }
    let exact = pattern.strip_suffix(".*").unwrap_or(pattern);
    if exact.contains('*') {
        return Err("`*` may only stand alone or as the whole last segment (`*`, `shop.*`)");
    }
    validate_name(exact)
}

pub(crate) fn validate_group(group: &str) -> Result<(), &'static str> {
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
