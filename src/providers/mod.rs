//! Partner connectors: one module per partner plus the shared HTTP layer.

pub mod elkassa;
pub mod http;
