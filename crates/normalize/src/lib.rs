//! oktaflow-normalize (being built).
