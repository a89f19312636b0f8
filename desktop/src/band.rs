//! A typed client for one band over any [`Connection`]: control requests and their responses, the
//! IMU frame stream and the prediction stream.
//!
//! Every byte format is bandx-core's (`protocol` for control messages and predictions, `frame` for
//! IMU frames); this module only moves them. Requests are serialized (one at a time on the control
//! characteristic, so their fragments never interleave).
//!
//! Open a stream before starting what feeds it: a stream sees only notifications from its creation
//! on.

use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bandx_core::frame::{Frame, FrameError, LossDetector, SeqEvent};
use bandx_core::protocol::LogChunk;
use bandx_core::protocol::{
    DecodeError, ErrorCode, Info, MAX_MESSAGE_LEN, PredictionEvent, Reassembler, Request,
    RequestBody, Response, ResponseBody, decode_response, encode_request, fragments,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::Mutex;

use crate::link::{Backoff, Characteristic, Connection, Link, LinkError, Notification, reconnect};

/// How long a request waits for its response unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong talking to a band.
#[derive(Debug, thiserror::Error)]
pub enum BandError {
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The band answered with an error.
    #[error("the band refused {request}: {code:?}")]
    Refused {
        request: &'static str,
        code: ErrorCode,
    },
    /// The band speaks another protocol version than this desktop.
    #[error("{}", version_advice(*band))]
    ProtocolVersion { band: u8 },
    /// The band's response could not be decoded.
    #[error("the band's response is malformed: {0}")]
    Malformed(DecodeError),
    /// A response of the wrong kind for the request.
    #[error("the band answered {request} with {response}")]
    Unexpected {
        request: &'static str,
        response: String,
    },
    /// The request did not encode (cannot happen for the fixed-size requests this client sends).
    #[error("cannot encode {request}: {reason}")]
    Encode {
        request: &'static str,
        reason: String,
    },
}

/// A band over a connection.
/// A new client to the band `band_id`, through the link with backoff: the one way calibration, deployment
/// and the live view get the band back after a dropped link.
pub async fn reconnect_client(
    link: &dyn Link,
    band_id: &str,
    backoff: &Backoff,
) -> Result<BandClient, BandError> {
    let conn = reconnect(link, band_id, backoff)
        .await
        .map_err(BandError::Link)?;
    BandClient::new(conn).await
}

/// [`reconnect_client`], given up as soon as `cancel` is set (then `Ok(None)`).
pub async fn reconnect_client_until(
    link: &dyn Link,
    band_id: &str,
    backoff: &Backoff,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Option<BandClient>, BandError> {
    let cancelled = async {
        while !cancel.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        client = reconnect_client(link, band_id, backoff) => {
            tracing::info!(band = %band_id, "reconnected");
            client.map(Some)
        }
        _ = cancelled => Ok(None),
    }
}

pub struct BandClient {
    conn: Box<dyn Connection>,
    next_id: AtomicU16,
    /// Held for a request's whole write-and-wait.
    control: Mutex<()>,
    timeout: Duration,
}

impl BandClient {
    /// Subscribes to the band's control, IMU and prediction notifications.
    pub async fn new(conn: Box<dyn Connection>) -> Result<BandClient, BandError> {
        for c in [
            Characteristic::Control,
            Characteristic::Imu,
            Characteristic::Predictions,
        ] {
            conn.subscribe(c).await?;
        }
        Ok(BandClient {
            conn,
            next_id: AtomicU16::new(1),
            control: Mutex::new(()),
            timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }

    /// How long each request waits for its response.
    pub fn with_timeout(mut self, timeout: Duration) -> BandClient {
        self.timeout = timeout;
        self
    }

    /// The connection underneath (its MTU, state, disconnect).
    pub fn connection(&self) -> &dyn Connection {
        self.conn.as_ref()
    }

    /// Band, firmware and active model.
    pub async fn get_info(&self) -> Result<Info, BandError> {
        match self.request(RequestBody::GetInfo).await? {
            ResponseBody::Info(info) => Ok(info),
            other => Err(unexpected("GetInfo", &other)),
        }
    }

    pub async fn start_imu(&self) -> Result<(), BandError> {
        self.expect_ok(RequestBody::StartImu, "StartImu").await
    }

    pub async fn stop_imu(&self) -> Result<(), BandError> {
        self.expect_ok(RequestBody::StopImu, "StopImu").await
    }

    /// Starts on-device classification (refused with [`ErrorCode::NoModel`] without a model).
    pub async fn start_predictions(&self) -> Result<(), BandError> {
        self.expect_ok(RequestBody::StartPredictions, "StartPredictions")
            .await
    }

    pub async fn stop_predictions(&self) -> Result<(), BandError> {
        self.expect_ok(RequestBody::StopPredictions, "StopPredictions")
            .await
    }

    /// The IMU frames the band notifies from now on.
    pub async fn imu_frames(&self) -> Result<ImuStream, BandError> {
        Ok(ImuStream {
            notifications: self.conn.notifications().await?,
            loss: LossDetector::default(),
            malformed: 0,
        })
    }

    /// The predictions the band notifies from now on.
    pub async fn predictions(&self) -> Result<PredictionStream, BandError> {
        Ok(PredictionStream {
            notifications: self.conn.notifications().await?,
            malformed: 0,
        })
    }

    /// Sends one request and waits for its response body (an `Error` body is returned as is).
    pub async fn request(&self, body: RequestBody) -> Result<ResponseBody, BandError> {
        let name = body.name();
        let _turn = self.control.lock().await;
        let id = self.next_request_id();
        let mut message = [0u8; MAX_MESSAGE_LEN];
        let len =
            encode_request(&Request { id, body }, &mut message).map_err(|e| BandError::Encode {
                request: name,
                reason: e.to_string(),
            })?;

        // Listen before writing: the response may come back before the last write returns.
        let mut notifications = self.conn.notifications().await?;
        let mut packet = Vec::with_capacity(self.conn.max_write_len());
        for (header, data) in fragments(&message[..len], self.conn.max_write_len()) {
            packet.clear();
            packet.push(header);
            packet.extend_from_slice(data);
            self.conn.write(Characteristic::Control, &packet).await?;
        }

        let wait = response_to(id, &mut notifications);
        match tokio::time::timeout(self.timeout, wait).await {
            Ok(response) => response,
            Err(_) => Err(LinkError::Timeout {
                operation: name,
                after: self.timeout,
            }
            .into()),
        }
    }

    /// Sets the band's wall clock (it stamps the activity log with it).
    pub async fn set_time(&self, unix_ms: u64) -> Result<(), BandError> {
        self.expect_ok(RequestBody::SetTime { unix_ms }, "SetTime")
            .await
    }

    /// Activity log records after `after_seq` (at most `max`, and what fits one message). A band without
    /// the log answers [`ErrorCode::UnknownRequest`] (older firmware) or [`ErrorCode::NoLog`].
    pub async fn read_log(&self, after_seq: u32, max: u8) -> Result<LogChunk, BandError> {
        match self
            .request(RequestBody::ReadLog { after_seq, max })
            .await?
        {
            ResponseBody::Log(chunk) => Ok(chunk),
            ResponseBody::Error(code) => Err(BandError::Refused {
                request: "ReadLog",
                code,
            }),
            other => Err(unexpected("ReadLog", &other)),
        }
    }

    async fn expect_ok(&self, body: RequestBody, name: &'static str) -> Result<(), BandError> {
        match self.request(body).await? {
            ResponseBody::Ok => Ok(()),
            ResponseBody::Error(code) => Err(BandError::Refused {
                request: name,
                code,
            }),
            other => Err(unexpected(name, &other)),
        }
    }

    /// Ids wrap around and skip 0, which the band uses for messages it could not read an id from.
    fn next_request_id(&self) -> u16 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 {
                return id;
            }
        }
    }
}

/// Reassembles control notifications until the response to request `id` arrives.
async fn response_to(
    id: u16,
    notifications: &mut BoxStream<'static, Notification>,
) -> Result<ResponseBody, BandError> {
    let mut reassembler = Reassembler::new();
    while let Some(n) = notifications.next().await {
        if n.characteristic != Characteristic::Control {
            continue;
        }
        let message = match reassembler.push(&n.value) {
            Ok(Some(message)) => message,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("dropped a control fragment: {e:?}");
                continue;
            }
        };
        match decode_response(message) {
            Ok(Response { id: got, body }) if got == id => return Ok(body),
            // The band could not read our id (e.g. a protocol version it does not speak).
            Ok(Response {
                id: 0,
                body: body @ ResponseBody::Error(_),
            }) => return Ok(body),
            Ok(other) => tracing::debug!("ignored the response to request {}", other.id),
            // Another protocol version: no id to match, and waiting longer will not help.
            Err(DecodeError {
                code: ErrorCode::UnsupportedVersion { supported },
                ..
            }) => return Err(BandError::ProtocolVersion { band: supported }),
            Err(e) if e.id == id => return Err(BandError::Malformed(e)),
            Err(e) => tracing::debug!("ignored an undecodable response: {e}"),
        }
    }
    Err(LinkError::ConnectionLost.into())
}

/// What to do when the band speaks protocol version `band`.
fn version_advice(band: u8) -> String {
    let ours = bandx_core::protocol::PROTOCOL_VERSION;
    if band < ours {
        format!(
            "the band's firmware speaks protocol version {band}, older than this BandX Studio's {ours}: update the \
             band's firmware over USB (`bandx deploy --usb --firmware FILE`, or USB on the Flash screen)"
        )
    } else {
        format!(
            "the band speaks protocol version {band}, newer than this BandX Studio's {ours}: update BandX Studio"
        )
    }
}

fn unexpected(request: &'static str, response: &ResponseBody) -> BandError {
    BandError::Unexpected {
        request,
        response: format!("{response:?}"),
    }
}

/// One IMU frame as received, with how many frames were lost just before it.
#[derive(Clone, Debug, PartialEq)]
pub struct ImuFrame {
    pub frame: Frame,
    /// Frames missing between the previous received frame and this one.
    pub lost_before: u16,
}

impl ImuFrame {
    /// The samples in SI units (m/s², rad/s), each with its band-clock time in ms.
    pub fn si_samples(&self, sample_rate_hz: u8) -> Vec<(u32, [f32; 6])> {
        let period_ms = 1000 / u32::from(sample_rate_hz.max(1));
        self.frame
            .samples
            .iter()
            .enumerate()
            .map(|(k, raw)| {
                let t = self.frame.timestamp_ms.wrapping_add(k as u32 * period_ms);
                (t, self.frame.full_scale.to_si(raw))
            })
            .collect()
    }
}

/// The band's IMU frames, in order, with stale (old or repeated) frames dropped.
pub struct ImuStream {
    notifications: BoxStream<'static, Notification>,
    loss: LossDetector,
    malformed: u64,
}

impl ImuStream {
    /// The next frame; `None` when the connection is over.
    pub async fn next(&mut self) -> Option<ImuFrame> {
        while let Some(n) = self.notifications.next().await {
            if n.characteristic != Characteristic::Imu {
                continue;
            }
            let frame = match Frame::decode(&n.value) {
                Ok(frame) => frame,
                Err(e) => {
                    self.count_malformed(e);
                    continue;
                }
            };
            match self.loss.accept(frame.seq) {
                SeqEvent::InOrder => {
                    return Some(ImuFrame {
                        frame,
                        lost_before: 0,
                    });
                }
                SeqEvent::Gap { lost } => {
                    return Some(ImuFrame {
                        frame,
                        lost_before: lost,
                    });
                }
                SeqEvent::Stale => continue,
            }
        }
        None
    }

    /// Frames lost so far (gaps in the sequence numbers).
    pub fn lost(&self) -> u64 {
        self.loss.lost
    }

    /// Notifications that were not valid frames (skipped).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    fn count_malformed(&mut self, e: FrameError) {
        self.malformed += 1;
        tracing::warn!("skipped a malformed IMU frame: {e}");
    }
}

