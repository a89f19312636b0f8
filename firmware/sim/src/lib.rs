//! bandx-sim: the band emulated on the host, for the demo and for tests.
pub mod partitions;
