//! Values that are checked once, where they enter (a form, a JSON body, the command line),
//! and trusted everywhere after: the only way to make one is through `parse`.

use std::fmt;

pub use crate::domain::Sku;
pub use crate::domain::types::is_direction_control;

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_newtype!(
    /// An email address, trimmed; compared case-insensitively by the database.
    Email
);
text_newtype!(
    /// An order number or a purchase-order reference: printable, no spaces, 1 to 64 long.
    Reference
);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim();
        let valid = email.len() <= 254
            && !email.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || is_direction_control(c)
                    || matches!(c, '<' | '>' | '"')
            })
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                        && !domain.contains("..")
                }
                None => false,
            };
        if valid {
            Ok(Self(email.to_owned()))
        } else {
            Err(format!(
                "{:?} is not an email address like name@example.com",
                truncate(email)
            ))
        }
    }
}

impl Reference {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let reference = raw.trim();
        if reference.is_empty() {
            return Err("the number is empty".to_owned());
        }
        if reference.len() > 64 {
            return Err("a number is at most 64 characters long".to_owned());
        }
        if !reference.chars().all(|c| c.is_ascii_graphic()) {
            return Err(format!(
                "{:?} has spaces or characters that are not allowed",
                truncate(reference)
            ));
        }
        Ok(Self(reference.to_owned()))
    }
}

/// Text for a single-line field (a name, a subject): trimmed, and refused when it holds
/// a control character (CR and LF would start new header lines in a plain-text email;
/// tab, NUL and the like have no place in a name). Direction controls (see
/// [`is_direction_control`]) are removed rather than refused: a name in a right-to-left
/// script may arrive wrapped in them, and without them it still reads right.
pub fn single_line(raw: &str) -> Result<String, String> {
    if let Some(c) = raw.chars().find(|c| c.is_control()) {
        return Err(format!(
            "use one line of text without control characters (this has {})",
            control_name(c)
        ));
    }
    Ok(raw
        .chars()
        .filter(|c| !is_direction_control(*c))
        .collect::<String>()
        .trim()
        .to_owned())
}

/// A single-line field of 1 to `max` characters: [`single_line`], then the length, which
/// `length_message` explains.
pub fn single_line_of(raw: &str, max: usize, length_message: &str) -> Result<String, String> {
    let text = single_line(raw)?;
    if text.is_empty() || text.chars().count() > max {
        Err(length_message.to_owned())
    } else {
        Ok(text)
    }
}

fn control_name(c: char) -> String {
    match c {
        '\n' => "a line break (LF)".to_owned(),
        '\r' => "a carriage return (CR)".to_owned(),
        '\t' => "a tab".to_owned(),
        '\0' => "a NUL character".to_owned(),
        other => format!("the control character U+{:04X}", u32::from(other)),
    }
}

/// A short form of user input for messages, so an overlong value does not flood the page.
pub fn truncate(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(Email::parse(" Ana@Example.com ").is_ok());
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "ana@@x.com",
            "<a@b.c>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn single_lines() {
        assert_eq!(single_line("  Ana López ").unwrap(), "Ana López");
        assert_eq!(single_line("\u{2067}مريم\u{2069}").unwrap(), "مريم");
        assert_eq!(single_line("Evil\u{202E}gpj.exe").unwrap(), "Evilgpj.exe");
        for bad in [
            "Ana\r\nBcc: all@example.com",
            "Ana\nB",
            "a\tb",
            "a\u{7}",
            "a\u{85}b",
        ] {
            assert!(single_line(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            single_line("Ana\r\nBcc: x")
                .unwrap_err()
                .contains("carriage return")
        );
        assert!(Email::parse("ana\u{202E}@example.com").is_err());
    }

    #[test]
    fn references() {
        assert!(Reference::parse("PO-1042").is_ok());
        assert!(Reference::parse("PO 1042").is_err());
    }
}
