//! The power of the test flashes ([`Power`]: the log's, the update receiver's and this one share it), and a NOR
//! flash for tests whose power fails in the middle of any erase or program: after `power.left` erases or
//! programs the next one is torn (a program lands only its first `torn_at` bytes, an erase clears only a
//! `torn_at`-dependent prefix of its sector), then nothing works until `reboot`. The power-cut property tests of
//! the active-slot record and of the owner record run on it.
extern crate std;

use std::vec;
use std::vec::Vec;

use crate::owner::OwnerFlash;
use crate::update::{RecordFlash, StorageError};

/// A test flash's power: after `left` erases or programs (none planned: `None`) the next one is torn and the
/// power is gone, so every later operation fails until [`Power::reboot`].
#[derive(Clone, Default)]
pub(crate) struct Power {
    pub left: Option<usize>,
    dead: bool,
}

impl Power {
    /// Counts one erase or program: `Ok(true)` it completes, `Ok(false)` it is torn (the power goes with it),
    /// `Err` the power is already gone.
    pub fn spend(&mut self) -> Result<bool, StorageError> {
        self.check()?;
        match self.left.as_mut() {
            Some(0) => {
                self.dead = true;
                Ok(false)
            }
            Some(left) => {
                *left -= 1;
                Ok(true)
            }
            None => Ok(true),
        }
    }

    /// `Err` once the power is gone (reads fail too).
    pub fn check(&self) -> Result<(), StorageError> {
        if self.dead { Err(StorageError) } else { Ok(()) }
    }

    /// Power is back: operations work again, with no cut planned.
    pub fn reboot(&mut self) {
        *self = Power::default();
    }
}

pub(crate) struct TornNor {
    pub bytes: Vec<u8>,
    pub power: Power,
    pub torn_at: usize,
    sector: u32,
}

impl TornNor {
    /// `len` bytes of `fill` in sectors of `sector` bytes.
    pub fn new(len: u32, sector: u32, fill: u8) -> TornNor {
        TornNor {
            bytes: vec![fill; len as usize],
            power: Power::default(),
            torn_at: 0,
            sector,
        }
    }

    /// Power is back: operations work again, with no cut planned.
    pub fn reboot(&mut self) {
        self.power.reboot();
    }

    pub fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.power.check()?;
        let at = offset as usize;
        buf.copy_from_slice(&self.bytes[at..at + buf.len()]);
        Ok(())
    }

    pub fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        assert_eq!(offset % 4, 0, "programs are word aligned");
        let whole = self.power.spend()?;
        let n = if whole {
            data.len()
        } else {
            self.torn_at.min(data.len())
        };
        let at = offset as usize;
        for (dst, &b) in self.bytes[at..at + n].iter_mut().zip(data) {
            *dst &= b;
        }
        if whole { Ok(()) } else { Err(StorageError) }
    }

    pub fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        assert_eq!(offset % self.sector, 0);
        let whole = self.power.spend()?;
        let n = if whole {
            self.sector as usize
        } else {
            self.torn_at * 256 % self.sector as usize
        };
        let at = offset as usize;
        self.bytes[at..at + n].fill(0xFF);
        if whole { Ok(()) } else { Err(StorageError) }
    }
}

impl RecordFlash for TornNor {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        TornNor::read(self, offset, buf)
    }
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        TornNor::program(self, offset, data)
    }
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        TornNor::erase_sector(self, offset)
    }
}

impl OwnerFlash for TornNor {
    fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        TornNor::read(self, offset, buf)
    }
    fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        TornNor::program(self, offset, data)
    }
    fn erase_sector(&mut self, offset: u32) -> Result<(), StorageError> {
        TornNor::erase_sector(self, offset)
    }
}
