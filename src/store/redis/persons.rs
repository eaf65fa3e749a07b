//! Federated people in Redis: one string per principal (`person:{principal}`, the record as
//! JSON), written whole at each sign-in with a TTL of the record's end plus the margin, so
//! Redis drops it by itself; a read past `expires_at` is absent whatever Redis still holds.

use redis::AsyncCommands;

use super::keys::ttl;
use super::{decode, encode, RedisStore};
use crate::store::{PersonRecord, StoreResult};

impl RedisStore {
    pub(super) async fn write_person(
        &self,
        principal: &str,
        person: &PersonRecord,
    ) -> StoreResult<()> {
        let key = self.keys.person(principal);
        let secs = ttl(person.expires_at, self.now());
        let json = encode(person)?;
        let mut conn = self.conn.clone();
        self.run(conn.set_ex::<_, _, ()>(key, json, secs)).await
    }

    pub(super) async fn read_person(
        &self,
        principal: &str,
        now: u64,
    ) -> StoreResult<Option<PersonRecord>> {
        let mut conn = self.conn.clone();
        let json: Option<Vec<u8>> = self.run(conn.get(self.keys.person(principal))).await?;
        let Some(json) = json else {
            return Ok(None);
        };
        let person: PersonRecord = decode("person", &json)?;
        Ok((person.expires_at > now).then_some(person))
    }
}
