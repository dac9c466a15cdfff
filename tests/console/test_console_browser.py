"""The web console in a real browser (Debian's headless Chromium, driven by Playwright) against a real
server training the tiny model: pick GSPO, set its knobs, see the form refuse an out-of-range value,
generate and validate data, estimate, train and watch, reload and resume; and cancel a running job.
Screenshots go to var/test-output/console/."""

import re
import shutil
from pathlib import Path

import pytest
from fixed_device import device_profile
from playwright.sync_api import expect

from droidft_server.app import DroidftServer, ServerConfig
from droidft_server.transport.http.server import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "test-output" / "console"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TRAINING_TIMEOUT_MS = 240_000
STEP_TIMEOUT_MS = 90_000  # one call's answer on a busy machine (a data check loads the tokenizer)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "no chromium on PATH: `make setup` installs Debian's chromium package"
    assert (STATIC_DIR / "console.js").is_file(), "the console is not built: `make setup` builds it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def start_server(tmp_path, roots, **options) -> DroidftServer:
    """A real server with its HTTP port; `options` override ServerConfig's fields."""
    settings = {"state_dir": tmp_path / "state", "listen": "127.0.0.1:0", "http_listen": "127.0.0.1:0"}
    return DroidftServer(ServerConfig(**{**settings, "device_profile": device_profile, **roots, **options}))


@pytest.fixture()
def server(tmp_path, roots):
    started = start_server(tmp_path, roots)
    yield started
    started.stop(grace=0)


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    context.set_default_timeout(STEP_TIMEOUT_MS)
    opened = context.new_page()
    errors = []
    opened.on("pageerror", lambda error: errors.append(error))
    yield opened
    context.close()
    assert not errors, f"the page threw: {errors}"


def field(page, path: str):
    return page.get_by_label(path, exact=True)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def generate_and_validate(page, data: Path, sample_format: str, count: int) -> None:
    field(page, "train_data_path").fill(str(data))
    page.get_by_label("Sample format").select_option(sample_format)
    page.get_by_label("Records").fill(str(count))
    page.get_by_role("button", name="Generate sample data").click()
    page.get_by_text(f"Wrote {count} {sample_format} records").wait_for()
    page.get_by_role("button", name="Validate the training data").click()
    page.locator("#validation-verdict").wait_for()
    assert page.locator("#validation-verdict").inner_text().startswith("Valid")


def test_gspo_from_the_form_to_a_finished_job_with_its_charts(server, page, tiny_model, tmp_path):
    page.goto(f"http://127.0.0.1:{server.http_port}/?model={tiny_model}")
    # By keyboard: the method cards are one radio group (SFT, GRPO, GSPO, ...).
    page.locator("#method-sft").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.locator("#method-gspo").is_checked()
    field(page, "gspo.sparse_ratio").wait_for()
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, select')].filter(c => !c.labels.length && !c.ariaLabel).length"
    )
    assert unlabelled == 0
    generate_and_validate(page, tmp_path / "gspo.jsonl", "gspo", 16)
    assert page.locator("#issues").count() == 0  # generated data has no issue
    assert "Tokens min" in page.locator("#validation").inner_text()

    # Out of the contract's range: refused in the form, before anything is sent.
    field(page, "gspo.sparse_ratio").fill("0.95")
    error = page.locator("#field-gspo-sparse_ratio-error")
    assert "0.9" in error.inner_text()
    assert page.get_by_role("button", name="Start training").is_disabled()
    field(page, "gspo.sparse_ratio").fill("0.3")
    # The contract's message rule: sparse_ratio needs sparse_optimization.
    assert "sparse_optimization" in page.locator("#spec-errors").inner_text()
    field(page, "gspo.sparse_optimization").check()
    assert error.inner_text() == "" and page.locator("#spec-errors").inner_text() == ""
    # A list of rewards: a name the contract's pattern refuses is shown at its field.
    field(page, "gspo.rollout.rewards").fill("Exact Answer")
    assert "rewards[0].name" in page.locator("#field-gspo-rollout-rewards-error").inner_text()
    field(page, "gspo.rollout.rewards").fill("exact_answer, length_efficiency:0.5")
    assert page.locator("#field-gspo-rollout-rewards-error").inner_text() == ""

    settings = {
        "iterations": "4",
        "batch_size": "2",
        "max_seq_length": "512",
        "report_every": "1",
        "checkpoint_every": "2",
        "gspo.rollout.group_size": "2",
        "gspo.rollout.max_completion_length": "4",
        "gspo.beta": "0.04",  # a KL penalty, so KL is reported and charted
        "display_name": "console GSPO",
    }
    for path, value in settings.items():
        field(page, path).fill(value)

    page.get_by_role("button", name="Estimate memory and time").click()
    summary = page.locator("#estimate-summary")
    summary.wait_for()
    assert "Peak memory" in summary.inner_text() and page.locator("#estimate-fits").inner_text() == "yes"

    page.get_by_role("button", name="Start training").click()
    state = page.locator("#job-state")
    state.filter(has_text="succeeded").wait_for(timeout=TRAINING_TIMEOUT_MS)
    loss = page.locator('polyline[data-series="training loss"]')
    loss.wait_for(state="attached")
    assert page.locator("#charts figure").count() >= 3  # loss, learning rate and the GRPO-family figures
    for figure in ("reward_mean", "kl", "clip_fraction"):
        assert page.locator(f'polyline[data-series="{figure}"]').count() == 1
    assert "final adapter" in page.locator("#checkpoints").inner_text()
    assert "length_efficiency x0.5" in page.locator("#job-log").inner_text()  # the rewards typed in the form
    page.locator("#jobs tr", has_text="console GSPO").filter(has_text="succeeded").wait_for()
    screenshot(page, "gspo-page.png")
    page.locator("#job-section").screenshot(path=str(SCREENSHOTS / "job-view.png"))

    # A reload shows what it showed and resumes the stream after the last sequence it had.
    shown = page.locator("#job-sequence").inner_text()
    page.reload()
    state.filter(has_text="succeeded").wait_for()
    assert page.locator("#job-sequence").inner_text() == shown
    assert loss.count() == 1
    second = page.context.new_page()  # a second tab of the job shows it too
    second.goto(page.url)
    second.locator("#job-state", has_text="succeeded").wait_for()
    assert second.locator("#job-sequence").inner_text() == shown


