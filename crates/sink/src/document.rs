//! The values that cross the sink boundary: documents in, acknowledgements out.

/// One ECS document ready for a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The Okta event `uuid` (= ECS `event.id`): the idempotency key of every sink.
    pub id: String,
    /// The document as compact JSON, without a trailing newline.
    pub json: Vec<u8>,
}

/// A sink's answer to a batch that is now durable.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    /// What the pipeline records in the checkpoint for this sink and hands back to
    /// [`Sink::recover`](crate::Sink::recover) on the next start.
    pub position: serde_json::Value,
    /// Documents the store refused for a reason that will not change on retry
    /// (they belong in the dead-letter file); every other document is durable.
    pub rejected: Vec<Rejected>,
}

impl Ack {
    /// An acknowledgement in which every document of the batch was accepted.
    pub fn accepted(position: serde_json::Value) -> Ack {
        Ack {
            position,
            rejected: Vec::new(),
        }
    }
}

/// A document that a store refused for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The refused document's event id.
    pub id: String,
    /// The store's reason, as it gave it.
    pub reason: String,
}
