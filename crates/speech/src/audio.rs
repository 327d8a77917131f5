//! Audio files in, 16 kHz mono samples out: what Whisper listens to.
//!
//! Decoding is symphonia's (WAV, MP3, OGG/Vorbis, FLAC; Opus has no decoder there and is
//! refused by name), downmixing averages the channels, resampling is rubato's FFT resampler.
//! Everything that can be wrong with an upload is a [`SpeechError::BadAudio`] (a 4xx), never a
//! panic: unknown formats, truncated files, no audio track, or more audio than allowed.

use crate::SpeechError;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

/// The sample rate Whisper expects.
pub const SAMPLE_RATE: u32 = 16_000;

fn bad(msg: impl Into<String>) -> SpeechError {
    SpeechError::BadAudio(msg.into())
}

/// Decodes `bytes` (the whole file) to mono samples at 16 kHz. `filename` helps recognise the
/// format by its extension. More than `max_seconds` of audio is refused.
pub fn decode(bytes: Vec<u8>, filename: Option<&str>, max_seconds: u32) -> Result<Vec<f32>, SpeechError> {
    let (mono, rate) = decode_mono(bytes, filename, max_seconds)?;
    resample(&mono, rate)
}

/// Most channels a WAV file may declare (WAVE_FORMAT_EXTENSIBLE names 18 speaker positions).
const MAX_WAV_CHANNELS: u16 = 32;

/// Sample rates accepted, in Hz: telephone audio to studio audio. Outside, resampling costs
/// without bound (fuzzing found a 114-byte WAV declaring 2.1 GHz that took 70 s and 1.6 GB).
pub const RATES: std::ops::RangeInclusive<u32> = 1_000..=384_000;

fn check_rate(rate: u32) -> Result<(), SpeechError> {
    match RATES.contains(&rate) {
        true => Ok(()),
        false => {
            Err(bad(format!("the audio's sample rate {rate} Hz is outside {} to {} Hz", RATES.start(), RATES.end())))
        }
    }
}

/// Checks the `fmt ` chunk of every RIFF/WAVE header in the file before symphonia reads it:
/// symphonia 0.6.1 multiplies the declared channel count without overflow checks (found by
/// fuzzing: a file declaring 32,769 channels panics it in a debug build). Its probe looks for a
/// header past the start of the file too, so every `RIFF....WAVE` is checked.
fn check_wav(bytes: &[u8]) -> Result<(), SpeechError> {
    let mut from = 0;
    while let Some(p) = bytes.get(from..).and_then(|b| b.windows(4).position(|w| w == b"RIFF")) {
        let start = from + p;
        if bytes.get(start + 8..start + 12) == Some(b"WAVE") {
            check_wav_at(&bytes[start..])?;
        }
        from = start + 4;
    }
    Ok(())
}

/// [`check_wav`] for one header at the start of `bytes`.
fn check_wav_at(bytes: &[u8]) -> Result<(), SpeechError> {
    let mut at = 12usize;
    // Chunks: id (4), size (4, little-endian), data (padded to even). A bounded walk.
    for _ in 0..64 {
        let Some(head) = bytes.get(at..at + 8) else { return Ok(()) };
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if &head[..4] == b"fmt " {
            let (Some(c), Some(r)) = (bytes.get(at + 10..at + 12), bytes.get(at + 12..at + 16)) else {
                return Err(bad("the WAV file's fmt chunk is cut short"));
            };
            let channels = u16::from_le_bytes([c[0], c[1]]);
            if !(1..=MAX_WAV_CHANNELS).contains(&channels) {
                return Err(bad(format!("the WAV file declares {channels} channels (at most {MAX_WAV_CHANNELS})")));
            }
            return check_rate(u32::from_le_bytes([r[0], r[1], r[2], r[3]]));
        }
        at = at.saturating_add(8).saturating_add(size).saturating_add(size & 1);
    }
    Ok(())
}

/// Decodes to mono at the file's own rate: (samples, rate).
pub fn decode_mono(bytes: Vec<u8>, filename: Option<&str>, max_seconds: u32) -> Result<(Vec<f32>, u32), SpeechError> {
    check_wav(&bytes)?;
    let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes)), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    if let Some(ext) = filename.and_then(|f| f.rsplit_once('.')).map(|(_, ext)| ext.to_ascii_lowercase()) {
        hint.with_extension(&ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| bad(format!("not a supported audio file (WAV, MP3, OGG/Vorbis or FLAC): {e}")))?;
    let track = format.default_track(TrackType::Audio).ok_or_else(|| bad("the file has no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| bad("the audio track has no codec parameters"))?;
    let mut decoder =
        symphonia::default::get_codecs().make_audio_decoder(params, &AudioDecoderOptions::default()).map_err(|e| {
            bad(format!("unsupported audio codec (Opus is not supported; use WAV, MP3, OGG/Vorbis or FLAC): {e}"))
        })?;

    let mut mono = Vec::<f32>::new();
    let mut rate = 0u32;
    let mut planes: Vec<Vec<f32>> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) | Err(SymError::ResetRequired) => break,
            // The end of a file whose header does not say its length (streamed WAV, as
            // `espeak-ng --stdout` writes), or of one cut short: keep what was decoded.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof && !mono.is_empty() => break,
            Err(SymError::IoError(e)) => return Err(bad(format!("the audio file is truncated or corrupt: {e}"))),
            Err(e) => return Err(bad(format!("the audio file is corrupt: {e}"))),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(b) => b,
            // One damaged packet: skip it, as players do.
            Err(SymError::DecodeError(_)) => continue,
            Err(e) => return Err(bad(format!("the audio file is corrupt: {e}"))),
        };
        let r = buf.spec().rate();
        check_rate(r)?;
        if rate != 0 && r != rate {
            return Err(bad("the audio changes sample rate midway"));
        }
        rate = r;
        buf.copy_to_vecs_planar::<f32>(&mut planes);
        let channels = planes.len().max(1) as f32;
        for i in 0..buf.frames() {
            mono.push(planes.iter().map(|p| p.get(i).copied().unwrap_or(0.0)).sum::<f32>() / channels);
        }
        if mono.len() as u64 > u64::from(max_seconds) * u64::from(rate) {
            return Err(bad(format!("the audio is longer than {max_seconds} seconds")));
        }
    }
    if rate == 0 || mono.is_empty() {
        return Err(bad("the file holds no audio"));
    }
    Ok((mono, rate))
}