def test_a_running_job_is_paused_resumed_and_cancelled_from_its_view(server, page, tiny_model, tmp_path):
    page.goto(f"http://127.0.0.1:{server.http_port}/?model={tiny_model}&method=sft")
    generate_and_validate(page, tmp_path / "chat.jsonl", "chat_messages", 32)
    settings = {"iterations": "100000", "batch_size": "2", "max_seq_length": "512", "report_every": "1"}
    settings |= {"learning_rate": "0.0001", "display_name": "console SFT"}
    for path, value in settings.items():
        field(page, path).fill(value)
    page.get_by_role("button", name="Start training").click()
    state = page.locator("#job-state")
    state.filter(has_text="running").wait_for(timeout=TRAINING_TIMEOUT_MS)
    # Live: the loss chart grows while the job runs (a point a report).
    at_least_eight = re.compile(r"^([89]|[1-9][0-9]+)$")
    expect(page.locator("#charts svg").first).to_have_attribute(
        "data-points", at_least_eight, timeout=TRAINING_TIMEOUT_MS
    )
    page.get_by_role("button", name="Pause").click()
    state.filter(has_text="paused").wait_for(timeout=TRAINING_TIMEOUT_MS)
    page.get_by_role("button", name="Resume").click()
    state.filter(has_text="running").wait_for(timeout=TRAINING_TIMEOUT_MS)
    page.get_by_role("button", name="Cancel").click()
    state.filter(has_text="cancelled").wait_for(timeout=TRAINING_TIMEOUT_MS)
    log = page.locator("#job-log").inner_text()
    assert "paused" in log and "cancelled" in log
    assert page.get_by_role("button", name="Resume").is_enabled()
    assert "resumable" in page.locator("#checkpoints").inner_text()
    screenshot(page, "cancelled-page.png")
    # A phone's width: everything wraps into one column, nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "narrow.png")
    page.set_viewport_size({"width": 1500, "height": 900})
    page.locator("#job-section").screenshot(path=str(SCREENSHOTS / "cancelled-job-view.png"))


def test_a_suggested_change_is_one_click_away(tmp_path, roots, page, tiny_model):
    small = start_server(tmp_path, roots, device_profile=lambda: device_profile(available_memory_bytes=4 * 2**20))
    try:
        page.goto(f"http://127.0.0.1:{small.http_port}/?model={tiny_model}&method=sft")
        generate_and_validate(page, tmp_path / "chat.jsonl", "chat_messages", 16)
        field(page, "batch_size").fill("8")
        page.get_by_role("button", name="Estimate memory and time").click()
        fits = page.locator("#estimate-fits")
        fits.filter(has_text="no").wait_for()
        # A change outside the contract's range is listed without a button.
        assert "not applicable here" in page.locator("#estimate-result").inner_text()
        apply = page.get_by_role("button", name=re.compile(r"^Apply batch_size="))
        value = apply.inner_text().rpartition("=")[2]
        predicted = page.locator("li", has=apply).inner_text().split("→ ")[1].split(",")[0]
        apply.click()
        # Estimated again with the change: the peak it predicted.
        page.locator("#estimate-summary", has_text=f"{predicted} of").wait_for()
        assert field(page, "batch_size").input_value() == value
        fitting = page.locator("li", has=page.get_by_role("button")).filter(has_text=re.compile(r", fits$"))
        fitting.get_by_role("button").first.click()
        fits.filter(has_text="yes").wait_for()
        screenshot(page, "advice.png")
    finally:
        small.stop(grace=0)


def test_a_server_with_tokens_asks_the_page_for_one(tmp_path, roots, page):
    token_file = tmp_path / "tokens"
    token_file.write_text("alice:secret-of-alice\n")
    guarded = start_server(tmp_path, roots, auth_token_file=token_file)
    try:
        page.goto(f"http://127.0.0.1:{guarded.http_port}/")
        page.locator("#status", has_text="AUTHENTICATION_REQUIRED").wait_for()
        page.get_by_label("Bearer token").fill("secret-of-alice")
        page.get_by_role("button", name="Use token").click()
        page.locator("#method-gspo").wait_for(state="attached")
        assert page.locator("#status").inner_text() == ""
    finally:
        guarded.stop(grace=0)
