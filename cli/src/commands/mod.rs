//! The `tessera` commands, one module per family: its arguments and the steps it runs.

pub mod clients;
pub mod revoke;
pub mod tenants;
