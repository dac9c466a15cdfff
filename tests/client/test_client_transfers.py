"""Uploads and downloads that lose their connection go on from where they stopped, in both clients."""

import asyncio
import hashlib

import pytest
from fake_training_service import NO_WAIT

from droidft import AsyncClient
from droidft.errors import UnavailableError

CONTENT = bytes(range(256)) * 40


def test_a_download_cut_off_twice_goes_on_from_its_partial_file(fake, client, tmp_path):
    fake.service.artifact = CONTENT
    fake.service.transfer_drops = 2
    written = client.download("job-1", "adapters.safetensors", tmp_path / "a.safetensors")
    assert written.read_bytes() == CONTENT and not (tmp_path / "a.safetensors.partial").exists()
    offsets = [request.offset for request in fake.service.requests_of("DownloadArtifact")]
    assert offsets == [0, len(CONTENT) // 2, len(CONTENT) // 2 + len(CONTENT) // 4]


def test_a_download_gives_up_after_the_policy_s_attempts_and_keeps_its_partial_file(fake, client, tmp_path):
    fake.service.artifact = b""
    fake.service.transfer_drops = 10
    with pytest.raises(UnavailableError):
        client.download("job-1", "worker.log", tmp_path / "worker.log")
    assert len(fake.service.requests_of("DownloadArtifact")) == NO_WAIT.max_attempts


def test_an_upload_cut_off_goes_on_from_what_the_server_holds(fake, client, tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_bytes(CONTENT)
    fake.service.transfer_drops = 1
    uploaded = client.upload_file(path)
    assert uploaded.sha256 == hashlib.sha256(CONTENT).hexdigest()
    starts = [m.start for m in fake.service.requests_of("UploadFile") if m.HasField("start")]
    assert [start.offset for start in starts] == [0, len(CONTENT) // 2]


def test_the_async_client_goes_on_the_same_way(fake, tmp_path):
    fake.service.artifact = CONTENT
    fake.service.transfer_drops = 2
    path = tmp_path / "a.jsonl"
    path.write_bytes(CONTENT)

    async def run():
        async with AsyncClient(fake.address, timeout=10, retry_policy=NO_WAIT) as client:
            written = await client.download("job-1", "adapters.safetensors", tmp_path / "a.safetensors")
            uploaded = await client.upload_file(path)
            return written, uploaded

    written, uploaded = asyncio.run(run())
    assert written.read_bytes() == CONTENT
    assert uploaded.sha256 == hashlib.sha256(CONTENT).hexdigest()
