//! The OAuth error codes, each quoting where RFC 6749 (and RFC 7009, 6750) defines it, with
//! one match to the wire string. A description is fixed text: it never holds request data.

/// An OAuth error as the endpoints answer it (RFC 6749 §5.2, §4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// "The request is missing a required parameter, includes an unsupported parameter value
    /// (other than grant type), repeats a parameter, ... or is otherwise malformed." §5.2
    InvalidRequest,
    /// "Client authentication failed (e.g., unknown client, no client authentication
    /// included, or unsupported authentication method)." §5.2
    InvalidClient,
    /// "The provided authorization grant ... or refresh token is invalid, expired, revoked,
    /// does not match the redirection URI ..., or was issued to another client." §5.2
    InvalidGrant,
    /// "The authenticated client is not authorized to use this authorization grant type." §5.2
    UnauthorizedClient,
    /// "The authorization grant type is not supported by the authorization server." §5.2
    UnsupportedGrantType,
    /// "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by
    /// the resource owner." §5.2
    InvalidScope,
    /// "The resource owner or authorization server denied the request." §4.1.2.1
    AccessDenied,
    /// "The authorization server does not support obtaining an authorization code using
    /// this method." §4.1.2.1
    UnsupportedResponseType,
    /// "The authorization server encountered an unexpected condition." §4.1.2.1
    ServerError,
    /// "The authorization server is currently unable to handle the request due to a
    /// temporary overloading or maintenance." §4.1.2.1
    TemporarilyUnavailable,
    /// RFC 7591 §3.2.2: "The value of one or more redirection URIs is invalid."
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: "The value of one of the client metadata fields is invalid and the
    /// server has rejected this request."
    InvalidClientMetadata,
    /// OIDC Core §3.1.2.6: "The Authorization Server requires End-User authentication. This
    /// error MAY be returned when the prompt parameter value in the Authentication Request is
    /// none, but the Authentication Request cannot be completed without displaying a user
    /// interface for End-User authentication."
    LoginRequired,
    /// OIDC Core §3.1.2.6: "The Authorization Server requires End-User consent. This error
    /// MAY be returned when the prompt parameter value in the Authentication Request is
    /// none, but the Authentication Request cannot be completed without displaying a user
    /// interface for End-User consent."
    ConsentRequired,
    /// OIDC Core §3.1.2.6: "The OP does not support use of the request parameter".
    RequestNotSupported,
    /// OIDC Core §3.1.2.6: "The OP does not support use of the request_uri parameter".
    RequestUriNotSupported,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

impl OAuthError {
    pub const fn new(code: ErrorCode, description: &'static str) -> Self {
        OAuthError { code, description }
    }

    pub const fn invalid_request(description: &'static str) -> Self {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    pub const fn invalid_client(description: &'static str) -> Self {
        OAuthError::new(ErrorCode::InvalidClient, description)
    }

    pub const fn invalid_grant(description: &'static str) -> Self {
        OAuthError::new(ErrorCode::InvalidGrant, description)
    }

    pub const fn invalid_scope(description: &'static str) -> Self {
        OAuthError::new(ErrorCode::InvalidScope, description)
    }

    pub const fn store_unavailable() -> Self {
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the token store is unavailable; try again shortly",
        )
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

impl From<crate::store::StoreError> for OAuthError {
    fn from(err: crate::store::StoreError) -> Self {
        tracing::error!(error = %err, "token store failure");
        OAuthError::store_unavailable()
    }
}