/// Resamples mono audio to 16 kHz.
pub fn resample(mono: &[f32], rate: u32) -> Result<Vec<f32>, SpeechError> {
    if rate == SAMPLE_RATE {
        return Ok(mono.to_vec());
    }
    let err = |e: &dyn std::fmt::Display| bad(format!("cannot resample {rate} Hz audio: {e}"));
    let mut rs = Fft::<f32>::new(rate as usize, SAMPLE_RATE as usize, 8192, 1, FixedSync::Both).map_err(|e| err(&e))?;
    let input = InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| err(&e))?;
    let out = rs.process_all(&input, mono.len(), None).map_err(|e| err(&e))?;
    Ok(out.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit PCM WAV file of `samples` at `rate` Hz with `channels` channels.
    pub(crate) fn wav(samples: &[i16], rate: u32, channels: u16) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * 2 * u32::from(channels)).to_le_bytes());
        out.extend_from_slice(&(2 * channels).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    fn tone(rate: u32, seconds: f32) -> Vec<i16> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| ((i as f32 * 440.0 * 2.0 * std::f32::consts::PI / rate as f32).sin() * 10_000.0) as i16)
            .collect()
    }

    #[test]
    fn a_wav_declaring_absurd_channels_or_rates_is_refused_before_the_decoder_sees_it() {
        // The fuzzer's file: 32,769 channels overflowed symphonia's block-align arithmetic.
        let mut w = wav(&[0; 4], 16_000, 1);
        w[22..24].copy_from_slice(&0x8001u16.to_le_bytes());
        let e = decode(w, None, 60).unwrap_err().to_string();
        assert!(e.contains("32769 channels"), "{e}");
        let mut cut = wav(&[0; 4], 16_000, 1);
        cut.truncate(22);
        assert!(decode(cut, None, 60).is_err());
        // Behind other bytes (symphonia's probe finds it there too).
        let mut behind = b"junk".to_vec();
        let mut w = wav(&[0; 4], 16_000, 1);
        w[22..24].copy_from_slice(&0x8001u16.to_le_bytes());
        behind.extend(w);
        assert!(decode(behind, Some("x.wav"), 60).is_err());
        // An absurd sample rate, in the header and behind other bytes.
        let mut fast = wav(&[0; 4], 16_000, 1);
        fast[24..28].copy_from_slice(&0x7df5_ff24u32.to_le_bytes());
        let e = decode(fast.clone(), None, 60).unwrap_err().to_string();
        assert!(e.contains("sample rate"), "{e}");
        let mut behind = b"{\"x\":0}\n".to_vec();
        behind.extend(fast);
        assert!(decode(behind, Some("x.wav"), 60).is_err());
        // Zero channels too; a normal file still decodes.
        let mut zero = wav(&[0; 4], 16_000, 1);
        zero[22..24].copy_from_slice(&0u16.to_le_bytes());
        assert!(decode(zero, None, 60).is_err());
        assert!(decode(wav(&tone(16_000, 0.1), 16_000, 1), None, 60).is_ok());
    }

    #[test]
    fn wav_is_decoded_downmixed_and_resampled() {
        // Stereo at 22.05 kHz: left a tone, right silence, so the mono mix is half the tone.
        let left = tone(22_050, 1.0);
        let stereo: Vec<i16> = left.iter().flat_map(|&s| [s, 0]).collect();
        let (mono, rate) = decode_mono(wav(&stereo, 22_050, 2), Some("x.WAV"), 60).unwrap();
        assert_eq!((mono.len(), rate), (22_050, 22_050));
        let peak = mono.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((peak - 10_000.0 / 32_768.0 / 2.0).abs() < 0.01, "{peak}");
        let out = decode(wav(&stereo, 22_050, 2), None, 60).unwrap();
        assert!((out.len() as i64 - 16_000).abs() <= 1, "{}", out.len());
        // 16 kHz passes through unchanged.
        assert_eq!(decode(wav(&tone(16_000, 0.5), 16_000, 1), None, 60).unwrap().len(), 8_000);
    }

    #[test]
    fn bad_uploads_are_clear_errors() {
        let good = wav(&tone(16_000, 2.0), 16_000, 1);
        for (bytes, want) in [
            (b"this is not audio at all, just text".to_vec(), "not a supported audio file"),
            (Vec::new(), "not a supported audio file"),
            (good[..30].to_vec(), ""),
        ] {
            let e = decode(bytes, Some("a.wav"), 60).unwrap_err();
            assert!(matches!(&e, SpeechError::BadAudio(m) if m.contains(want)), "{e}");
        }
        // Too long.
        let e = decode(good.clone(), None, 1).unwrap_err();
        assert!(e.to_string().contains("longer than 1 seconds"), "{e}");
        // Truncated in the middle of the data: refused or decoded short, never a panic.
        match decode(good[..good.len() / 2 + 1].to_vec(), None, 60) {
            Ok(s) => assert!(s.len() < 32_000),
            Err(e) => assert!(matches!(e, SpeechError::BadAudio(_))),
        }
    }
}
