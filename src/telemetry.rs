//! Structured logs through `tracing`: text for people, JSON for machines.
//! Every request's log lines carry its `request_id` (set by
//! `tracing-actix-web`, echoed in the `x-request-id` response header).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests start many apps in one process) is harmless.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Each request's root span is `tracing-actix-web`'s; a request that ends
/// in an error is logged by what its status says of it, not all at ERROR
/// as that crate does (it logs a redirect to the sign-in page as an
/// error, which sends operators looking for a fault that is not there):
///
/// * a server error (5xx: a bug, or the database unreachable) at ERROR;
/// * a refusal (4xx: bad input, no access, too many tries) at INFO, with
///   its reason, so a partner's mistakes can be found without
///   raising an alarm;
/// * a redirect answered as an error (the web app's "sign in first") not
///   at all: it is how the pages work.
pub struct RequestSpans;

impl RootSpanBuilder for RequestSpans {
    fn on_request_start(request: &ServiceRequest) -> Span {
        DefaultRootSpanBuilder::on_request_start(request)
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let error = match outcome {
            Ok(response) => response
                .response()
                .error()
                .map(|error| (response.status(), error.to_string())),
            Err(error) => Some((error.as_response_error().status_code(), error.to_string())),
        };
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        if let Some((status, message)) = error {
            let _inside = span.enter();
            log_error(status, &message);
        }
    }
}

fn log_error(status: StatusCode, message: &str) {
    let code = status.as_u16();
    if status.is_server_error() {
        tracing::error!(status = code, "request failed: {message}");
    } else if status.is_client_error() {
        tracing::info!(status = code, "request refused: {message}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::{test, web, App, HttpResponse, ResponseError};

    use super::RequestSpans;

    #[derive(Debug)]
    struct Failing(u16, &'static str);

    impl std::fmt::Display for Failing {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.1)
        }
    }

    impl ResponseError for Failing {
        fn status_code(&self) -> actix_web::http::StatusCode {
            actix_web::http::StatusCode::from_u16(self.0).unwrap()
        }
        fn error_response(&self) -> HttpResponse {
            HttpResponse::build(self.status_code()).finish()
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a request to `path` of a tiny app wrapped like ours logs.
    async fn logged(path: &str) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(tracing_actix_web::TracingLogger::<RequestSpans>::new())
                .route("/ok", web::get().to(HttpResponse::Ok))
                .route(
                    "/sign-in-first",
                    web::get()
                        .to(|| async { Err::<HttpResponse, _>(Failing(303, "sign in first")) }),
                )
                .route(
                    "/refused",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(Failing(422, "amount: must be positive"))
                    }),
                )
                .route(
                    "/broken",
                    web::get().to(|| async {
                        Err::<HttpResponse, _>(Failing(500, "the database is gone"))
                    }),
                ),
        )
        .await;
        test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn line_with<'a>(log: &'a str, text: &str) -> &'a str {
        log.lines()
            .find(|line| line.contains(text))
            .unwrap_or_else(|| panic!("no line says {text:?}: {log}"))
    }

    #[actix_web::test]
    async fn a_redirect_to_sign_in_is_not_logged_as_an_error() {
        let log = logged("/sign-in-first").await;
        assert!(!log.contains("ERROR"), "{log}");
        assert!(!log.contains("WARN"), "{log}");
        assert!(!log.contains("sign in first"), "{log}");
    }

    #[actix_web::test]
    async fn a_refusal_is_logged_at_info_with_its_reason_and_request_id() {
        let log = logged("/refused").await;
        let line = line_with(&log, "request refused: amount: must be positive");
        assert!(line.contains(" INFO "), "{line}");
        assert!(line.contains("status=422"), "{line}");
        assert!(line.contains("request_id="), "{line}");
        assert!(!log.contains("ERROR"), "{log}");
    }

    #[actix_web::test]
    async fn a_server_error_is_logged_at_error() {
        let log = logged("/broken").await;
        let line = line_with(&log, "request failed: the database is gone");
        assert!(line.contains("ERROR"), "{line}");
        assert!(line.contains("status=500"), "{line}");
    }

    #[actix_web::test]
    async fn a_success_logs_no_error() {
        let log = logged("/ok").await;
        assert!(!log.contains("ERROR") && !log.contains("refused"), "{log}");
    }
}
