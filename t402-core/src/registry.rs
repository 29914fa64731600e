//! A registry of mechanisms keyed by (protocol version, scheme, network pattern).

use std::fmt;
use std::sync::Arc;

use crate::network::{Network, NetworkPattern};

/// One registration.
pub struct Registration<M: ?Sized> {
    /// Protocol version (1 or 2).
    pub version: u32,
    /// Scheme name.
    pub scheme: String,
    /// The networks it serves.
    pub pattern: NetworkPattern,
    /// The mechanism.
    pub mechanism: Arc<M>,
}

impl<M: ?Sized> Clone for Registration<M> {
    fn clone(&self) -> Self {
        Self {
            version: self.version,
            scheme: self.scheme.clone(),
            pattern: self.pattern.clone(),
            mechanism: Arc::clone(&self.mechanism),
        }
    }
}

impl<M: ?Sized> fmt::Debug for Registration<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("version", &self.version)
            .field("scheme", &self.scheme)
            .field("pattern", &self.pattern)
            .finish_non_exhaustive()
    }
}

/// Mechanisms keyed by (protocol version, scheme, network pattern). Look-ups return the first
/// registration that matches, so earlier registrations take precedence; registering the same
/// (version, scheme, pattern) twice keeps the first.
///
/// ```
/// use std::sync::Arc;
/// use t402_core::{MechanismRegistry, Network, NetworkPattern};
///
/// let mut registry: MechanismRegistry<str> = MechanismRegistry::new();
/// registry.register(2, "exact", "eip155:*".parse()?, Arc::from("evm"));
/// assert_eq!(registry.find(2, "exact", &Network::eip155(8453)).as_deref(), Some("evm"));
/// assert!(registry.find(1, "exact", &Network::eip155(8453)).is_none());
/// # Ok::<(), t402_core::NetworkError>(())
/// ```
pub struct MechanismRegistry<M: ?Sized> {
    entries: Vec<Registration<M>>,
}

impl<M: ?Sized> Default for MechanismRegistry<M> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<M: ?Sized> Clone for MechanismRegistry<M> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
        }
    }
}

impl<M: ?Sized> fmt::Debug for MechanismRegistry<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.entries).finish()
    }
}

impl<M: ?Sized> MechanismRegistry<M> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `mechanism` for (version, scheme, pattern). Returns `false` (and keeps the
    /// earlier one) when that exact key is already registered.
    pub fn register(
        &mut self,
        version: u32,
        scheme: impl Into<String>,
        pattern: NetworkPattern,
        mechanism: Arc<M>,
    ) -> bool {
        let scheme = scheme.into();
        let taken = self
            .entries
            .iter()
            .any(|e| e.version == version && e.scheme == scheme && e.pattern == pattern);
        if !taken {
            self.entries.push(Registration {
                version,
                scheme,
                pattern,
                mechanism,
            });
        }
        !taken
    }

    /// The first mechanism registered for (version, scheme) whose pattern matches `network`.
    pub fn find(&self, version: u32, scheme: &str, network: &Network) -> Option<Arc<M>> {
        self.entries
            .iter()
            .find(|e| e.version == version && e.scheme == scheme && e.pattern.matches(network))
            .map(|e| Arc::clone(&e.mechanism))
    }

    /// Whether a mechanism is registered for (version, scheme, network).
    pub fn supports(&self, version: u32, scheme: &str, network: &Network) -> bool {
        self.find(version, scheme, network).is_some()
    }

    /// Every registration, in order.
    pub fn registrations(&self) -> &[Registration<M>] {
        &self.entries
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_registration_wins() {
        let mut registry: MechanismRegistry<str> = MechanismRegistry::new();
        assert!(registry.register(
            2,
            "exact",
            NetworkPattern::Exact(Network::eip155(1)),
            Arc::from("one")
        ));
        assert!(registry.register(
            2,
            "exact",
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::from("any")
        ));
        assert!(!registry.register(
            2,
            "exact",
            NetworkPattern::parse("eip155:*").unwrap(),
            Arc::from("dup")
        ));
        assert_eq!(
            registry.find(2, "exact", &Network::eip155(1)).as_deref(),
            Some("one")
        );
        assert_eq!(
            registry.find(2, "exact", &Network::eip155(5)).as_deref(),
            Some("any")
        );
        assert!(registry.find(2, "upto", &Network::eip155(5)).is_none());
        assert_eq!(registry.registrations().len(), 2);
        assert!(registry.supports(2, "exact", &Network::eip155(10)));
    }
}
