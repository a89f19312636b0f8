//! bandx-model: wrist IMU recordings in, the int8 blob the band runs out.
