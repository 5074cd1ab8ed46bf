//! The `tessera` commands, one module per family, each its clap arguments and a `run` that carries out its
//! steps (cargo-lambda's layout); `main` only dispatches. The options several families share are in [`table`]
//! (where the DynamoDB table is) and [`keys::KeyDocument`] (where the signing-key document is).

pub mod clients;
pub mod events;
pub mod issuers;
pub mod keys;
pub mod revoke;
pub mod serve;
pub mod table;
pub mod tenants;
pub mod tokens;
pub mod transmitters;

use crate::error::CliError;

/// Prints `value` as one line of JSON.
fn print_json_line<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}
