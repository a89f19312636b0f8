//! The update receiver: model blobs into A/B slots and firmware images into a platform sink, with
//! begin / chunks at explicit offsets / status (resume) / verify / commit.
//!
//! A model only becomes active after its SHA-256 matches the announced one, it parses and its self-test
//! reproduces; the switch is the single atomic [`ModelStore::set_active_slot`] write, so a power cut at any
//! instant leaves the previous (or the new) working model. A model is always written to the slot the band is
//! not running from (which may be the fallback slot, not the recorded one). A firmware image is only committed
//! to the sink after [`app_image`] found it bootable on the sink's chip. [`record`] is a power-cut-safe active-slot
//! record on raw NOR flash for boards without an atomic key-value store.

pub mod app_image;
pub mod authorize;
mod receiver;
pub mod record;
pub mod release;
mod store;

pub use app_image::{AppImageChecker, AppImageError, AppImageInfo, Chip, check_app_image};
pub use authorize::{Running, StartLimiter, authorize};
pub use receiver::{ChunkOutcome, Committed, Progress, UpdateReceiver};
pub use record::{RecordFlash, SlotRecord};
pub use store::{FirmwareSink, ModelStore, Slot, StorageError, active_model, blob_len};

#[cfg(test)]
mod tests;
