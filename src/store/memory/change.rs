//! Every change the memory store can make, as one value: applied to the in-memory state and
//! written to the journal as the same thing, so that replaying the journal after a crash
//! rebuilds exactly the state the answers were given from.
//!
//! A change records an outcome, never a request: "this code is now used", not "someone
//! tried this code". Decisions (is the code fresh? is the token still current?) are made once,
//! live, under the store's lock; replay only re-applies their results. Removals that follow
//! from time alone (expiry) are never recorded: every read checks expiry, and start-up and
//! compaction sweep.

use serde::{Deserialize, Serialize};

use crate::config::ClientConfig;
use crate::store::{
    ClientAccess, CodeGrant, IssuedAccess, PersonRecord, RefreshRecord, SealedSuccessor,
    SessionRecord, Subject,
};
use crate::tokens::opaque::TokenHash;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// A code was issued.
    PutCode { code: TokenHash, grant: CodeGrant },
    /// A code was redeemed for the first time.
    UseCode { code: TokenHash },
    /// A refresh family started (or continued) with this current token.
    PutRefresh {
        token: TokenHash,
        record: RefreshRecord,
        access: IssuedAccess,
    },
    /// `old` was rotated at `at` into `token`.
    Rotate {
        old: TokenHash,
        at: u64,
        sealed: SealedSuccessor,
        token: TokenHash,
        record: RefreshRecord,
        access: IssuedAccess,
    },
    /// A family was revoked (logout, reuse, code replay, revocation).
    RevokeFamily { family: String },
    /// One access token was deny-listed until it would have expired.
    RevokeAccess { jti: String, expires_at: u64 },
    /// Everything of a user or client issued before `cutoff` was revoked.
    RevokeSubject { subject: Subject, cutoff: u64 },
    /// A user let a client have these scopes.
    PutConsent {
        user: String,
        client: String,
        scopes: Vec<String>,
    },
    /// A browser session began.
    PutSession {
        id: TokenHash,
        session: SessionRecord,
    },
    /// A session was used at `at` (recorded at most once a minute per session).
    TouchSession { id: TokenHash, at: u64 },
    /// A session ended (logout).
    DeleteSession { id: TokenHash },
    /// A client registered itself (RFC 7591).
    PutClient { client: ClientConfig },
    /// A one-time marker was claimed, until `expires_at`.
    Claim { key: TokenHash, expires_at: u64 },
    /// A person signed in through a provider (journals before it load without any).
    PutPerson {
        principal: String,
        person: PersonRecord,
    },
    /// A user's second factors changed (journals before them load without any).
    Factor(super::factors::FactorChange),
    /// A `client_credentials` access token was issued to `client` at `at`.
    RecordClientAccess {
        client: String,
        access: ClientAccess,
        at: u64,
    },
}
