//! Strict parsing of an email address a provider sent, for the gates only (never to say who
//! someone is).
//!
//! The rules refuse everything whose domain two parsers could read differently, the
//! `a@evil.com@example.com` class of bypass (GHSA-c5c4-8r6x-56w3): exactly one `@`; no quoted
//! local part, comment, bracket, whitespace, control or non-ASCII character anywhere; a
//! local part of RFC 5322 dot-atoms (no leading, trailing or doubled dot); a domain of DNS
//! labels, compared in lower case. An address this refuses does not pass an email gate.

/// A parsed address: the local part as sent, the domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub local: String,
    pub domain: String,
}

impl Address {
    /// `local@domain`, the domain in lower case.
    pub fn canonical(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }
}

/// Why an address is refused (the text is for logs; it never repeats the address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

/// RFC 5322 `atext`: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// A DNS host name of at least two labels.
fn is_domain(domain: &str) -> bool {
    domain.contains('.') && crate::config::is_host_name(domain)
}

/// Parses `text` strictly (see the module comment).
pub fn parse(text: &str) -> Result<Address, Malformed> {
    if text.len() > 254 {
        return Err(Malformed("longer than 254 bytes"));
    }
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Malformed("not exactly one @"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(Malformed("the local part is empty or longer than 64 bytes"));
    }
    if !local.bytes().all(|b| is_atext(b) || b == b'.')
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(Malformed("the local part is not a plain dot-atom"));
    }
    if !is_domain(domain) {
        return Err(Malformed("the domain is not a host name"));
    }
    Ok(Address {
        local: local.to_owned(),
        domain: domain.to_ascii_lowercase(),
    })
}

/// Whether `domain` (lower case) matches the configured `pattern`: equal, or for
/// `*.example.com` a subdomain of `example.com` (never `example.com` itself).
pub fn domain_matches(pattern: &str, domain: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(parent) => domain
            .strip_suffix(parent)
            .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        None => pattern == domain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_parse_with_the_domain_in_lower_case() {
        for (text, local, domain) in [
            ("alice@example.com", "alice", "example.com"),
            (
                "Alice.Liddell+tag@Example.COM",
                "Alice.Liddell+tag",
                "example.com",
            ),
            (
                "o'brien@mail.example.co.uk",
                "o'brien",
                "mail.example.co.uk",
            ),
            ("x@xn--bcher-kva.example", "x", "xn--bcher-kva.example"),
        ] {
            let a = parse(text).unwrap();
            assert_eq!(
                (a.local.as_str(), a.domain.as_str()),
                (local, domain),
                "{text}"
            );
        }
    }

    #[test]
    fn everything_two_parsers_could_read_differently_is_refused() {
        for text in [
            "a@evil.com@example.com",
            "\"a@evil.com\"@example.com",
            "\"alice\"@example.com",
            "alice(comment)@example.com",
            "alice@example.com(comment)",
            "alice@[127.0.0.1]",
            "alice <alice@example.com>",
            "alice @example.com",
            "alice@example.com ",
            " alice@example.com",
            "alice@exa mple.com",
            "alice\n@example.com",
            "alice@example.com\0",
            "al\u{0}ice@example.com",
            "alicé@example.com",
            "alice@exämple.com",
            "alice@example.com.",
            "alice@.example.com",
            "alice@-example.com",
            "alice@localhost",
            "alice@",
            "@example.com",
            "alice",
            "",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "a\\@b@example.com",
            "alice@example.com\\",
            "alice%evil.com@example.com,bob@x.com",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
        assert!(parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(parse(&format!("a@{}.com", "b".repeat(250))).is_err());
    }

    #[test]
    fn domain_patterns() {
        for (pattern, domain, matches) in [
            ("example.com", "example.com", true),
            ("example.com", "eu.example.com", false),
            ("example.com", "badexample.com", false),
            ("*.example.com", "eu.example.com", true),
            ("*.example.com", "a.b.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "badexample.com", false),
            ("*.example.com", ".example.com", false),
        ] {
            assert_eq!(
                domain_matches(pattern, domain),
                matches,
                "{pattern} {domain}"
            );
        }
    }
}
