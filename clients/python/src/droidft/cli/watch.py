"""`droidft watch JOB`: live progress of a job until it ends; the exit code tells how it ended."""

from __future__ import annotations

import argparse
from collections import deque

from droidft.cli.job_view import EXIT_CODE_OF_STATE
from droidft.cli.progress_view import SPARKLINE_WIDTH, event_line, progress_bar
from droidft.cli.session import Session
from droidft.enums import job_state_name
from droidft.progress_stream import is_terminal_event

CLEAR_LINE = "\r\x1b[K"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="follow a job's progress until it ends",
        description="Follow a job's progress until it ends. Exit code: 0 succeeded, 1 failed, 2 cancelled, 3 paused "
        "(`droidft jobs resume JOB` goes on; watch it again).",
    )
    parser.add_argument("job_id", metavar="JOB")
    parser.add_argument("--after", type=int, default=0, metavar="N", help="only events after sequence number N")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, session: Session) -> int:
    return watch_job(session, args.job_id, after_sequence=args.after)


def watch_job(session: Session, job_id: str, after_sequence: int = 0) -> int:
    """Show the job's events until its end; returns the exit code of its final state."""
    show = _TerminalDisplay(session) if session.interactive else _PlainDisplay(session)
    final_state = None
    try:
        for event in session.client.stream_progress(job_id, after_sequence):
            show(event)
            if is_terminal_event(event):
                final_state = event.state_change.state
    finally:  # an error message or the shell prompt must not land on the progress bar's line
        show.finish()
    if final_state is None:  # the terminal event came before after_sequence
        final_state = session.client.get_training_job(job_id).state
        session.print(f"job {job_id} {job_state_name(final_state)}")
    return EXIT_CODE_OF_STATE[final_state]


class _PlainDisplay:
    """One line per event, for pipes and log files."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def __call__(self, event) -> None:
        self._session.print(event_line(event))

    def finish(self) -> None:
        pass


class _TerminalDisplay:
    """A progress bar with a loss sparkline, redrawn in place, with the other events printed above it."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._bar = ""
        # Only the most recent losses are drawn, so only those are kept, however long the job runs.
        self._losses: deque[float] = deque(maxlen=SPARKLINE_WIDTH)

    def __call__(self, event) -> None:
        out = self._session.out
        if event.WhichOneof("event") == "train_report":
            report = event.train_report
            self._losses.append(report.loss)
            self._bar = progress_bar(report, max_width=self._session.width - 1, loss_history=self._losses)
        else:
            out.write(CLEAR_LINE + event_line(event) + "\n")
        out.write(CLEAR_LINE + self._bar)
        out.flush()

    def finish(self) -> None:
        if self._bar:
            self._session.out.write("\n")
            self._session.out.flush()
