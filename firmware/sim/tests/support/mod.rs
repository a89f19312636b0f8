//! The desktop's side of the link in tests: bandx-core's protocol encode/decode over a `SimConnection`.
#![allow(dead_code)]

use std::sync::mpsc::Receiver;

use bandx_core::blob::sha256;
use bandx_core::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use bandx_core::frame::Frame;
use bandx_core::protocol::{
    BULK_HEADER_LEN, BULK_UUID, BulkChunk, CONTROL_UUID, Characteristic, IMU_UUID, MAX_MESSAGE_LEN,
    PREDICTIONS_UUID, PredictionEvent, Reassembler, Request, RequestBody, Response, ResponseBody,
    UpdateTarget, decode_response, encode_request, fragments,
};
use bandx_sim::{Notification, SimBand, SimConfig, SimConnection, SimError};

/// A demo model blob (random weights, 7 classes) of this version.
pub fn demo_blob(version: u32) -> Vec<u8> {
    let mut buf = [0u8; DEMO_BLOB_CAPACITY];
    let n = write_demo_model(&mut buf, 0xB00, version, version).unwrap();
    buf[..n].to_vec()
}

/// A well-formed ESP32 app image (the virtual band's chip) of about `data_len` bytes; `seed` varies it.
pub fn esp32_image(data_len: usize, seed: u32) -> Vec<u8> {
    let mut image = vec![0u8; data_len + 256];
    let len = bandx_core::demo::write_demo_app_image(
        &mut image,
        bandx_core::update::Chip::Esp32,
        data_len,
        seed,
    )
    .unwrap();
    image.truncate(len);
    image
}

/// A virtual band on a fresh flash file in `dir`, starting with demo model version 1.
pub fn fresh_band(dir: &std::path::Path) -> SimBand {
    SimBand::new(SimConfig::new(dir.join("band.flash"), Some(demo_blob(1)))).unwrap()
}

/// A connected desktop.
pub struct Desktop {
    pub band: SimBand,
    pub conn: SimConnection,
    pub rx: Receiver<Notification>,
    pub frames: Vec<Frame>,
    pub predictions: Vec<PredictionEvent>,
    control: Reassembler,
    next_id: u16,
}

impl Desktop {
    /// Connects as this test's desktop: paired on its first connection to the band's flash file, with its bond
    /// after that.
    pub fn connect(band: &SimBand, mtu: u16) -> Desktop {
        thread_local! {
            static BONDS: std::cell::RefCell<Vec<(std::path::PathBuf, bandx_sim::Central)>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        let flash = band.flash_path();
        let known = BONDS.with_borrow(|b| b.iter().find(|(f, _)| *f == flash).map(|(_, c)| *c));
        let conn = match known {
            Some(central) => band.connect_as(mtu, central).unwrap(),
            None => {
                let (conn, central) = band.connect_paired(mtu).unwrap();
                BONDS.with_borrow_mut(|b| b.push((flash, central)));
                conn
            }
        };
        for c in [CONTROL_UUID, IMU_UUID, PREDICTIONS_UUID] {
            conn.subscribe(c).unwrap();
        }
        let rx = conn.notifications().unwrap();
        Desktop {
            band: band.clone(),
            conn,
            rx,
            frames: Vec::new(),
            predictions: Vec::new(),
            control: Reassembler::new(),
            next_id: 1,
        }
    }

    /// Files notifications; returns a complete control response if one arrived.
    fn drain(&mut self) -> Option<Response> {
        let mut response = None;
        while let Ok(n) = self.rx.try_recv() {
            match n.characteristic {
                Characteristic::Imu => self.frames.push(Frame::decode(&n.value).unwrap()),
                Characteristic::Predictions => self
                    .predictions
                    .push(PredictionEvent::decode(&n.value).unwrap()),
                Characteristic::Control => {
                    if let Ok(Some(m)) = self.control.push(&n.value) {
                        response = Some(decode_response(m).unwrap());
                    }
                }
                Characteristic::Bulk => panic!("the band notified on bulk"),
            }
        }
        response
    }

    /// Sends a request (fragmented to the MTU, written with response) and steps the virtual clock until
    /// its response arrives.
    pub fn request(&mut self, body: RequestBody) -> Result<ResponseBody, SimError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut buf = [0u8; MAX_MESSAGE_LEN];
        let n = encode_request(&Request { id, body }, &mut buf).unwrap();
        for (header, data) in fragments(&buf[..n], self.conn.max_write_len()) {
            self.conn
                .write(CONTROL_UUID, &[&[header][..], data].concat(), true)?;
        }
        for _ in 0..100 {
            if let Some(r) = self.drain() {
                assert_eq!(r.id, id, "response to another request");
                return Ok(r.body);
            }
            if !self.conn.is_connected() {
                return Err(SimError::NotConnected);
            }
            self.band.step(1).unwrap();
        }
        panic!("no response within 5 s of simulated time");
    }

