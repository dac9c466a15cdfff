"""The service's rules: jobs and their life cycle, methods, data sets, estimates; no gRPC, no MLX.

Transport calls in; what runs training and what stores jobs are reached through the ports this
package defines (runs.Runner, jobs.JobStore), implemented by supervisor/ and persistence/.

Two kinds of records, on purpose:
- A job (TrainingJob with its TrainingJobSpec) and its events (TrainingProgress) are the contract's
  own messages. They are stored serialized and streamed as they are, so a replayed event is the
  event that was sent, and there is no second copy of them to keep in step with the contract.
- What is computed to answer one call (JobSettings, ValidationReport, Estimate, ModelFacts, ...) is
  a frozen dataclass: richer than the wire (paths, counters, intermediate figures), cheap to build
  in the validator's per-record loops, and converted to messages in one place in transport/.
"""
