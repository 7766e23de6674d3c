//! Test support code shared by integration tests.
#![allow(dead_code)]

pub mod mmdb;
pub mod seeds;
pub mod types;
