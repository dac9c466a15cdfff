import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_matches_proto_files():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "protogen.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_service_is_importable_with_validation_rules():
    from buf.validate import validate_pb2

    from droidft.v1 import job_pb2

    field = job_pb2.TrainingJobSpec.DESCRIPTOR.fields_by_name["batch_size"]
    rules = field.GetOptions().Extensions[validate_pb2.field]
    assert (rules.uint32.gte, rules.uint32.lte) == (1, 1024)
