//! bandx-core: everything the BandX band does and everything that crosses the air between band and desktop.
#![no_std]
#![forbid(unsafe_code)]
