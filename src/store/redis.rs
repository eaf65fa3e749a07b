//! The Redis backend: several gateways share one Redis (not built yet).

use async_trait::async_trait;

use super::{
    CodeGrant, CodeTake, GrantFilter, GrantSummary, IssuedAccess, NextRefresh, RefreshLookup,
    RefreshRecord, Rotation, SessionRecord, Store, StoreError, StoreResult, StoreStats, Subject,
};
use crate::config::ClientConfig;
use crate::tokens::opaque::TokenHash;

/// Placeholder until the Redis backend lands.
pub struct RedisStore;

impl RedisStore {
    pub async fn connect(_url: &str, _prefix: &str, _fail_open: bool) -> StoreResult<RedisStore> {
        Err(StoreError("the redis backend is not built yet".to_owned()))
    }
}

fn missing<T>() -> StoreResult<T> {
    Err(StoreError("the redis backend is not built yet".to_owned()))
}

#[async_trait]
impl Store for RedisStore {
    async fn put_code(&self, _: TokenHash, _: CodeGrant) -> StoreResult<()> {
        missing()
    }
    async fn take_code(&self, _: &TokenHash, _: u64) -> StoreResult<CodeTake> {
        missing()
    }
    async fn put_refresh(
        &self,
        _: TokenHash,
        _: RefreshRecord,
        _: IssuedAccess,
    ) -> StoreResult<()> {
        missing()
    }
    async fn get_refresh(&self, _: &TokenHash, _: u64) -> StoreResult<Option<RefreshLookup>> {
        missing()
    }
    async fn rotate_refresh(
        &self,
        _: &TokenHash,
        _: NextRefresh,
        _: u64,
        _: u64,
    ) -> StoreResult<Rotation> {
        missing()
    }
    async fn revoke_family(&self, _: &str, _: u64) -> StoreResult<()> {
        missing()
    }
    async fn revoke_access(&self, _: &str, _: u64) -> StoreResult<()> {
        missing()
    }
    async fn is_access_revoked(&self, _: &str) -> StoreResult<bool> {
        missing()
    }
    async fn revoke_subject(&self, _: Subject, _: u64, _: u64) -> StoreResult<()> {
        missing()
    }
    async fn cutoff(&self, _: &Subject) -> StoreResult<Option<u64>> {
        missing()
    }
    async fn put_consent(&self, _: &str, _: &str, _: &[String]) -> StoreResult<()> {
        missing()
    }
    async fn consent(&self, _: &str, _: &str) -> StoreResult<Vec<String>> {
        missing()
    }
    async fn put_session(&self, _: TokenHash, _: SessionRecord) -> StoreResult<()> {
        missing()
    }
    async fn touch_session(
        &self,
        _: &TokenHash,
        _: u64,
        _: u64,
        _: u64,
    ) -> StoreResult<Option<SessionRecord>> {
        missing()
    }
    async fn delete_session(&self, _: &TokenHash) -> StoreResult<()> {
        missing()
    }
    async fn put_client(&self, _: ClientConfig, _: usize) -> StoreResult<bool> {
        missing()
    }
    async fn get_client(&self, _: &str) -> StoreResult<Option<ClientConfig>> {
        missing()
    }
    async fn list_grants(
        &self,
        _: &GrantFilter,
        _: u64,
        _: usize,
    ) -> StoreResult<Vec<GrantSummary>> {
        missing()
    }
    async fn stats(&self) -> StoreResult<StoreStats> {
        missing()
    }
    async fn sweep(&self, _: u64, _: u64, _: u64) -> StoreResult<()> {
        missing()
    }
}
