"""transformers' MusicGen on the same configuration and step count as `ekphrasis bench compose`.

Random weights from the published musicgen-small config (models/presets/musicgen-small.json),
sampling with top-k 250 and guidance 3, float32 on the CPU. Prints one JSON object with the
decoder steps per second and the peak resident memory. Run by `ekphrasis bench compose
--reference-python PY`; PY needs torch and transformers (see models/fixtures/README.md).
"""

import argparse
import json
import pathlib
import resource
import time

import torch
from transformers import MusicgenConfig, MusicgenForConditionalGeneration


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, required=True, help="decoder steps (new tokens)")
    parser.add_argument("--text-tokens", type=int, default=12)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument(
        "--config",
        default=str(pathlib.Path(__file__).resolve().parents[1] / "presets" / "musicgen-small.json"),
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    config = MusicgenConfig.from_dict(json.loads(pathlib.Path(args.config).read_text()))
    for sub in (config, config.text_encoder, config.audio_encoder, config.decoder):
        sub.dtype = torch.float32
    model = MusicgenForConditionalGeneration(config).eval().to(torch.float32)
    input_ids = torch.tensor([[100 + 37 * i for i in range(args.text_tokens - 1)] + [1]])
    attention_mask = torch.ones_like(input_ids)

    # generate() ends by decoding the audio; time that apart so steps/s counts decoder steps only.
    decode_seconds = [0.0]
    audio_decode = model.audio_encoder.decode

    def timed_decode(*a, **k):
        started = time.perf_counter()
        out = audio_decode(*a, **k)
        decode_seconds[0] += time.perf_counter() - started
        return out

    model.audio_encoder.decode = timed_decode

    def generate(steps: int) -> None:
        with torch.inference_mode():
            model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                do_sample=True,
                top_k=250,
                temperature=1.0,
                guidance_scale=3.0,
                max_new_tokens=steps,
                min_new_tokens=steps,
            )

    generate(4)  # warm-up, as the Rust benchmark does
    decode_seconds[0] = 0.0
    started = time.perf_counter()
    generate(args.steps)
    elapsed = time.perf_counter() - started - decode_seconds[0]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "steps": args.steps,
                "seconds": elapsed,
                "audio_decode_seconds": decode_seconds[0],
                "steps_per_second": args.steps / elapsed,
                "peak_rss_gib": peak_kib / (1024 * 1024),
                "torch_threads": torch.get_num_threads(),
                "transformers": __import__("transformers").__version__,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
