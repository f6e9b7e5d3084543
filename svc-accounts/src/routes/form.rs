//! Reads a urlencoded form body strictly: at most [`FORM_LIMIT`] bytes (else 413), only
//! `application/x-www-form-urlencoded` (else 415), and every name and value valid UTF-8
//! after percent-decoding (else 400). serde's urlencoded reader would replace bad bytes
//! silently; a form that cannot be read faithfully is refused instead.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use percent_encoding::percent_decode;

use crate::error::AppError;

/// Largest accepted form body, in bytes.
pub const FORM_LIMIT: usize = 16 * 1024;

/// A decoded form: the first value of each field.
#[derive(Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// The field's value, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// The field's value, owned.
    pub fn take(&mut self, name: &str) -> String {
        self.0.remove(name).unwrap_or_default()
    }
}

/// Reads the request body as a form.
pub async fn read(req: &HttpRequest, mut payload: web::Payload) -> Result<Form, AppError> {
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ok = ct.to_str().is_ok_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
        if !ok {
            return Err(AppError::UnsupportedMediaType);
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > FORM_LIMIT) {
        return Err(AppError::PayloadTooLarge { limit: FORM_LIMIT });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}.")))?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return Err(AppError::PayloadTooLarge { limit: FORM_LIMIT });
        }
        body.extend_from_slice(&chunk);
    }
    parse(&body)
}

/// Parses `a=1&b=2` strictly.
pub fn parse(body: &[u8]) -> Result<Form, AppError> {
    let mut fields = HashMap::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = decode(name).ok_or_else(not_utf8)?;
        let value = decode(value).ok_or_else(|| {
            AppError::BadRequest(format!(
                "The form field `{}` is not valid UTF-8 text.",
                name.escape_default()
            ))
        })?;
        fields.entry(name).or_insert(value);
    }
    Ok(Form(fields))
}

fn not_utf8() -> AppError {
    AppError::BadRequest("A form field name is not valid UTF-8 text.".to_owned())
}

fn decode(raw: &[u8]) -> Option<String> {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&plus_as_space).collect();
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_plus_and_percent_and_keep_the_first_value() {
        let mut form = parse(b"name=Ada+L%C3%A9&email=a%40b.c&name=second&flag").unwrap();
        assert_eq!(form.get("name"), "Ada Lé");
        assert_eq!(form.get("email"), "a@b.c");
        assert_eq!(form.get("flag"), "");
        assert_eq!(form.take("missing"), "");
    }

    #[test]
    fn non_utf8_fields_are_refused_with_the_field_name() {
        let err = parse(b"name=%FF%FE").unwrap_err().to_string();
        assert!(err.contains("`name`"), "{err}");
        assert!(parse(b"%FF=1").is_err());
        assert!(parse(b"name=\xff").is_err());
    }
}
