"""Writes tiny-bert/: a random 2-layer BERT (hidden size 16) saved the ways hub checkpoints are,
so tests can read real PyTorch files without fetching a model:

    tiny-bert/config.json, vocab.txt          (no tokenizer.json: as SciBERT, Bio_ClinicalBERT)
    tiny-bert/model.safetensors               (safetensors' save_file)
    tiny-bert/pytorch_model.bin               (torch.save, zip format, as save_pretrained)
    tiny-bert/legacy/pytorch_model.bin        (torch.save before PyTorch 1.6: the legacy
                                               format, `bert.` prefix and LayerNorm gamma/beta,
                                               as checkpoints converted from TensorFlow are)
    tiny-bert/expected.json                   what transformers makes of them: the ids of
                                               BertTokenizer (slow, from vocab.txt) and of
                                               BertTokenizerFast for a few texts, and the
                                               L2-normalised hidden states of layer 2

    /root/.cache/bertscore-venv/bin/python tests/golden/bertscore/make_tiny_bert.py

Same pinned environment as generate.py (requirements.txt). The weights are random (seed 0):
not a model, only a fixture; together a few tens of kilobytes.
"""

import json
import pathlib

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel, BertTokenizer, BertTokenizerFast

OUT = pathlib.Path(__file__).resolve().parent / "tiny-bert"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "patient", "chest", "pain",
         "fever", "with", "and", "of", "a", "no", "is", "was", "dose", "mg", "##s", "##ed",
         "##ing", "##ly", "on", "for", "blood", "pressure", "high", "low", "heart", "rate",
         ".", ",", "?", "!", "(", ")", "-", "/", "0", "1", "2", "5", "##0", "##5", "take",
         "can", "i", "my", "what", "how", "cough", "##y", "short", "breath", "ness", "##ness",
         "é", "cafe", "##é"]
TEXTS = ["The patient was taking 50 mg of aspirin.", "Chest pains and SHORTNESS of breath?",
         "  fever, cough (high) - no café  ", "What is a low dose for my heart-rate?", "",
         "[SEP] the [MASK] pain"]
LAYER = 2


def main():
    OUT.mkdir(exist_ok=True)
    (OUT / "legacy").mkdir(exist_ok=True)
    (OUT / "vocab.txt").write_text("".join(t + "\n" for t in VOCAB), encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64,
                        type_vocab_size=2)
    model = BertModel(config, add_pooling_layer=False).eval()
    # Random init leaves LayerNorm at 1/0 and biases at 0; perturb them so a swapped name shows.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or name.endswith(".bias"):
                p.add_(0.1 * torch.randn_like(p))
    config.save_pretrained(OUT)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, OUT / "model.safetensors")
    torch.save(state, OUT / "pytorch_model.bin")
    legacy = {}
    for k, v in state.items():
        k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        legacy["bert." + k] = v
    torch.save(legacy, OUT / "legacy" / "pytorch_model.bin", _use_new_zipfile_serialization=False)

    slow = BertTokenizer(str(OUT / "vocab.txt"))
    fast = BertTokenizerFast(str(OUT / "vocab.txt"))
    expected = {"layer": LAYER, "texts": []}
    for text in TEXTS:
        ids = slow.encode(text.strip(), add_special_tokens=True)
        fast_ids = fast.encode(text.strip(), add_special_tokens=True)
        with torch.no_grad():
            out = model(torch.tensor([ids]), output_hidden_states=True)
        states = out.hidden_states[LAYER][0]
        states = states / states.norm(dim=-1, keepdim=True)
        expected["texts"].append({"text": text, "slow_ids": ids, "fast_ids": fast_ids,
                                  "vectors": [round(x, 7) for x in states.flatten().tolist()]})
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(state)} tensors, {len(TEXTS)} texts")


if __name__ == "__main__":
    main()
