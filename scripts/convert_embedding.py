#!/usr/bin/env python3
"""Converts a sentence-transformers BERT model (safetensors + tokenizer.json) to a GGUF file the
embedded engine serves for `/v1/embeddings`.

    python3 scripts/convert_embedding.py MODEL_DIR OUT.gguf

Written with llama.cpp's own `gguf` package (its tensor-name map, its writer), for the one
architecture we ship (BertModel with mean or CLS pooling: all-MiniLM-L6-v2), and producing the
metadata llama.cpp's `convert_hf_to_gguf.py` writes for it: the same vocabulary spelling
(WordPiece continuations lose `##`, other tokens gain U+2581, special tokens stay as they are),
the pooling type from `1_Pooling/config.json`, non-causal attention, weight matrices in F16 and
vectors and the token-type and position tables in F32. llama.cpp's converter needs PyTorch; this needs only numpy, safetensors and gguf.
The output is a function of the input alone (no timestamps), so its SHA-256 can be pinned.
"""
import json
import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file

# Tensors of a BertModel checkpoint that the embedding graph does not use.
SKIPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")


def pooling_type(model_dir: Path) -> "gguf.PoolingType":
    cfg = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if cfg.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if cfg.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    raise SystemExit("convert: only mean and CLS pooling are supported")


def vocabulary(model_dir: Path) -> tuple[list[str], list[int]]:
    tok = json.loads((model_dir / "tokenizer.json").read_text())
    if tok["model"]["type"] != "WordPiece":
        raise SystemExit(f"convert: expected a WordPiece tokenizer, found {tok['model']['type']}")
    vocab = tok["model"]["vocab"]
    special = {t["content"] for t in tok.get("added_tokens", []) if t.get("special")}
    tokens = [""] * len(vocab)
    for text, i in vocab.items():
        tokens[i] = text
    types, spelled = [], []
    for text in tokens:
        if text in special:
            types.append(gguf.TokenType.CONTROL)
            spelled.append(text)
        else:
            types.append(gguf.TokenType.NORMAL)
            spelled.append(text[2:] if text.startswith("##") else "\u2581" + text)
    return spelled, types


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    model_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    hp = json.loads((model_dir / "config.json").read_text())
    if hp.get("architectures") != ["BertModel"]:
        raise SystemExit(f"convert: expected a BertModel, found {hp.get('architectures')}")
    arch = gguf.MODEL_ARCH.BERT
    blocks = hp["num_hidden_layers"]
    writer = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[arch])

    writer.add_name(model_dir.name)
    writer.add_context_length(hp["max_position_embeddings"])
    writer.add_embedding_length(hp["hidden_size"])
    writer.add_feed_forward_length(hp["intermediate_size"])
    writer.add_block_count(blocks)
    writer.add_head_count(hp["num_attention_heads"])
    writer.add_layer_norm_eps(hp["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(pooling_type(model_dir))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    tokens, types = vocabulary(model_dir)
    writer.add_token_type_count(hp.get("type_vocab_size", 1))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer)

    names = gguf.get_tensor_name_map(arch, blocks)
    weights = load_file(str(model_dir / "model.safetensors"))
    for name in sorted(weights):
        hf = name.removeprefix("bert.")
        if hf in SKIPPED:
            continue
        new = names.get_name(hf, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"convert: no GGUF name for tensor {name}")
        data = weights[name].astype(np.float32)
        # llama.cpp adds the token-type row to F32 activations directly: it must stay F32.
        half = data.ndim >= 2 and not new.startswith(("token_types", "position_embd"))
        writer.add_tensor(new, data.astype(np.float16) if half else data)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"convert: wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
