//! The filters of the dead-letter list: read from the query string, kept
//! in the "next page" link.

use eventlib::redis::DeadLetterFilter;

/// The filters of the dead-letter list, from the query string.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct Filter {
    pub(super) event: Option<String>,
    pub(super) handler: Option<String>,
    pub(super) group: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) after: Option<String>,
}

fn set(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|v| !v.is_empty())
}

impl Filter {
    /// The letters these filters select, as the library filters them.
    pub(super) fn selection(&self) -> DeadLetterFilter {
        DeadLetterFilter {
            event: self.event.clone(),
            handler: self.handler.clone(),
            group: self.group.clone(),
            reason: self.reason.clone(),
            since: None,
        }
    }

    /// Where to start reading: after this dead letter id.
    pub(super) fn after(&self) -> Option<&str> {
        set(&self.after)
    }

    /// The query string of the page after the letter `last`, with the same
    /// filters, every value percent-encoded.
    pub(super) fn next_page(&self, last: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("after", last);
        for (key, value) in [
            ("event", &self.event),
            ("handler", &self.handler),
            ("group", &self.group),
            ("reason", &self.reason),
        ] {
            if let Some(value) = set(value) {
                query.append_pair(key, value);
            }
        }
        query.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_keeps_every_filter_whatever_it_holds() {
        let filter = Filter {
            reason: Some("a&b#c=\"<d> e+f%".into()),
            group: Some(String::new()),
            ..Filter::default()
        };
        let query = filter.next_page("1-0");
        assert!(!query.contains('#') && !query.contains('"') && !query.contains('<'));
        let back: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            back,
            [
                ("after".to_owned(), "1-0".to_owned()),
                ("reason".to_owned(), "a&b#c=\"<d> e+f%".to_owned()),
            ]
        );
    }
}
