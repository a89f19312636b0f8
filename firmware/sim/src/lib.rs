//! bandx-sim: the BandX band emulated on the host, for the demo and for tests.
//!
//! bandx-core's `Band` runs unchanged on [`SimPlatform`]:
//! - [`flash`]: the band's flash as a file laid out by `firmware/partitions.csv` (bandx-board's layout);
//!   models and the active-slot record survive restarts;
//! - [`bonds`]: the desktops paired with the band (LE Secure Connections with the passkey it shows);
//! - [`wearer`]: a virtual wearer replaying real WISDM wrist recordings by activity, in a [`Style`];
//! - [`SimBand`] / [`SimConnection`]: the radio — exact GATT bytes both ways, MTU, latency, throughput,
//!   injected faults ([`link`]), on a virtual clock for tests or in real time for the app.
pub mod bonds;
pub mod flash;
pub mod link;
pub mod platform;
mod sim;
pub mod wearer;

pub use flash::{FlashError, SimFlash};
pub use link::{DisconnectReason, Faults, LinkEvent, LinkStats, LinkTiming, Notification};
pub use platform::SimPlatform;
pub use sim::{
    Advertisement, Central, MAX_MTU, RealtimeRunner, SIM_FIRMWARE_VERSION, SimBand, SimConfig,
    SimConnection, SimError, SimPairError, TICK, firmware_version_of,
};
pub use wearer::{Activity, Script, ScriptStep, Style, Wearer};
