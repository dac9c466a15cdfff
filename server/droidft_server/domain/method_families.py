"""The methods by family, named as the spec's oneof fields; no proto or MLX here, so every domain module can use it."""

POLICY_METHODS = ("grpo", "gspo", "dr_grpo")  # sample completions, score them, optimise a clipped policy ratio
PREFERENCE_METHODS = ("dpo", "orpo", "cpo")  # learn from chosen / rejected pairs
METHODS = ("sft", *POLICY_METHODS, *PREFERENCE_METHODS)
