import shutil

import buf_check


def test_contract_passes_buf_lint(tmp_path):
    result = buf_check.lint(tmp_path)
    assert result.returncode == 0, result.findings


def test_contract_has_no_breaking_change_against_last_release(tmp_path):
    against = buf_check.default_against()
    result = buf_check.breaking(tmp_path, against)
    assert result is None or result.returncode == 0, f"against {against}:\n{result.findings}"


def copy_contract(tmp_path):
    copy = tmp_path / "proto"
    shutil.copytree(buf_check.PROTO_DIR, copy)
    return copy


def test_breaking_check_reports_a_renamed_field(tmp_path):
    changed = copy_contract(tmp_path)
    job = changed / "droidft" / "v1" / "job.proto"
    job.write_text(job.read_text().replace("string display_name = 16", "string title = 16"))
    result = buf_check.compare(tmp_path, changed, buf_check.PROTO_DIR)
    assert result.returncode != 0
    assert "display_name" in result.findings


def test_lint_reports_an_undocumented_field(tmp_path):
    changed = copy_contract(tmp_path)
    job = changed / "droidft" / "v1" / "job.proto"
    job.write_text(job.read_text().replace("  // Free-form name shown in listings, at most 200 characters.\n", ""))
    result = buf_check.lint(tmp_path, changed)
    assert result.returncode != 0
    assert "display_name" in result.findings
