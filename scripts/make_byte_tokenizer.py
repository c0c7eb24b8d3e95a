"""Write crates/hico-model/tests/fixtures/byte_tokenizer.json: a byte-level BPE with no
merges (ids 0..255 are the bytes, in GPT-2's byte-to-unicode order) plus the Qwen special
tokens, the shape of hico's built-in `byte_level` tokenizer. Release-format test directories
need a tokenizer.json file. Run by hand: /opt/hico-venv/bin/python scripts/make_byte_tokenizer.py
"""
import os

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from tokenizers.pre_tokenizers import ByteLevel

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "hico-model", "tests",
                   "fixtures", "byte_tokenizer.json")

alphabet = ByteLevel.alphabet()  # the 256 byte characters


def byte_char(b):
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    if b in printable:
        return chr(b)
    return chr(256 + sum(1 for x in range(b) if x not in printable))


vocab = {byte_char(b): b for b in range(256)}
assert set(vocab) == set(alphabet)
tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
tok.save(OUT)
print(OUT, tok.get_vocab_size())
