//! Request logs without secrets. Each request is logged with its method, route, target,
//! status and request id, but a target can carry a token: a self-service link's
//! (`/l/...`, `/unsubscribe/...`, `/s/...`) or any query parameter named like one (`csrf_token=`,
//! `token=`, ...). Those are replaced by `[redacted]` before anything is logged. (Bearer
//! tokens travel in a header that is never logged.)

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

const REDACTED: &str = "[redacted]";
/// Paths whose next segment is a customer's signed link.
const LINK_PREFIXES: [&str; 4] = ["/l/", "/unsubscribe/", "/s/", "/supplier/"];
/// Query parameters whose names contain one of these are secrets.
const SECRET_NAMES: [&str; 3] = ["token", "password", "secret"];

/// A request target (path and query) fit for a log line.
pub fn target(path_and_query: &str) -> String {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let mut out = match LINK_PREFIXES.iter().find(|p| path.starts_with(*p)) {
        Some(prefix) => {
            let rest = &path[prefix.len()..];
            let after = rest.find('/').map(|at| &rest[at..]).unwrap_or("");
            format!("{prefix}{REDACTED}{after}")
        }
        None => path.to_owned(),
    };
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                let decoded: String = url::form_urlencoded::parse(name.as_bytes())
                    .map(|(key, _)| key.to_ascii_lowercase())
                    .collect();
                if SECRET_NAMES.iter().any(|secret| decoded.contains(secret)) {
                    format!("{name}={REDACTED}")
                } else {
                    pair.to_owned()
                }
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// tracing-actix-web's root span, with the target redacted and the client address as
/// `client_ip` decides it (the default believes any `X-Forwarded-For`).
pub struct RedactedRootSpan;

impl RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "default".to_owned());
        let target = target(
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or_default(),
        );
        let state = request.app_data::<actix_web::web::Data<crate::web::state::AppState>>();
        let trusted = state
            .map(|state| state.settings.trusted_proxies.as_slice())
            .unwrap_or_default();
        let client_ip =
            crate::web::client_ip::client_ip(request.peer_addr(), request.headers(), trusted)
                .map(|ip| ip.to_string())
                .unwrap_or_default();
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.host = %header("Host"),
            http.target = %target,
            http.client_ip = %client_ip,
            http.user_agent = %header("User-Agent"),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_leave_the_target() {
        assert_eq!(target("/l/abc.def-ghi"), "/l/[redacted]");
        assert_eq!(target("/s/abc.def-ghi"), "/s/[redacted]");
        assert_eq!(
            target("/unsubscribe/abc?x=1"),
            "/unsubscribe/[redacted]?x=1"
        );
        assert_eq!(
            target("/inventory/import?csrf_token=s3cret&page=2"),
            "/inventory/import?csrf_token=[redacted]&page=2"
        );
        assert_eq!(
            target("/x?access_token=s3cret&Token=t&q=token"),
            "/x?access_token=[redacted]&Token=[redacted]&q=token"
        );
        assert_eq!(
            target("/x?csrf%5Ftoken=s3cret"),
            "/x?csrf%5Ftoken=[redacted]"
        );
        assert_eq!(target("/queue?product=KET-1"), "/queue?product=KET-1");
        assert_eq!(target("/login"), "/login");
    }
}
