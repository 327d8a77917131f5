//! Whisper's input: an 80-band log-mel spectrogram of each 30 s window (3000 frames of 10 ms).
//!
//! The same math as OpenAI's `whisper/audio.py`: periodic Hann window of 400 samples, hop 160,
//! reflect padding at the edges, power spectrum, Slaney mel filterbank, log10, clamped to 8
//! (i.e. 80 dB) below the window's maximum, then scaled as `(x + 4) / 4`. Each window is
//! zero-padded to 30 s.

use rustfft::{num_complex::Complex32, FftPlanner};

pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 80;
/// Samples per window: 30 s at 16 kHz.
pub const WINDOW: usize = 480_000;
/// Frames per window.
pub const FRAMES: usize = 3000;

/// The Slaney-style mel filterbank (librosa's default, as Whisper's): `[N_MELS][N_FFT/2 + 1]`.
pub fn filters(sample_rate: f32) -> Vec<Vec<f32>> {
    let n_freq = N_FFT / 2 + 1;
    let (f_sp, min_log_hz) = (200.0f32 / 3.0, 1000.0f32);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f32.ln() / 27.0;
    let hz_to_mel = |f: f32| if f >= min_log_hz { min_log_mel + (f / min_log_hz).ln() / logstep } else { f / f_sp };
    let mel_to_hz = |m: f32| if m >= min_log_mel { min_log_hz * (logstep * (m - min_log_mel)).exp() } else { m * f_sp };
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0));
    let edges: Vec<f32> = (0..N_MELS + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f32 / (N_MELS + 1) as f32)).collect();
    let freqs: Vec<f32> = (0..n_freq).map(|k| k as f32 * sample_rate / N_FFT as f32).collect();
    (0..N_MELS)
        .map(|m| {
            let norm = 2.0 / (edges[m + 2] - edges[m]);
            freqs
                .iter()
                .map(|&f| {
                    let rising = (f - edges[m]) / (edges[m + 1] - edges[m]);
                    let falling = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
                    rising.min(falling).max(0.0) * norm
                })
                .collect()
        })
        .collect()
}

/// Features of 16 kHz mono `samples`: `windows x [N_MELS x FRAMES]`, row-major, and the number
/// of 30 s windows (at least one).
pub fn log_mel(samples: &[f32], filters: &[Vec<f32>]) -> (Vec<f32>, usize) {
    let fft = FftPlanner::<f32>::new().plan_fft_forward(N_FFT);
    let hann: Vec<f32> =
        (0..N_FFT).map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / N_FFT as f32).cos()).collect();
    let windows = samples.len().div_ceil(WINDOW).max(1);
    let mut out = vec![0f32; windows * N_MELS * FRAMES];
    let mut buf = vec![Complex32::new(0.0, 0.0); N_FFT];
    let mut power = vec![0f32; N_FFT / 2 + 1];
    let pad = N_FFT / 2;
    let mut x = vec![0f32; WINDOW];
    let mut padded = Vec::with_capacity(WINDOW + 2 * pad);
    for w in 0..windows {
        x.fill(0.0);
        let src = &samples[(w * WINDOW).min(samples.len())..((w + 1) * WINDOW).min(samples.len())];
        x[..src.len()].copy_from_slice(src);
        padded.clear();
        padded.extend((1..=pad).rev().map(|i| x[i]));
        padded.extend_from_slice(&x);
        padded.extend((WINDOW - 1 - pad..WINDOW - 1).rev().map(|i| x[i]));
        let o = &mut out[w * N_MELS * FRAMES..(w + 1) * N_MELS * FRAMES];
        for t in 0..FRAMES {
            for (k, b) in buf.iter_mut().enumerate() {
                *b = Complex32::new(padded[t * HOP + k] * hann[k], 0.0);
            }
            fft.process(&mut buf);
            for (k, p) in power.iter_mut().enumerate() {
                *p = buf[k].norm_sqr();
            }
            for (m, f) in filters.iter().enumerate() {
                let e: f32 = f.iter().zip(&power).map(|(a, b)| a * b).sum();
                o[m * FRAMES + t] = e.max(1e-10).log10();
            }
        }
        let max = o.iter().copied().fold(f32::MIN, f32::max);
        for v in o.iter_mut() {
            *v = (v.max(max - 8.0) + 4.0) / 4.0;
        }
    }
    (out, windows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filterbank_matches_whisper() {
        let f = filters(16_000.0);
        assert_eq!((f.len(), f[0].len()), (80, 201));
        // The first values of HF's `mel_filters` for whisper-tiny.en.
        assert!((f[0][1] - 0.024_862_595).abs() < 1e-6, "{}", f[0][1]);
        assert!((f[1][1] - 0.001_990_822).abs() < 1e-6, "{}", f[1][1]);
        assert!((f[1][2] - 0.022_871_772).abs() < 1e-6, "{}", f[1][2]);
    }

    #[test]
    fn shape_windows_and_range() {
        let f = filters(16_000.0);
        let tone: Vec<f32> = (0..WINDOW + 16_000).map(|i| (i as f32 * 0.2).sin() * 0.5).collect();
        let (feats, windows) = log_mel(&tone, &f);
        assert_eq!(windows, 2);
        assert_eq!(feats.len(), 2 * N_MELS * FRAMES);
        let max = feats.iter().copied().fold(f32::MIN, f32::max);
        let min = feats.iter().copied().fold(f32::MAX, f32::min);
        assert!(max <= (max.ceil()) && max - min <= 2.0 + 1e-4, "clamped to 8 log units: {min}..{max}");
        let (silence, n) = log_mel(&[], &f);
        assert_eq!(n, 1);
        assert!(silence.iter().all(|v| v.is_finite()));
    }
}
