//! The table, as `template.yaml`'s `TokenTable` declares it: `pk` (a string) the only key, on-demand billing, TTL on
//! `expires_at`. [`super::DynamoStore::create_table_if_missing`] creates it for the local runner and the tests.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use super::{DynamoStore, classify};
use crate::store::StoreError;

/// The partition key attribute.
pub const PARTITION_KEY: &str = "pk";
/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

impl DynamoStore {
    /// Creates the table as `template.yaml` defines it (on-demand, `pk` hash key, TTL on `expires_at`), for
    /// the local runner and the emulator. Does nothing if it exists.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TimeToLiveSpecification,
        };
        let corrupt = |reason: String| StoreError::Corrupt { key: self.table.clone(), reason };
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PARTITION_KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PARTITION_KEY)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(err) if err.code() == Some("ResourceInUseException") => return Ok(()),
            Err(err) => return Err(classify(err, &self.table)),
        }
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|err| classify(err, &self.table))?;
        Ok(())
    }
}
