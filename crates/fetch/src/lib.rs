//! oktaflow-fetch (being built).
