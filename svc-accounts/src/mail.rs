//! The mailer: confirmation and password-reset links, and the note to an address's owner when
//! someone tries to sign up with it.
//!
//! With `--smtp-url / ACCOUNTS_SMTP_URL` set, messages go over SMTP (`lettre`, TLS by rustls:
//! `smtps://` for TLS from the start, `smtp://…?tls=required` for STARTTLS, plain `smtp://`
//! only for a relay on the same host or network). Without it, a development mailer writes each
//! message to the log, and says so at start: nothing leaves the machine.
//!
//! Sending never delays an answer: each message is sent by a task of its own, over a
//! connection of its own (so a sign-up
//! with a taken address takes as long as one with a new address), and a failure is logged.
//! The URL's password is never shown: [`Mailer::describe`] names the host and port only.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one SMTP exchange may take before it is given up.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// One message to send.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The recipient, a normalised email.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

#[derive(Clone)]
enum Transport {
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        shown: String,
    },
    Log,
}

/// Sends [`Mail`] over SMTP, or writes it to the log in development.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.describe())
            .finish()
    }
}

impl Mailer {
    /// The mailer of the settings: SMTP at `smtp_url` (checked here), or the development
    /// mailer when it is `None`. `Err` says what is wrong, never repeating the URL.
    pub fn new(smtp_url: Option<&str>, from: &str) -> Result<Self, String> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| "is not an address like `Mosaic <accounts@example.com>`".to_owned())?;
        let transport = match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Transport::Log,
            Some(url) => {
                let parsed = url::Url::parse(url).map_err(|_| smtp_url_error())?;
                let shown = format!(
                    "{}://{}:{}",
                    parsed.scheme(),
                    parsed.host_str().unwrap_or_default(),
                    parsed.port().map_or_else(String::new, |p| p.to_string())
                );
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|_| smtp_url_error())?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Transport::Smtp {
                    transport: Box::new(transport),
                    shown,
                }
            }
        };
        Ok(Self { transport, from })
    }

    /// What the mailer does, for the start-up log (no password).
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp { shown, .. } => format!("SMTP {shown}"),
            Transport::Log => "development: messages are written to the log, not sent".to_owned(),
        }
    }

    /// Whether messages are only logged.
    pub fn is_development(&self) -> bool {
        matches!(self.transport, Transport::Log)
    }

    /// Sends `mail` in the background; failures are logged, never returned.
    pub fn send(&self, mail: Mail) {
        let message = match self.message(&mail) {
            Ok(message) => message,
            Err(e) => {
                tracing::error!(error = %e, "mail not sent: the message could not be built");
                return;
            }
        };
        match &self.transport {
            Transport::Log => {
                tracing::info!(
                    to = %mail.to,
                    subject = %mail.subject,
                    body = %mail.body,
                    "development mailer: message written here instead of sent"
                );
            }
            Transport::Smtp { transport, .. } => {
                let transport = transport.as_ref().clone();
                let subject = mail.subject;
                actix_web::rt::spawn(async move {
                    match transport.send(message).await {
                        Ok(_) => tracing::info!(%subject, "mail sent"),
                        Err(e) => tracing::error!(error = %e, %subject, "mail not sent"),
                    }
                });
            }
        }
    }

    fn message(&self, mail: &Mail) -> Result<Message, lettre::error::Error> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| lettre::error::Error::MissingTo)?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
    }
}

fn smtp_url_error() -> String {
    "is not an SMTP URL like smtp://HOST:PORT, smtps://USER:PASSWORD@HOST:PORT or \
     smtp://HOST:PORT?tls=required"
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smtp_password_is_never_described_and_bad_settings_are_refused() {
        let mailer = Mailer::new(
            Some("smtps://user:hunter2@mail.example.com:465"),
            "Mosaic <accounts@example.com>",
        )
        .unwrap();
        assert_eq!(mailer.describe(), "SMTP smtps://mail.example.com:465");
        assert!(!format!("{mailer:?}").contains("hunter2"));
        let dev = Mailer::new(None, "accounts@example.com").unwrap();
        assert!(dev.is_development());
        assert!(Mailer::new(None, "not an address").is_err());
        let err = Mailer::new(Some("ftp://user:hunter2@x"), "a@example.com").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
