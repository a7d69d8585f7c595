//! Where the streaming decode's time goes, at MusicGen-small's EnCodec size with random weights:
//! each stage of the whole decode, then the stream as the server runs it, in milliseconds per
//! second of audio. Run with
//! `cargo test --release -p ekphrasis-models encodec::speed -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use super::{Config, Decoder};
use crate::encodec_stream::{StreamOptions, StreamingDecoder};
use crate::random_weights::RandomWeights;

#[test]
#[ignore = "a measurement, not a check"]
fn print_where_the_decode_goes() {
    let config = Config::musicgen_small();
    let vb = RandomWeights::new(5).var_builder(DType::F32, &Device::Cpu);
    let decoder = Arc::new(Decoder::new(&config, vb.pp("audio_encoder")).unwrap());
    let (frames, codebooks) = (250usize, config.num_codebooks());
    let codes: Vec<u32> = (0..frames * codebooks)
        .map(|i| ((i * 7919) % config.codebook_size) as u32)
        .collect();
    let seconds = frames as f64 / config.frame_rate() as f64;
    let per_second = |started: Instant| started.elapsed().as_secs_f64() * 1e3 / seconds;
    let grid = Tensor::from_vec(codes.clone(), (1, codebooks, frames), &Device::Cpu).unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let latent = decoder.quantizer_decode(&grid).unwrap();
        let quantizer = per_second(started);
        let started = Instant::now();
        let xs = decoder.seanet().conv_in(&latent).unwrap();
        let conv_in = per_second(started);
        let started = Instant::now();
        let (xs, _) = decoder.seanet().lstm(&xs, None).unwrap();
        let lstm = per_second(started);
        let started = Instant::now();
        decoder.seanet().upsample(&xs).unwrap();
        let upsample = per_second(started);
        println!(
            "whole decode, ms a second of audio: codebooks {quantizer:.1}, first convolution \
             {conv_in:.1}, LSTM {lstm:.1}, upsampling {upsample:.1}"
        );
    }
    let started = Instant::now();
    let mut stream = StreamingDecoder::new(Arc::clone(&decoder), StreamOptions::default());
    for frame in 0..frames {
        let column: Vec<u32> = (0..codebooks).map(|k| codes[k * frames + frame]).collect();
        stream.push(&column).unwrap();
    }
    stream.finish().unwrap();
    println!(
        "the stream (10-frame chunks): {:.1} ms a second of audio",
        per_second(started)
    );
}
