"""keep_checkpoints: the last K periodic checkpoints stay on disk, older ones go as new ones are saved,
the final adapter always stays, and each removal is logged."""

from execution_helpers import CHATS, sft_spec, train_in_process, write_jsonl

from droidft_server.domain.checkpoints import ADAPTER_FILE, CHECKPOINT_DIR


def test_only_the_last_k_checkpoints_stay_and_each_removal_is_logged(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", CHATS)
    spec = sft_spec(tiny_model, data, iterations=10, checkpoint_every=2, keep_checkpoints=2)
    run = train_in_process(spec, tmp_path / "out")
    saved = [e.checkpoint_saved.iteration for e in run.events if e.HasField("checkpoint_saved")]
    assert saved == [2, 4, 6, 8, 10, 10]  # five periodic checkpoints, then the final adapter
    on_disk = sorted(p.name for p in (tmp_path / "out" / CHECKPOINT_DIR).iterdir())
    assert on_disk == ["0000008", "0000010"]  # each a full-state checkpoint directory
    assert (tmp_path / "out" / ADAPTER_FILE).is_file()
    removals = [e.log.message for e in run.events if e.HasField("log") and e.log.message.startswith("removed")]
    assert removals == [f"removed the checkpoint of iteration {i} (keep_checkpoints=2)" for i in (2, 4, 6)]
