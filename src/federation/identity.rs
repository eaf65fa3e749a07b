//! What the relying party (fed-flow's `id_token`, `endpoints::federation::github`) hands over
//! after it verified a person at a provider, and before the gates (`admit`) look at them.
//!
//! Everything here came from the provider and is untrusted beyond the provider's own word:
//! the gates parse the email strictly, count it only when `email_verified` is `true`, and
//! never take `username` or `email` for who the person is (the principal is the subject).

/// A person as an upstream provider described them, after verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The provider's id (`[[providers]] id`).
    pub provider: String,
    /// OIDC `sub`, or GitHub's numeric user id as a string: the only key of the person.
    pub subject: String,
    pub email: Option<String>,
    /// `true` only when the provider said literally `true` (GitHub: the primary address is
    /// verified).
    pub email_verified: bool,
    /// OIDC `groups`; GitHub: `org` and `org/team` names.
    pub groups: Vec<String>,
    /// Google's `hd`: the Workspace domain the account belongs to.
    pub hosted_domain: Option<String>,
    /// `preferred_username` or the GitHub login: for display only, never a key.
    pub username: Option<String>,
    pub name: Option<String>,
}
