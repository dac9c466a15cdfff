"""The estimator's fitted constants, one set per MLX backend.

How many arrays MLX keeps alive at the peak of a training step (activation copies) and how many
kernels it runs (kernel counts) depend on the backend that runs the step, not on the model: the
calibration measures the device's speed, and these say how much of it a step uses.

- The CPU's were fitted on this project's CPU machines (memory.py and timing.py say on what). Apple's
  Metal backend uses them too: it has never been measured here.
- CUDA's were fitted on an NVIDIA H200 with mlx-cuda-13 0.32.4 (`python -m bench.estimation_measure
  --sweep`; the raw rows are bench/measured/h200-cuda-*.jsonl and the table is in bench/README.md).
  Least squares over 13 SFT configurations, in four factors over the CPU's copies: each block's and
  the attention's terms x1.225, the residual stream's x8.09, the logits' x0.367, the per-token
  remainder x0.918 (largest error 13.2 % with the copies as rounded below; the CPU's copies predicted
  32-54 % too little on 12 of the 13). The GRPO family's rows were held out: within 24 %, the
  ~100M-parameter row within 2 %. Kernel counts: the
  smallest largest time error over every measured row with no count below zero; the rest keep the
  CPU's. The matmul efficiency is the CPU's: no measured row was bound by its matmuls.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .device import DeviceProfile


@dataclass(frozen=True)
class ActivationCopies:
    """Per token: arrays alive at the peak, in units of the named size."""

    # Per block the gradient flows through:
    intermediate: float = 5.05  # MLP width, model dtype: gate, up, activation, product, down input
    attention_probabilities: float = 1.00  # heads x sequence length, model dtype
    lora_rank: float = 1.05  # rank per adapted projection, float32: x @ A
    lora_output: float = 1.18  # output features of every adapted projection, float32: (x @ A) @ B
    dora_output: float = 0.35  # DoRA: the extra normalised output, float32
    full_block: float = 4.02  # full fine-tuning: hidden + MLP width, model dtype (inputs of weight gradients)
    full_attention: float = 0.42  # full fine-tuning: heads x sequence length, model dtype
    # Once per token:
    hidden: float = 14.33  # hidden size, model dtype: residual stream, norms, final norm
    logits: float = 3.94  # vocabulary, model dtype: logits, softmax, their gradient
    attention_backward: float = 2.22  # heads x sequence length: one block's score gradients
    framework_bytes: float = 1838.0  # measured per-token remainder (indices, masks, allocator slack)

    def scaled(self, activations: float, logits: float) -> ActivationCopies:
        """These copies with the vocabulary term scaled by `logits` and every other term by `activations`."""
        factors = {f.name: activations for f in fields(self)} | {"logits": logits}
        return ActivationCopies(**{name: getattr(self, name) * factor for name, factor in factors.items()})


@dataclass(frozen=True)
class KernelCounts:
    """Kernels MLX evaluates, in units of the calibrated small-kernel time; the CPU's decoding terms were
    fitted to 10 measured GRPO iterations (they include Python's per-token dispatch)."""

    per_block_step: float = 120.0  # forward + backward of one block in a gradient step
    per_step: float = 60.0  # embedding, final norm, head, loss, optimizer
    per_block_forward: float = 25.0  # forward-only (scoring, one decoding step)
    per_decode_step: float = 30.0  # sampling, cache bookkeeping of one generated token
    per_block_decode: float = 235.0  # eager decoding's extra dispatch per block and token (LoRA branches, cache)


@dataclass(frozen=True)
class BackendFit:
    copies: ActivationCopies  # mlx-lm's compiled step (SFT, the preference methods)
    policy_copies: ActivationCopies  # the GRPO family's step
    kernels: KernelCounts
    # Training-step matmuls are small and often transposed: they reach this fraction of the rate the
    # calibration measures on square products.
    matmul_efficiency: float


_CPU_COPIES = ActivationCopies()
_CUDA_COPIES = ActivationCopies(
    intermediate=6.19,
    attention_probabilities=1.23,
    lora_rank=1.29,
    lora_output=1.45,
    dora_output=0.43,
    full_block=4.92,
    full_attention=0.51,
    hidden=115.9,
    logits=1.45,
    attention_backward=2.72,
    framework_bytes=1687.0,
)
# The GRPO family's gradient step runs eagerly (not compiled) and takes float32 log-softmax over the
# vocabulary: fitted on 10 rollout configurations on the CPU, it keeps fewer copies.
_POLICY_ACTIVATIONS, _POLICY_LOGITS = 0.86, 0.69

CPU = BackendFit(
    copies=_CPU_COPIES,
    policy_copies=_CPU_COPIES.scaled(_POLICY_ACTIVATIONS, _POLICY_LOGITS),
    kernels=KernelCounts(),
    matmul_efficiency=0.59,  # fitted on 13 SFT configurations
)
CUDA = BackendFit(
    copies=_CUDA_COPIES,
    policy_copies=_CUDA_COPIES.scaled(_POLICY_ACTIVATIONS, _POLICY_LOGITS),
    kernels=replace(KernelCounts(), per_block_step=208.0, per_decode_step=66.0, per_block_decode=103.0),
    matmul_efficiency=CPU.matmul_efficiency,
)
_FITS = {"cpu": CPU, "metal": CPU, "cuda": CUDA}


def fit_for(device: DeviceProfile) -> BackendFit:
    """The constants of the device's backend (the CPU's for a backend never fitted)."""
    return _FITS.get(device.backend, CPU)
