"""A data-set check's file reports as the contract's messages (ValidateDataset answers them, a job keeps its own)."""

from __future__ import annotations

from droidft.v1 import data_pb2

from . import datasets


def token_statistics_to_proto(stats: datasets.TokenStatistics) -> data_pb2.TokenStatistics:
    return data_pb2.TokenStatistics(
        min=stats.min,
        mean=stats.mean,
        p95=stats.p95,
        max=stats.max,
        over_max_seq_length=stats.over_max_seq_length,
    )


def file_report_to_proto(report: datasets.FileReport) -> data_pb2.DatasetFileReport:
    message = data_pb2.DatasetFileReport(
        path=report.path,
        split=report.split,
        format=report.format,
        record_count=report.record_count,
        error_count=report.error_count,
        warning_count=report.warning_count,
        field_presence=report.field_presence,
    )
    if report.token_statistics is not None:
        message.token_statistics.CopyFrom(token_statistics_to_proto(report.token_statistics))
        message.token_statistics_sampled = report.token_statistics.sampled
        message.token_records_counted = report.token_statistics.records_counted
    return message
