//! Pages that belong to no section: the error page.

use askama::Template;

use crate::error::{AppError, FieldError};
use crate::web::render::Frame;

#[derive(Template)]
#[template(path = "pages/error.html")]
struct ErrorPage<'a> {
    frame: Frame,
    title: &'a str,
    message: String,
    details: &'a [FieldError],
}

/// The HTML body for an error; a plain sentence if even the template fails.
pub fn error_page(error: &AppError) -> String {
    let mut message = error.to_string();
    if let Some(first) = message.get(..1) {
        message = first.to_uppercase() + &message[1..];
    }
    let page = ErrorPage {
        frame: Frame::anonymous(String::new()),
        title: error.title(),
        message,
        details: error.details(),
    };
    page.render()
        .unwrap_or_else(|_| format!("{}: {}", error.title(), error))
}
