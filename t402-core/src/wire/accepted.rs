//! The `accepted` echo, kept verbatim.

use std::ops::Deref;

use serde::de::DeserializeSeed;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::PaymentRequirements;

/// The requirements a client chose, kept exactly as the JSON it came as (key order, `null`s and
/// unknown fields included) alongside their parsed form.
///
/// Servers in the reference SDK compare `accepted` with their own requirements by deep equality,
/// so a client must echo the offer verbatim; a server or facilitator forwarding a payment must do
/// the same. [`Accepted`] derefs to [`PaymentRequirements`] for reading and writes the original
/// JSON back out.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    requirements: PaymentRequirements,
    raw: Value,
}

impl Accepted {
    /// Keeps `raw` verbatim after checking that it parses as requirements.
    pub fn from_raw(raw: Value) -> Result<Self, serde_json::Error> {
        let requirements = PaymentRequirements::deserialize(&raw)?;
        Ok(Self { requirements, raw })
    }

    /// The JSON form of `requirements`.
    pub fn from_requirements(requirements: PaymentRequirements) -> Self {
        let raw = serde_json::to_value(&requirements)
            .expect("requirements serialize to JSON: every map key is a string");
        Self { requirements, raw }
    }

    /// The parsed requirements.
    pub fn requirements(&self) -> &PaymentRequirements {
        &self.requirements
    }

    /// The JSON as it came.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// The parsed requirements, by value.
    pub fn into_requirements(self) -> PaymentRequirements {
        self.requirements
    }
}

impl Deref for Accepted {
    type Target = PaymentRequirements;
    fn deref(&self) -> &PaymentRequirements {
        &self.requirements
    }
}

impl From<PaymentRequirements> for Accepted {
    fn from(requirements: PaymentRequirements) -> Self {
        Self::from_requirements(requirements)
    }
}

impl Serialize for Accepted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Accepted {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Refusing repeated keys, as the readers of the messages carrying it do.
        let raw = crate::json::StrictValue.deserialize(deserializer)?;
        Self::from_raw(raw).map_err(serde::de::Error::custom)
    }
}
