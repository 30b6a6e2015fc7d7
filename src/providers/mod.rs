//! Partner connectors: one module per partner plus the shared HTTP layer.

pub mod answer;
pub mod elkassa;
pub mod http;
pub mod mcp;
pub mod middleware;
pub mod qm;
