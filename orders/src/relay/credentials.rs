//! Broker credentials kept out of status, errors and logs.
//!
//! A broker URL may carry credentials (`nats://user:password@host:4222`, or a token as
//! `nats://token@host`). The relay's status is readable anonymously (`/api/relay`, the server
//! functions, the websocket) and its errors and URLs go to the logs, so the URL is split once,
//! when the relay starts: the credentials go to the client's connect options and everything
//! else (the URL handed to the client library, which logs its server addresses at debug level,
//! every error and every log line) only ever sees the URL with its userinfo replaced by `***`.

use std::fmt;

/// A broker URL (or comma-separated list of them) split into the credential-free address list
/// and the credentials of the first URL that carries some.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// The URL(s) without userinfo: what the client connects to.
    address: String,
    /// The URL(s) with the userinfo replaced by `***`: what status and logs show.
    redacted: String,
    credentials: Option<Credentials>,
}

/// Credentials found in a URL's userinfo (kept as written, not percent-decoded).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    UserPassword { user: String, password: String },
    Token(String),
}

impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(***)")
    }
}

impl BrokerUrl {
    pub fn parse(raw: &str) -> Self {
        let mut address = Vec::new();
        let mut redacted = Vec::new();
        let mut credentials = None;
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (plain, userinfo) = split_userinfo(part);
            match userinfo {
                Some(userinfo) => {
                    redacted.push(redact_with(&plain, part));
                    if credentials.is_none() {
                        credentials = Some(match userinfo.split_once(':') {
                            Some((user, password)) => Credentials::UserPassword {
                                user: user.to_owned(),
                                password: password.to_owned(),
                            },
                            None => Credentials::Token(userinfo.to_owned()),
                        });
                    }
                }
                None => redacted.push(plain.clone()),
            }
            address.push(plain);
        }
        Self {
            address: address.join(","),
            redacted: redacted.join(","),
            credentials,
        }
    }

    /// The URL(s) to connect to, without credentials.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The URL(s) as status and logs show them (`***` for credentials).
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Connect options carrying the credentials (if any).
    pub fn apply(&self, options: async_nats::ConnectOptions) -> async_nats::ConnectOptions {
        match &self.credentials {
            Some(Credentials::UserPassword { user, password }) => {
                options.user_and_password(user.clone(), password.clone())
            }
            Some(Credentials::Token(token)) => options.token(token.clone()),
            None => options,
        }
    }

    /// `text` with every credential of this URL replaced by `***` (for error texts that may
    /// quote the URL, whatever library produced them).
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if let Some(credentials) = &self.credentials {
            let secrets: Vec<&str> = match credentials {
                Credentials::UserPassword { user, password } => vec![password, user],
                Credentials::Token(token) => vec![token],
            };
            for secret in secrets.into_iter().filter(|s| s.len() >= 3) {
                out = out.replace(secret, "***");
            }
        }
        out
    }
}

/// Replaces the userinfo of every URL in `text` (`scheme://userinfo@...`) with `***`.
pub fn redact_userinfo(text: &str) -> String {
    text.split(',')
        .map(|part| {
            let (plain, userinfo) = split_userinfo(part);
            match userinfo {
                Some(_) => redact_with(&plain, part),
                None => part.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `url` without its userinfo, and the userinfo.
fn split_userinfo(url: &str) -> (String, Option<&str>) {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => (
            format!("{scheme}{}{}", &authority[at + 1..], &rest[authority_end..]),
            Some(&authority[..at]),
        ),
        None => (url.to_owned(), None),
    }
}

/// `plain` (a URL without userinfo) with `***@` where `original` had its userinfo.
fn redact_with(plain: &str, original: &str) -> String {
    match original.find("://") {
        Some(i) => format!("{}***@{}", &plain[..i + 3], &plain[i + 3..]),
        None => format!("***@{plain}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_password_are_split_off() {
        let url = BrokerUrl::parse("nats://user:secret@127.0.0.1:4222");
        assert_eq!(url.address(), "nats://127.0.0.1:4222");
        assert_eq!(url.redacted(), "nats://***@127.0.0.1:4222");
        assert_eq!(
            url.credentials(),
            Some(&Credentials::UserPassword {
                user: "user".into(),
                password: "secret".into()
            })
        );
        assert!(!format!("{url:?} {url}").contains("secret"));
        assert_eq!(
            url.scrub("failed at nats://user:secret@x"),
            "failed at nats://***:***@x"
        );
    }

    #[test]
    fn tokens_lists_and_plain_urls() {
        let url = BrokerUrl::parse("nats://tok3n@a:1, nats://b:2");
        assert_eq!(url.address(), "nats://a:1,nats://b:2");
        assert_eq!(url.redacted(), "nats://***@a:1,nats://b:2");
        assert_eq!(url.credentials(), Some(&Credentials::Token("tok3n".into())));
        let plain = BrokerUrl::parse("nats://127.0.0.1:4222");
        assert_eq!(plain.redacted(), "nats://127.0.0.1:4222");
        assert_eq!(plain.credentials(), None);
        assert_eq!(redact_userinfo("nats://u:p@h:1/x@y"), "nats://***@h:1/x@y");
    }
}
