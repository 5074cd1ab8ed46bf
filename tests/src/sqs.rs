//! An SQS queue on the emulator, reached with plain JSON-protocol requests: where the EventBridge adapter's test
//! routes its events to read them back. Only what that test needs (create, its ARN, receive); the emulator checks
//! no signature, so a request names its service in a placeholder SigV4 `Authorization` header, as moto expects.

use serde_json::{Value, json};

/// A queue on the emulator at `endpoint`.
pub struct Queue {
    endpoint: String,
    url: String,
    arn: String,
    http: reqwest::Client,
}

async fn call(http: &reqwest::Client, endpoint: &str, action: &str, body: Value) -> Value {
    let reply = http
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("SQS {action}: {e}"));
    let status = reply.status();
    let text = reply.text().await.unwrap_or_default();
    assert!(status.is_success(), "SQS {action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("SQS {action}: {e}: {text}"))
}

impl Queue {
    /// Creates the queue `name` (or finds it).
    pub async fn create(endpoint: &str, name: &str) -> Self {
        let http = reqwest::Client::new();
        let created = call(&http, endpoint, "CreateQueue", json!({"QueueName": name})).await;
        let url = created["QueueUrl"].as_str().expect("QueueUrl").to_owned();
        let attributes =
            call(&http, endpoint, "GetQueueAttributes", json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]})).await;
        let arn = attributes["Attributes"]["QueueArn"].as_str().expect("QueueArn").to_owned();
        Self { endpoint: endpoint.to_owned(), url, arn, http }
    }

    /// The queue's ARN, for a rule's target.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The bodies of the messages waiting (up to 10), each parsed as JSON.
    pub async fn receive(&self) -> Vec<Value> {
        let body = json!({"QueueUrl": self.url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0});
        let received = call(&self.http, &self.endpoint, "ReceiveMessage", body).await;
        let messages = received["Messages"].as_array().cloned().unwrap_or_default();
        messages
            .iter()
            .map(|m| serde_json::from_str(m["Body"].as_str().expect("a Body")).expect("a JSON body"))
            .collect()
    }
}