    /// Steps the band and collects the notifications.
    pub fn run(&mut self, ticks: u32) {
        self.band.step(ticks).unwrap();
        if let Some(r) = self.drain() {
            panic!("unexpected response {r:?}");
        }
    }

    /// Writes `image[from..]` as bulk chunks filling the MTU.
    pub fn send_chunks(&mut self, image: &[u8], from: usize) -> Result<(), SimError> {
        let chunk_len = self.conn.max_write_len() - BULK_HEADER_LEN;
        let mut packet = vec![0u8; self.conn.max_write_len()];
        let mut offset = from;
        for data in image[from..].chunks(chunk_len) {
            let n = BulkChunk {
                target: UpdateTarget::Model,
                offset: offset as u32,
                data,
            }
            .encode(&mut packet)
            .unwrap();
            self.conn.write(BULK_UUID, &packet[..n], false)?;
            offset += data.len();
        }
        Ok(())
    }

    /// BeginUpdate for `image` (a model); returns the band's next offset.
    pub fn begin_model(&mut self, image: &[u8], version: u32) -> Result<u32, SimError> {
        match self.request(RequestBody::BeginUpdate {
            target: UpdateTarget::Model,
            total_len: image.len() as u32,
            sha256: sha256(image),
            version,
        })? {
            ResponseBody::UpdateStatus { next_offset, .. } => Ok(next_offset),
            other => panic!("BeginUpdate answered {other:?}"),
        }
    }

    /// BeginUpdate, every chunk and CommitUpdate for a firmware `image`; returns the commit's answer.
    pub fn upload_firmware(&mut self, image: &[u8]) -> ResponseBody {
        let begin = self
            .request(RequestBody::BeginUpdate {
                target: UpdateTarget::Firmware,
                total_len: image.len() as u32,
                sha256: sha256(image),
                version: 2,
            })
            .unwrap();
        assert!(
            matches!(begin, ResponseBody::UpdateStatus { next_offset: 0, .. }),
            "{begin:?}"
        );
        let chunk_len = self.conn.max_write_len() - BULK_HEADER_LEN;
        let mut packet = vec![0u8; self.conn.max_write_len()];
        for (i, data) in image.chunks(chunk_len).enumerate() {
            let n = BulkChunk {
                target: UpdateTarget::Firmware,
                offset: (i * chunk_len) as u32,
                data,
            }
            .encode(&mut packet)
            .unwrap();
            self.conn.write(BULK_UUID, &packet[..n], false).unwrap();
        }
        self.request(RequestBody::CommitUpdate {
            target: UpdateTarget::Firmware,
        })
        .unwrap()
    }

    pub fn info(&mut self) -> bandx_core::protocol::Info {
        match self.request(RequestBody::GetInfo).unwrap() {
            ResponseBody::Info(info) => info,
            other => panic!("GetInfo answered {other:?}"),
        }
    }
}

/// The active model's version as GetInfo reports it.
pub fn model_version(desktop: &mut Desktop) -> Option<u32> {
    desktop.info().model.map(|m| m.version)
}
