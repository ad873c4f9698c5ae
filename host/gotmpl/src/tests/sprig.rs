//! Tests of the sprig area.
