from transformers import AutoTokenizer

from priorlab.tokenizer import build_tokenizer, prompt_text


def test_round_trip_and_transformers_load(world, tmp_path):
    tok = build_tokenizer(world.vocabulary())
    for fmt in world.formats:
        for ctx in world.contexts:
            p = world.problem("rl", 1, 4, ctx)
            text = prompt_text(p.prompt) + " " + world.render_solution(p, fmt, 0.3) + " <eos>"
            ids = tok(text, add_special_tokens=False)["input_ids"]
            assert tok.unk_token_id not in ids
            assert tok.decode(ids) == text
    tok.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").exists()
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text, add_special_tokens=False)["input_ids"] == ids
    assert again.eos_token == "<eos>" and again.pad_token == "<pad>"
    assert tok("zebra", add_special_tokens=False)["input_ids"] == [tok.unk_token_id]
