//! oktaflow-sim (being built).
