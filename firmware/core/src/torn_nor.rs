//! A NOR flash for tests whose power fails in the middle of any erase or program: after `power_left` erases or
//! programs the next one is torn (a program lands only its first `torn_at` bytes, an erase clears only a
//! `torn_at`-dependent prefix of its sector), then nothing works until `reboot`. The power-cut property tests of
//! the active-slot record and of the owner record run on it.
extern crate std;

use std::vec;
use std::vec::Vec;

use crate::owner::OwnerFlash;
use crate::update::{RecordFlash, StorageError};

pub(crate) struct TornNor {
    pub bytes: Vec<u8>,
    pub power_left: Option<usize>,
    pub torn_at: usize,
    sector: u32,
    dead: bool,
}

impl TornNor {
    /// `len` bytes of `fill` in sectors of `sector` bytes.
    pub fn new(len: u32, sector: u32, fill: u8) -> TornNor {
        TornNor {
            bytes: vec![fill; len as usize],
            power_left: None,
            torn_at: 0,
            sector,
            dead: false,
        }
    }

    /// Power is back: operations work again, with no cut planned.
    pub fn reboot(&mut self) {
        self.dead = false;
        self.power_left = None;
    }

    /// Whether the operation runs whole (`Ok(true)`), torn (`Ok(false)`), or not at all.
    fn spend(&mut self) -> Result<bool, StorageError> {
        if self.dead {
            return Err(StorageError);
        }
        match self.power_left.as_mut() {
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

    pub fn read(&mut self, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        if self.dead {
            return Err(StorageError);
        }
        let at = offset as usize;
        buf.copy_from_slice(&self.bytes[at..at + buf.len()]);
        Ok(())
    }

    pub fn program(&mut self, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        assert_eq!(offset % 4, 0, "programs are word aligned");
        let whole = self.spend()?;
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
        let whole = self.spend()?;
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
