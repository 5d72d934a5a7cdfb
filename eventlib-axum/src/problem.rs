//! The JSON errors the ingestion router answers with: never a `500`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One refused request or batch item: its status and what to tell the
/// client.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) status: StatusCode,
    pub(crate) error: String,
    /// The field at fault in the event's data, when one is.
    pub(crate) field: Option<String>,
    /// Seconds for `Retry-After`, on a `429` or a full queue's `503`.
    pub(crate) retry_after: Option<u64>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Problem {
            status,
            error: error.into(),
            field: None,
            retry_after: None,
        }
    }

    /// The JSON object of the answer: `{"error": ..., "field": ...}`.
    pub(crate) fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.error });
        if let Some(field) = &self.field {
            body["field"] = field.clone().into();
        }
        body
    }

    /// What a refusal of `log_json` becomes.
    pub(crate) fn of(err: eventlib::Error) -> Self {
        use eventlib::Error;
        let status = match &err {
            Error::InvalidData { .. }
            | Error::Validation { .. }
            | Error::InvalidMetadata { .. } => StatusCode::BAD_REQUEST,
            Error::UnknownEvent { .. } | Error::InvalidName { .. } => StatusCode::NOT_FOUND,
            // A full queue, a shut-down dispatcher, a transport that refuses,
            // a duplicate declaration: the server cannot take it now.
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        let field = match &err {
            Error::InvalidData { field, .. } => field.clone(),
            Error::Validation { error, .. } => error.field().map(str::to_owned),
            _ => None,
        };
        // A full queue empties as fast as the handlers run.
        let retry_after = matches!(err, Error::QueueFull { .. }).then_some(1);
        Problem {
            status,
            error: err.to_string(),
            field,
            retry_after,
        }
    }
}

pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = json(self.status, &self.body());
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
