//! Settlement-record stores beyond the in-memory default
//! ([`t402_core::MemorySettlementStore`]): Redis (feature `redis`), shared by every instance of a
//! service and every replica of a facilitator.

#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_KEY_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisSettlementStore};
