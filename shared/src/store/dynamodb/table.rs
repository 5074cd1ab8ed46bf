//! The table. `template.yaml`'s `TokenTable` declares it for deployments (and `TokenGlobalTable`, the same table
//! replicated, for the multi-Region option), and is the source: `scripts/create_table.py` reads it to create the
//! tests' table. [`TABLE`] is the same definition for Rust, from which
//! [`DynamoStore::create_table_if_missing`] creates one for the local runner (`--create-table`) and the tests' own
//! tables; a test compares it with the template property by property.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use super::{DynamoStore, classify};
use crate::store::StoreError;

/// The partition key attribute.
pub const PARTITION_KEY: &str = "pk";
/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// A table's definition, in CloudFormation's and DynamoDB's own words.
struct TableDefinition {
    /// `BillingMode`.
    billing_mode: &'static str,
    /// The only key: the hash key's attribute and its type. No sort key, no index.
    hash_key: (&'static str, &'static str),
    /// The TTL attribute.
    ttl_attribute: &'static str,
    /// Point-in-time recovery.
    point_in_time_recovery: bool,
    /// Server-side encryption with a key DynamoDB owns (`SSEEnabled` without a KMS key).
    sse: bool,
}

/// The token table.
const TABLE: TableDefinition = TableDefinition {
    billing_mode: "PAY_PER_REQUEST",
    hash_key: (PARTITION_KEY, "S"),
    ttl_attribute: TTL_ATTRIBUTE,
    point_in_time_recovery: true,
    sse: true,
};

impl DynamoStore {
    /// Creates the table as [`TABLE`] (and so `template.yaml`) defines it: key, billing, encryption, TTL and
    /// point-in-time recovery, the last left off with a warning where the endpoint has no such operation
    /// (DynamoDB Local). Does nothing if the table exists.
    pub async fn create_table_if_missing(&self) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
            ScalarAttributeType, SseSpecification, TimeToLiveSpecification,
        };
        let corrupt = |reason: String| StoreError::Corrupt { key: self.table.clone(), reason };
        let (key, key_type) = TABLE.hash_key;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::from(TABLE.billing_mode))
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key)
                    .attribute_type(ScalarAttributeType::from(key_type))
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .sse_specification(SseSpecification::builder().enabled(TABLE.sse).build())
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
                    .attribute_name(TABLE.ttl_attribute)
                    .build()
                    .map_err(|e| corrupt(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|err| classify(err, &self.table))?;
        if TABLE.point_in_time_recovery {
            let recovery = PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(|e| corrupt(e.to_string()))?;
            let updated = self
                .client
                .update_continuous_backups()
                .table_name(&self.table)
                .point_in_time_recovery_specification(recovery)
                .send()
                .await;
            match updated {
                Ok(_) => {}
                Err(err) if err.code() == Some("UnknownOperationException") => {
                    tracing::warn!(table = %self.table, "the endpoint has no point-in-time recovery; the table has none");
                }
                Err(err) => return Err(classify(err, &self.table)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each top-level property of a CloudFormation `AWS::DynamoDB::Table`, as YAML lines.
    fn cloudformation(table: &TableDefinition) -> Vec<String> {
        let (key, key_type) = table.hash_key;
        vec![
            format!("BillingMode: {}", table.billing_mode),
            format!("AttributeDefinitions:\n  - AttributeName: {key}\n    AttributeType: {key_type}"),
            format!("KeySchema:\n  - AttributeName: {key}\n    KeyType: HASH"),
            format!("TimeToLiveSpecification:\n  AttributeName: {}\n  Enabled: true", table.ttl_attribute),
            format!(
                "PointInTimeRecoverySpecification:\n  PointInTimeRecoveryEnabled: {}",
                table.point_in_time_recovery
            ),
            format!("SSESpecification:\n  SSEEnabled: {}", table.sse),
        ]
    }

    /// The top-level properties of the template's resource `logical_id`, each with its nested lines (indented
    /// from it).
    fn template_properties(logical_id: &str) -> Vec<String> {
        let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
        let lines: Vec<&str> = template.lines().collect();
        let header = format!("  {logical_id}:");
        let table = lines.iter().position(|l| *l == header).unwrap_or_else(|| panic!("{logical_id} in template.yaml"));
        let properties = table + lines[table..].iter().position(|l| *l == "    Properties:").expect("its Properties");
        let mut found: Vec<String> = Vec::new();
        for line in &lines[properties + 1..] {
            let content = line.trim_start();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            match line.len() - content.len() {
                ..=4 => break,
                6 => found.push(content.to_owned()),
                _ => found.last_mut().expect("a property first").push_str(&format!("\n{}", &line[6..])),
            }
        }
        found
    }

    #[test]
    fn the_table_is_the_one_template_yaml_declares() {
        let mut ours = cloudformation(&TABLE);
        let mut template = template_properties("TokenTable");
        ours.sort();
        template.sort();
        assert_eq!(ours, template, "TABLE and template.yaml's TokenTable disagree");
    }

    /// The multi-Region option's `TokenGlobalTable` is the same table, replicated: the same key, billing, TTL and
    /// encryption (`SSEType: KMS` with no key is the AWS managed key, what `SSEEnabled` alone means for a
    /// regional table), point-in-time recovery in every replica, and only the properties replication needs besides.
    #[test]
    fn the_global_table_is_the_same_table_replicated() {
        let mut ours: Vec<String> = cloudformation(&TABLE)
            .into_iter()
            .filter(|p| !p.starts_with("PointInTimeRecoverySpecification:"))
            .map(|p| if p.starts_with("SSESpecification:") { format!("{p}\n  SSEType: KMS") } else { p })
            .collect();
        let mut template = template_properties("TokenGlobalTable");
        let replicas = template.iter().position(|p| p.starts_with("Replicas:")).expect("Replicas");
        let replicas = template.remove(replicas);
        let global_only = ["TableName:", "StreamSpecification:", "MultiRegionConsistency:"];
        template.retain(|p| !global_only.iter().any(|g| p.starts_with(g)));
        ours.sort();
        template.sort();
        assert_eq!(ours, template, "TABLE and template.yaml's TokenGlobalTable disagree");

        let regions = replicas.matches("Region: ").count();
        let recovery = format!("PointInTimeRecoveryEnabled: {}", TABLE.point_in_time_recovery);
        assert_eq!(regions, 3, "the stack's Region and up to two others: {replicas}");
        assert_eq!(replicas.matches(&recovery).count(), regions, "every replica has point-in-time recovery");
        let all = template_properties("TokenGlobalTable").join("\n");
        assert!(all.contains("MultiRegionConsistency: EVENTUAL"), "docs/multi-region.md: eventual consistency only");
        assert!(all.contains("StreamViewType: NEW_AND_OLD_IMAGES"), "replication needs the stream");
    }
}
