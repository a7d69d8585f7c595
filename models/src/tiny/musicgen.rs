//! The tiny MusicGen: musicgen-small's layout (T5 text encoder, decoder with 4 codebooks,
//! EnCodec 32 kHz) with every size shrunk and a T5 tokenizer from the word list.

use std::path::Path;

use candle_core::Device;
use serde_json::{Value, json};

use super::recorder::RecordingWeights;
use super::{create_dir, parse, tokenizers, write_json, write_weights};
use crate::encodec;
use crate::error::Result;
use crate::musicgen::{self, MusicGen};

/// Writes a tiny MusicGen (T5 encoder, decoder with 4 codebooks, EnCodec 32 kHz) into `dir`.
pub fn write_musicgen(dir: &Path, seed: u64) -> Result<()> {
    let config_json = musicgen_config();
    let config: musicgen::Config = parse(dir, "config.json", &config_json)?;
    let recorder = RecordingWeights::new(seed);
    // The codec's encoder too, so that the tiny model reads music as the published one does.
    encodec::Encoder::new(
        &config.audio_encoder,
        recorder.var_builder().pp("audio_encoder"),
    )?;
    MusicGen::new(config, None, recorder.var_builder(), &Device::Cpu)?;
    create_dir(dir)?;
    write_json(dir, "config.json", &config_json)?;
    write_json(
        dir,
        "generation_config.json",
        &json!({
            "bos_token_id": 64, "decoder_start_token_id": 64, "pad_token_id": 64,
            "do_sample": true, "guidance_scale": 3.0, "max_length": 1500
        }),
    )?;
    write_json(dir, "tokenizer.json", &tokenizers::t5_unigram())?;
    write_weights(dir, &recorder)
}

/// musicgen-small's configuration with every size shrunk: codebooks of 64 codes, the same
/// frame rate and sampling rate (32 kHz, 640 samples a frame).
fn musicgen_config() -> Value {
    json!({
        "architectures": ["MusicgenForConditionalGeneration"],
        "model_type": "musicgen",
        "is_encoder_decoder": true,
        "text_encoder": {
            "model_type": "t5", "vocab_size": tokenizers::t5_vocab_size(), "d_model": 24,
            "d_kv": 8, "d_ff": 64, "num_layers": 2, "num_heads": 4,
            "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
            "layer_norm_epsilon": 1e-6, "feed_forward_proj": "relu", "dense_act_fn": "relu",
            "is_gated_act": false, "pad_token_id": 0, "eos_token_id": 1
        },
        "audio_encoder": {
            "model_type": "encodec", "audio_channels": 1, "sampling_rate": 32000,
            "codebook_size": 64, "codebook_dim": 8, "target_bandwidths": [1.2], "hidden_size": 8, "num_filters": 2,
            "num_residual_layers": 1, "upsampling_ratios": [8, 5, 4, 4], "norm_type": "weight_norm",
            "kernel_size": 7, "last_kernel_size": 7, "residual_kernel_size": 3,
            "dilation_growth_rate": 2, "use_causal_conv": false, "pad_mode": "reflect",
            "compress": 2, "num_lstm_layers": 2, "trim_right_ratio": 1.0,
            "use_conv_shortcut": false, "normalize": false, "chunk_length_s": null, "overlap": null
        },
        "decoder": {
            "model_type": "musicgen_decoder", "vocab_size": 64, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 64, "num_codebooks": 4,
            "max_position_embeddings": 2048, "activation_function": "gelu",
            "scale_embedding": false, "audio_channels": 1, "pad_token_id": 64,
            "bos_token_id": 64, "decoder_start_token_id": 64, "tie_word_embeddings": false
        }
    })
}
