//! [`RedisSettlementStore`]: settlement records in Redis, shared by every instance of a service
//! and every replica of a facilitator (feature `redis`).
//!
//! Each record is one key, `<prefix><payment id>`, holding JSON (`{"state": "claimed"}`,
//! `{"state": "sent", "transaction": …}`, `{"state": "done", "response": {…}}`) and expiring at
//! the payment's own expiry: a claim is one `SET … NX GET EXAT` (Redis 7.0 or newer), atomic
//! across instances and one round trip whether it wins or finds a record; updates
//! are `SET … XX KEEPTTL` (only while the record lives); a release deletes the record unless it
//! is `done` (a script, so an answer recorded is never dropped).
//! Every operation has a timeout; the connection manager reconnects by itself when Redis returns.

use std::fmt;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde_json::json;
use t402_core::error::BoxFuture;
use t402_core::{Claim, PaymentId, SettleResponse, SettlementRecord, SettlementStore, StoreError};

/// The default time allowed for one Redis operation.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// The default key prefix.
pub const DEFAULT_KEY_PREFIX: &str = "t402:settlement:";

/// Deletes a record unless it is `done` (one script: the read and the delete are atomic).
/// Adds one to a counter and sets its expiry when it is created, atomically.
const INCREMENT: &str = r#"
local value = redis.call('INCR', KEYS[1])
if value == 1 then
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
return value
"#;

const RELEASE: &str = r#"
local record = redis.call('GET', KEYS[1])
if record and cjson.decode(record)['state'] ~= 'done' then
    return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// Settlement records in Redis.
#[derive(Clone)]
pub struct RedisSettlementStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    endpoint: String,
}

impl fmt::Debug for RedisSettlementStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettlementStore")
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn failed(err: impl fmt::Display) -> StoreError {
    // Redis URLs may carry a password: messages never quote one.
    let mut message = t402_core::redact::redact_urls(&err.to_string()).into_owned();
    if message.contains("syntax error") {
        message.push_str(" (the settlement store needs Redis 7.0 or newer)");
    }
    StoreError::new(message)
}

fn claimed_json() -> String {
    json!({"state": "claimed"}).to_string()
}

impl RedisSettlementStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS is not built in).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(failed)?;
        let endpoint = {
            let info = client.get_connection_info();
            format!("{}", info.addr())
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(DEFAULT_REDIS_TIMEOUT))
            .set_response_timeout(Some(DEFAULT_REDIS_TIMEOUT))
            .set_number_of_retries(1);
        let connection = tokio::time::timeout(
            DEFAULT_REDIS_TIMEOUT * 2,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| StoreError::new("no answer from Redis"))?
        .map_err(failed)?;
        Ok(Self {
            connection,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            timeout: DEFAULT_REDIS_TIMEOUT,
            endpoint,
        })
    }

    /// Sets the key prefix (default [`DEFAULT_KEY_PREFIX`]).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the time allowed for each operation (default [`DEFAULT_REDIS_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn key(&self, id: &PaymentId) -> String {
        format!("{}{}", self.prefix, id.as_str())
    }

    async fn bounded<T>(
        &self,
        operation: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, operation)
            .await
            .map_err(|_| {
                StoreError::new(format!("Redis did not answer within {:?}", self.timeout))
            })?
            .map_err(failed)
    }

    /// Replaces a live record (`XX KEEPTTL`): nothing when it has expired or was released.
    async fn update(&self, id: &PaymentId, value: String) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let key = self.key(id);
        let options = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::XX)
            .with_expiration(redis::SetExpiry::KEEPTTL);
        self.bounded(async move {
            connection
                .set_options::<_, _, Option<String>>(key, value, options)
                .await
        })
        .await
        .map(|_| ())
    }

    async fn read(&self, id: &PaymentId) -> Result<Option<SettlementRecord>, StoreError> {
        let mut connection = self.connection.clone();
        let key = self.key(id);
        let text: Option<String> = self
            .bounded(async move { connection.get(key).await })
            .await?;
        text.map(|text| parse(&text)).transpose()
    }
}

/// A record from its JSON.
fn parse(text: &str) -> Result<SettlementRecord, StoreError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| StoreError::new(format!("record: {err}")))?;
    match value["state"].as_str() {
        Some("claimed") => Ok(SettlementRecord::Claimed),
        Some("sent") => Ok(SettlementRecord::Sent {
            transaction: value["transaction"].as_str().unwrap_or_default().to_owned(),
        }),
        Some("done") => serde_json::from_value::<SettleResponse>(value["response"].clone())
            .map(|response| SettlementRecord::Done(Box::new(response)))
            .map_err(|err| StoreError::new(format!("record: {err}"))),
        _ => Err(StoreError::new("record: unknown state")),
    }
}

impl SettlementStore for RedisSettlementStore {
    fn claim<'a>(
        &'a self,
        id: &'a PaymentId,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let key = self.key(id);
            // One round trip either way: `SET … NX GET` sets a missing record and answers nil,
            // or leaves an existing one and answers it (Redis 7.0 or newer).
            let options = redis::SetOptions::default()
                .conditional_set(redis::ExistenceCheck::NX)
                .get(true)
                .with_expiration(redis::SetExpiry::EXAT(expires_at));
            let existing: Option<String> = self
                .bounded(async move { connection.set_options(key, claimed_json(), options).await })
                .await?;
            match existing {
                None => Ok(Claim::Claimed),
                Some(text) => parse(&text).map(Claim::Existing),
            }
        })
    }

    fn mark_sent<'a>(
        &'a self,
        id: &'a PaymentId,
        transaction: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.update(
            id,
            json!({"state": "sent", "transaction": transaction}).to_string(),
        ))
    }

    fn complete<'a>(
        &'a self,
        id: &'a PaymentId,
        response: &'a SettleResponse,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.update(
            id,
            json!({"state": "done", "response": response}).to_string(),
        ))
    }

    fn release<'a>(&'a self, id: &'a PaymentId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let key = self.key(id);
            self.bounded(async move {
                redis::Script::new(RELEASE)
                    .key(key)
                    .invoke_async::<i64>(&mut connection)
                    .await
            })
            .await
            .map(|_| ())
        })
    }

    fn get<'a>(
        &'a self,
        id: &'a PaymentId,
    ) -> BoxFuture<'a, Result<Option<SettlementRecord>, StoreError>> {
        Box::pin(self.read(id))
    }

    fn increment<'a>(
        &'a self,
        id: &'a PaymentId,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let key = self.key(id);
            self.bounded(async move {
                redis::Script::new(INCREMENT)
                    .key(key)
                    .arg(expires_at)
                    .invoke_async::<u64>(&mut connection)
                    .await
            })
            .await
        })
    }
}