/// The band's prediction events, in order.
pub struct PredictionStream {
    notifications: BoxStream<'static, Notification>,
    malformed: u64,
}

impl PredictionStream {
    /// The next prediction; `None` when the connection is over.
    pub async fn next(&mut self) -> Option<PredictionEvent> {
        while let Some(n) = self.notifications.next().await {
            if n.characteristic != Characteristic::Predictions {
                continue;
            }
            match PredictionEvent::decode(&n.value) {
                Ok(event) => return Some(event),
                Err(e) => {
                    self.malformed += 1;
                    tracing::warn!("skipped a malformed prediction: {e}");
                }
            }
        }
        None
    }

    /// Notifications that were not valid prediction events (skipped).
    pub fn malformed(&self) -> u64 {
        self.malformed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use futures::StreamExt;
    use futures::stream::BoxStream;
    use tokio::sync::{broadcast, watch};

    use super::*;
    use crate::link::{Characteristic, ConnectionState, Notification};

    /// A band whose firmware speaks protocol version 1: it answers every control message, as a version-1 band
    /// does to a version it does not speak, with `Error(UnsupportedVersion { supported: 1 })` in version 1.
    struct VersionOneBand {
        to_desktop: broadcast::Sender<Notification>,
        state: watch::Sender<ConnectionState>,
        writes: Mutex<u32>,
    }

    #[async_trait]
    impl Connection for VersionOneBand {
        fn id(&self) -> &str {
            "old-band"
        }
        fn mtu(&self) -> u16 {
            247
        }
        async fn subscribe(&self, _: Characteristic) -> Result<(), LinkError> {
            Ok(())
        }
        async fn notifications(&self) -> Result<BoxStream<'static, Notification>, LinkError> {
            let rx = self.to_desktop.subscribe();
            Ok(futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.ok().map(|n| (n, rx))
            })
            .boxed())
        }
        async fn write(&self, characteristic: Characteristic, _: &[u8]) -> Result<(), LinkError> {
            *self.writes.lock().unwrap() += 1;
            if characteristic == Characteristic::Control {
                // Fragment header (index 0, last), version 1, id 0, Error, UnsupportedVersion, supported 1.
                let value = vec![0x80, 1, 0, 3, 2, 1];
                let _ = self.to_desktop.send(Notification {
                    characteristic,
                    value,
                });
            }
            Ok(())
        }
        async fn write_without_response(
            &self,
            _: Characteristic,
            _: &[u8],
        ) -> Result<(), LinkError> {
            Ok(())
        }
        async fn disconnect(&self) -> Result<(), LinkError> {
            Ok(())
        }
        fn state(&self) -> watch::Receiver<ConnectionState> {
            self.state.subscribe()
        }
    }

    #[tokio::test]
    async fn a_band_speaking_version_1_is_told_to_update_its_firmware_over_usb() {
        let (to_desktop, _) = broadcast::channel(16);
        let (state, _) = watch::channel(ConnectionState::Connected);
        let band = VersionOneBand {
            to_desktop,
            state,
            writes: Mutex::new(0),
        };
        let client = BandClient::new(Box::new(band))
            .await
            .unwrap()
            .with_timeout(Duration::from_secs(20));
        let error = client.get_info().await.unwrap_err();
        assert!(
            matches!(error, BandError::ProtocolVersion { band: 1 }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains("update the band's firmware over USB"),
            "{text}"
        );
        assert!(version_advice(9).contains("update BandX Studio"));
    }
}
