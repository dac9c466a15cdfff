"""A fixed device profile, so service tests need not calibrate the machine."""


def device_profile(available_memory_bytes: int = 16 * 2**30):
    from droidft_server.domain.estimation import DeviceProfile

    return DeviceProfile(
        name="cpu (test)",
        available_memory_bytes=available_memory_bytes,
        matmul_flops_per_second=5e10,
        half_matmul_flops_per_second=5e10,
        quantized_matmul_flops_per_second=1e9,
        quantized_backward_flops_per_second=1e9,
        memory_bytes_per_second=1e10,
        seconds_per_op=1e-5,
    )
