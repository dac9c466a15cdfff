"""`droidft jobs list|get|cancel|pause|resume|delete|checkpoints|metrics`."""

from __future__ import annotations

import argparse
import time

from droidft.cli import metrics_export
from droidft.cli.job_view import checkpoints_table, job_details, jobs_table
from droidft.cli.render import message_json, messages_json
from droidft.cli.session import Session
from droidft.enums import job_state_name, job_state_names

PAGE_SIZE = 100


def register(subparsers) -> None:
    parser = subparsers.add_parser("jobs", help="list, inspect, cancel, pause, resume and delete jobs")
    commands = parser.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="list jobs, newest first")
    listing.add_argument(
        "--state", action="append", default=[], choices=job_state_names(), help="only jobs in this state (repeatable)"
    )
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_jobs)

    get = commands.add_parser("get", help="show one job")
    get.add_argument("job_id", metavar="JOB")
    get.add_argument("--json", action="store_true")
    get.set_defaults(handler=get_job)

    cancel = commands.add_parser("cancel", help="stop a queued or running job (its adapter so far is kept)")
    cancel.add_argument("job_id", metavar="JOB")
    cancel.set_defaults(handler=cancel_job)
    pause = commands.add_parser("pause", help="checkpoint a running job after its iteration and free its worker")
    pause.add_argument("job_id", metavar="JOB")
    pause.set_defaults(handler=pause_job)
    resume = commands.add_parser(
        "resume", help="go on with a paused, failed or cancelled job from its last resumable checkpoint"
    )
    resume.add_argument("job_id", metavar="JOB")
    resume.add_argument("--from-iteration", type=int, help="resume from the checkpoint of this iteration instead")
    resume.set_defaults(handler=resume_job)
    delete = commands.add_parser("delete", help="delete a finished job with its adapters and checkpoints")
    delete.add_argument("job_id", metavar="JOB")
    delete.set_defaults(handler=delete_job)

    checkpoints = commands.add_parser("checkpoints", help="list a job's saved adapters")
    checkpoints.add_argument("job_id", metavar="JOB")
    checkpoints.add_argument("--json", action="store_true")
    checkpoints.set_defaults(handler=list_checkpoints)

    metrics_export.register(commands)


def list_jobs(args: argparse.Namespace, session: Session) -> int:
    jobs = list(session.client.iter_training_jobs(page_size=PAGE_SIZE, states=args.state))
    session.print(messages_json(jobs) if args.json else jobs_table(jobs, now=time.time()))
    return 0


def get_job(args: argparse.Namespace, session: Session) -> int:
    job = session.client.get_training_job(args.job_id)
    session.print(message_json(job) if args.json else job_details(job, now=time.time()))
    return 0


def cancel_job(args: argparse.Namespace, session: Session) -> int:
    job = session.client.cancel_training_job(args.job_id)
    session.print(f"Job {job.job_id}: {job_state_name(job.state)}")
    return 0


def pause_job(args: argparse.Namespace, session: Session) -> int:
    job = session.client.pause_training_job(args.job_id)
    session.print(f"Job {job.job_id}: {job_state_name(job.state)}")
    return 0


def resume_job(args: argparse.Namespace, session: Session) -> int:
    job = session.client.resume_training_job(args.job_id, args.from_iteration)
    since = f"after iteration {job.resume_iteration}" if job.resume_iteration else "from the beginning"
    session.print(f"Job {job.job_id}: {job_state_name(job.state)}, going on {since}")
    return 0


def delete_job(args: argparse.Namespace, session: Session) -> int:
    response = session.client.delete_training_job(args.job_id)
    session.print(f"Deleted job {response.job_id} ({response.bytes_freed:,} bytes of files freed on the server)")
    return 0


def list_checkpoints(args: argparse.Namespace, session: Session) -> int:
    response = session.client.list_checkpoints(args.job_id)
    session.print(message_json(response) if args.json else checkpoints_table(list(response.checkpoints)))
    return 0
