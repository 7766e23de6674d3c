//! oktaflow-sink (being built).
