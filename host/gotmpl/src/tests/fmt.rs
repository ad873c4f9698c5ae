//! Tests of the fmt area.
