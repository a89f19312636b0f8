//! How long a model upload takes on the simulated link, per MTU (virtual clock, default timing).
//!
//! `cargo run -p bandx-sim --example upload_report`

use bandx_core::blob::sha256;
use bandx_core::demo::{DEMO_BLOB_CAPACITY, write_demo_model};
use bandx_core::protocol::{
    BULK_HEADER_LEN, BULK_UUID, BulkChunk, CONTROL_UUID, MAX_MESSAGE_LEN, Reassembler, Request,
    RequestBody, ResponseBody, UpdateTarget, decode_response, encode_request, fragments,
};
use bandx_sim::{SimBand, SimConfig, SimConnection};

fn request(
    band: &SimBand,
    conn: &SimConnection,
    rx: &std::sync::mpsc::Receiver<bandx_sim::Notification>,
    body: RequestBody,
) -> ResponseBody {
    let mut buf = [0u8; MAX_MESSAGE_LEN];
    let n = encode_request(&Request { id: 1, body }, &mut buf).unwrap();
    for (h, d) in fragments(&buf[..n], conn.max_write_len()) {
        conn.write(CONTROL_UUID, &[&[h][..], d].concat(), true)
            .unwrap();
    }
    let mut r = Reassembler::new();
    loop {
        while let Ok(n) = rx.try_recv() {
            if let Ok(Some(m)) = r.push(&n.value) {
                return decode_response(m).unwrap().body;
            }
        }
        band.step(1).unwrap();
    }
}

fn main() {
    let mut buf = [0u8; DEMO_BLOB_CAPACITY];
    let len = write_demo_model(&mut buf, 1, 2, 2).unwrap();
    let blob = &buf[..len];
    println!(
        "model blob: {len} bytes; link: {:?}",
        bandx_sim::LinkTiming::TYPICAL
    );
    for mtu in [23u16, 185, 247] {
        let dir = tempfile::tempdir().unwrap();
        let band = SimBand::new(SimConfig::new(dir.path().join("band.flash"), None)).unwrap();
        let conn = band.connect_paired(mtu).unwrap().0;
        conn.subscribe(CONTROL_UUID).unwrap();
        let rx = conn.notifications().unwrap();
        let t0 = band.now();
        request(
            &band,
            &conn,
            &rx,
            RequestBody::BeginUpdate {
                target: UpdateTarget::Model,
                total_len: len as u32,
                sha256: sha256(blob),
                version: 2,
            },
        );
        let chunk = conn.max_write_len() - BULK_HEADER_LEN;
        let mut packet = vec![0u8; conn.max_write_len()];
        for (i, data) in blob.chunks(chunk).enumerate() {
            let n = BulkChunk {
                target: UpdateTarget::Model,
                offset: (i * chunk) as u32,
                data,
            }
            .encode(&mut packet)
            .unwrap();
            conn.write(BULK_UUID, &packet[..n], false).unwrap();
        }
        let done = request(
            &band,
            &conn,
            &rx,
            RequestBody::CommitUpdate {
                target: UpdateTarget::Model,
            },
        );
        let took = band.now() - t0;
        println!(
            "MTU {mtu:>3}: {:>3} chunks, commit {done:?}, {:.2} s simulated, {:.1} kB/s of model",
            len.div_ceil(chunk),
            took.as_secs_f64(),
            len as f64 / took.as_secs_f64() / 1000.0
        );
    }
}
