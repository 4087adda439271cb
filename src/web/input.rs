//! Input that cannot be read is refused before a handler runs, with the app's own error.
//! Request bodies are read whole first: one over its limit is drained and answered 413
//! (closing the connection on a client still sending makes it report a reset, never the
//! message), and a form's text must be UTF-8 without NUL characters (a browser sends
//! nothing else, and PostgreSQL cannot store a NUL). Forms, paths and query strings that
//! do not fit a handler's types get an error page instead of actix's plain text.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::UrlencodedError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use futures_util::StreamExt;

use crate::error::AppError;
use crate::web::errors::ApiError;

/// The largest form a page accepts.
pub const FORM_LIMIT: usize = 256 * 1024;
/// The largest upload (the CSV import's 4 MiB file, with room for the multipart framing).
pub const UPLOAD_LIMIT: usize = 4 * 1024 * 1024 + 64 * 1024;
/// An oversized body is read and dropped up to this size, so its sender sees the 413;
/// past it the connection is closed.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

enum Body {
    Whole(Bytes),
    TooLarge,
}

async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<Body, actix_web::Error> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > DRAIN_LIMIT) {
        return Ok(Body::TooLarge);
    }
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        seen += chunk.len();
        if seen <= limit {
            body.extend_from_slice(&chunk);
        } else if seen > DRAIN_LIMIT {
            return Ok(Body::TooLarge);
        }
    }
    Ok(if seen > limit {
        Body::TooLarge
    } else {
        Body::Whole(body.freeze())
    })
}

fn has_body(req: &ServiceRequest) -> bool {
    !matches!(req.method().as_str(), "GET" | "HEAD" | "OPTIONS")
}

fn refuse<B>(
    req: ServiceRequest,
    response: HttpResponse,
) -> ServiceResponse<EitherBody<B, BoxBody>> {
    req.into_response(response).map_into_right_body()
}

/// Middleware for the pages: reads the body of every state-changing request (a form, or
/// an upload), refuses it when too large or when a form's text is not text.
pub async fn read_page_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    if !has_body(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let limit = if content_type.starts_with("multipart/form-data") {
        UPLOAD_LIMIT
    } else {
        FORM_LIMIT
    };
    let body = match read_body(&mut req, limit).await? {
        Body::Whole(body) => body,
        Body::TooLarge => return Ok(refuse(req, AppError::PayloadTooLarge.error_response())),
    };
    if content_type.starts_with("application/x-www-form-urlencoded")
        && let Err(problem) = check_form_text(&body)
    {
        return Ok(refuse(req, AppError::Malformed(problem).error_response()));
    }
    req.set_payload(Payload::from(body));
    Ok(next.call(req).await?.map_into_left_body())
}

/// Middleware for the JSON API: reads the body whole, refusing one over the limit in the
/// API's JSON.
pub async fn read_api_body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    read_json_body(req, next, crate::web::api::MAX_BODY_BYTES).await
}

/// The same for the storefronts' webhooks, whose orders may be larger.
pub async fn read_webhook_body(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    read_json_body(req, next, crate::web::webhooks::MAX_BODY_BYTES).await
}

async fn read_json_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    limit: usize,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static, BoxBody>>, actix_web::Error> {
    if !has_body(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    match read_body(&mut req, limit).await? {
        Body::Whole(body) => req.set_payload(Payload::from(body)),
        Body::TooLarge => {
            let response = ApiError(AppError::PayloadTooLarge).error_response();
            return Ok(refuse(req, response));
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Every name and value of an `application/x-www-form-urlencoded` body, decoded, must be
/// UTF-8 without a NUL. (Decoding alone would turn bad bytes into U+FFFD and store that.)
pub fn check_form_text(body: &[u8]) -> Result<(), String> {
    for pair in body.split(|byte| *byte == b'&') {
        let decoded = percent_decode(pair);
        let text = std::str::from_utf8(&decoded).map_err(|_| {
            "the form has text that is not UTF-8; send it again from the page".to_owned()
        })?;
        if text.contains('\0') {
            return Err("the form has a NUL character, which text cannot hold".to_owned());
        }
    }
    Ok(())
}

/// `+` as a space and `%XX` as its byte; a `%` without two hex digits stays as it is.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |byte: u8| (byte as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3) {
                Some(&[high, low]) if hex(high).is_some() && hex(low).is_some() => {
                    out.push(hex(high).unwrap_or(0) * 16 + hex(low).unwrap_or(0));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

/// Forms that do not fit their handler: the error page, not actix's plain text.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(FORM_LIMIT)
        .error_handler(|error, _| {
            match error {
                UrlencodedError::Overflow { .. } => AppError::PayloadTooLarge,
                UrlencodedError::ContentType => AppError::Malformed(
                    "send the form as a browser does (application/x-www-form-urlencoded)"
                        .to_owned(),
                ),
                other => AppError::Malformed(format!(
                    "the form cannot be read: {}",
                    other.to_string().trim_end_matches('.')
                )),
            }
            .into()
        })
}

/// A path whose id is not a number names nothing: 404, as the error page.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|_, _| AppError::NotFound("the record at this address".to_owned()).into())
}

/// A query string that does not fit its page: 400, as the error page.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        AppError::Malformed(format!("the address cannot be read: {error}")).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_text_must_be_utf8_without_nul() {
        assert!(check_form_text(b"note=caf%C3%A9+au+lait&csrf_token=ab").is_ok());
        assert!(check_form_text(b"note=100%25&x=%zz&y=%").is_ok());
        assert!(check_form_text(b"note=caf%E9").is_err());
        assert!(check_form_text(b"note=caf\xe9").is_err());
        assert!(check_form_text(b"no%FFte=x").is_err());
        assert!(check_form_text(b"note=a%00b").is_err());
    }
}
